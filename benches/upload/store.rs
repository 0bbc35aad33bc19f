//! The store: the server's embedded store (s3s-fs) in a child process of its own (this executable, re-run in its
//! store role), so that its CPU time is counted apart, and the bench's S3 client to it.

use super::*;

/// Set in the store child: the folder it serves.
pub(crate) const STORE_ROLE: &str = "UPLOAD_BENCH_STORE_DIR";

/// The store child's role: serves `dir` on a free loopback port, prints its endpoint as a JSON line's `url` (as
/// the server names its own, for [`Proc::start`]), and stops when stdin closes.
pub(crate) fn run_store(dir: PathBuf) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = EmbeddedConfig {
            addr: ([127, 0, 0, 1], 0).into(),
            data_dir: dir,
            bucket: BUCKET.to_owned(),
            access_key: ACCESS_KEY.to_owned(),
            secret_key: Secret::new(SECRET_KEY),
            region: REGION.to_owned(),
            upload_keep: EMBEDDED_UPLOAD_KEEP,
            form_file_limit: 1024 * 1024,
        };
        let store = EmbeddedStore::start(&config, PageOrigins::none()).await?;
        println!(
            "{}",
            serde_json::json!({ "message": "bench store listening", "url": store.endpoint() })
        );
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        drop(store);
        Ok(())
    })
}

/// Starts the store child on `data_dir`, and a client to it with the bench's bucket created.
pub(crate) async fn start_store(data_dir: &Path) -> anyhow::Result<(Proc, Client)> {
    let mut command = Command::new(std::env::current_exe()?);
    command.env(STORE_ROLE, data_dir);
    let store = Proc::start("store", command)?;
    let s3 = bench_client(store.url()).await;
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .context("create the bench bucket")?;
    Ok((store, s3))
}

/// The bench's S3 client (the server's client settings, the bench's keys) to the store at `endpoint`, or to
/// whatever sits in front of it.
pub(crate) async fn bench_client(endpoint: &str) -> Client {
    build_client(ClientSettings {
        region: REGION.to_owned(),
        endpoint: Some(endpoint.to_owned()),
        credentials: Some(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "bench",
        )),
        timeout: Duration::from_secs(600),
    })
    .await
}
