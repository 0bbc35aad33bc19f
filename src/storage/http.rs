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
