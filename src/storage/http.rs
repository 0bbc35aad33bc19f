//! The S3 client's HTTP connections, one pool per thread.
//!
//! The SDK's default HTTP client keeps one pool of connections for the whole process, and each connection is
//! driven by a task on the runtime that opened it. A request sent from one of the server's lanes (`lanes.rs`)
//! over a connection another thread opened had its body handed across threads chunk by chunk. Here every
//! thread has a client of its own, built as the SDK builds its default one (rustls with aws-lc, proxy settings
//! from the environment, the connector settings and sleep of the SDK's config), so a lane's requests go out on
//! that lane's own connections.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared as _;

thread_local! {
    /// This thread's client (and so its pool of connections), made on first use.
    static CLIENT: SharedHttpClient = default_client();
}

/// The SDK's default HTTPS client, as `aws-smithy-runtime` builds it.
fn default_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// An HTTP client whose requests go out on the calling thread's own connections.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PerThreadClient;

impl HttpClient for PerThreadClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        PerThreadConnector {
            settings: settings.clone(),
            components: components.clone(),
        }
        .into_shared()
    }
}

/// The connector of one request attempt: the calling thread's client's, with the attempt's settings.
#[derive(Debug)]
struct PerThreadConnector {
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
}

impl HttpConnector for PerThreadConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        CLIENT.with(|client| {
            client
                .http_connector(&self.settings, &self.components)
                .call(request)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use aws_sdk_s3::config::Credentials;

    use crate::storage::{ClientSettings, build_client};

    /// A store that answers 200 to everything, keeps connections open, and counts them.
    fn counting_store() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut writer = stream;
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if line == "\r\n" {
                            let answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                            if writer.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                        }
                        line.clear();
                    }
                });
            }
        });
        (url, accepted)
    }

    /// Sends `requests` HeadBuckets one after another from a thread of its own with a runtime of its own, which
    /// stays up (with its connections) until the returned sender is dropped.
    fn from_a_thread(
        client: &aws_sdk_s3::Client,
        requests: usize,
    ) -> tokio::sync::oneshot::Sender<()> {
        let client = client.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                for _ in 0..requests {
                    client
                        .head_bucket()
                        .bucket("b")
                        .send()
                        .await
                        .expect("HeadBucket");
                }
                let _ = done_tx.send(());
                // The runtime keeps running (and driving its connections) until told to stop.
                let _ = stop_rx.await;
            });
        });
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("requests sent");
        stop_tx
    }

    #[test]
    fn each_thread_keeps_its_own_connections_and_reuses_them() {
        let (url, accepted) = counting_store();
        let client = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(build_client(ClientSettings {
                region: "us-east-1".to_owned(),
                endpoint: Some(url),
                credentials: Some(Credentials::new("a", "b", None, None, "test")),
                timeout: Duration::from_secs(5),
            }));
        let _first = from_a_thread(&client, 3);
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one thread's requests reuse its connection"
        );
        // The first thread and its idle connection are still there: a shared pool would hand it out here.
        let _second = from_a_thread(&client, 2);
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "another thread opens its own"
        );
    }
}
