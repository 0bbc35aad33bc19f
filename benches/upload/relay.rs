//! The floor of any proxy: a byte relay in front of the store, and the direct PUT sent through it.
//!
//! Any server between the client and the store receives every byte from one socket and sends it on another, so
//! it pays the kernel's TCP receive and send on top of a direct PUT, and on this machine's 2 cores it takes that
//! CPU from the client and the store. The relay does only that: a child process (this executable, re-run in its
//! relay role) that accepts on loopback, connects to the store, and copies bytes both ways with 64 KiB buffers,
//! each connection one task on one thread. It parses nothing and checks nothing, and each byte passes through one
//! buffer of its own on the way (the server copies it twice more, into multer's buffer and into a part's block).
//! What a direct PUT through it reaches bounds what the server can reach in the same run.

use super::*;

/// Set in the relay child: the store's address (`host:port`) it forwards to.
pub(crate) const RELAY_ROLE: &str = "UPLOAD_BENCH_RELAY_TO";

/// The relay child's role: listens on a free loopback port, prints its URL as a JSON line's `url` (for
/// [`Proc::start`]), forwards every connection to `store`, and stops when stdin closes.
pub(crate) fn run_relay(store: String) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        println!(
            "{}",
            serde_json::json!({
                "message": "bench relay listening",
                "url": format!("http://{}", listener.local_addr()?),
            })
        );
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        });
        tokio::select! {
            _ = stdin_closed => Ok(()),
            accepted = relay_all(listener, store) => accepted,
        }
    })
}

/// Forwards every connection `listener` accepts to `store`; returns only if accepting fails.
async fn relay_all(listener: tokio::net::TcpListener, store: String) -> anyhow::Result<()> {
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(forward(client, store.clone()));
    }
}

/// Copies bytes both ways between `client` and a new connection to `store` until either side closes.
async fn forward(mut client: tokio::net::TcpStream, store: String) {
    let Ok(mut upstream) = tokio::net::TcpStream::connect(&store).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let _ =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, 64 * 1024, 64 * 1024)
            .await;
}

/// Starts the relay child in front of the store at `store_url`, and an S3 client that sends through it (the
/// bench's client settings, so the requests are byte for byte a direct PUT's but for the Host header).
pub(crate) async fn start_relay(store_url: &str) -> anyhow::Result<(Proc, Client)> {
    let address = store_url
        .strip_prefix("http://")
        .context("the store's URL is not http://")?
        .trim_end_matches('/');
    let mut command = Command::new(std::env::current_exe()?);
    command.env(RELAY_ROLE, address);
    let relay = Proc::start("relay", command)?;
    let s3 = bench_client(relay.url()).await;
    Ok((relay, s3))
}

/// What the relay reached in each scenario it ran in, beside the direct PUT and the server under test.
pub(crate) fn relay_notes(results: &[(Scenario, Vec<(Side, Measured)>)]) -> Vec<String> {
    let mut notes = Vec::new();
    for (scenario, sides) in results {
        let (Some(relay), Some(direct)) = (find(sides, Side::Relay), find(sides, Side::Direct))
        else {
            continue;
        };
        let ratio = |m: &Measured, p: f64| {
            m.percentile(p).as_secs_f64() / direct.percentile(p).as_secs_f64()
        };
        let mut note = format!(
            "{}: a direct PUT through a byte relay (the floor of any proxy) reaches {:.2}x direct PUT, \
             p50 {:.2}x, p99 {:.2}x, relay CPU {:.2} s/GiB",
            scenario.name,
            relay.mib_per_s() / direct.mib_per_s(),
            ratio(relay, 0.5),
            ratio(relay, 0.99),
            relay.per_gib(relay.server_cpu),
        );
        if let Some(server) = find(sides, Side::Server(0)) {
            let _ = write!(
                note,
                "; the server reaches {:.2}x the relay's throughput, p50 {:.2}x, p99 {:.2}x",
                server.mib_per_s() / relay.mib_per_s(),
                server.percentile(0.5).as_secs_f64() / relay.percentile(0.5).as_secs_f64(),
                server.percentile(0.99).as_secs_f64() / relay.percentile(0.99).as_secs_f64(),
            );
        }
        notes.push(note);
    }
    notes
}
