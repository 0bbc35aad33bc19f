//! A fault-injecting HTTP proxy between the server and its store, on loopback.
//!
//! It forwards every request unchanged (the Host header too, so signatures still verify) unless the current
//! rule says otherwise: answer with an S3 error, delay, or refuse. Tests switch rules while requests run.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What to do with one request.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// Answer with this status and S3 error code (after reading the request body).
    Error(StatusCode, &'static str),
    /// Wait, then forward.
    Delay(Duration),
    /// Answer 200 with an ETag without forwarding: a store that ignores a request's conditions and says it wrote.
    Written,
}

type Rule = Arc<dyn Fn(&Request<Incoming>) -> Option<Fault> + Send + Sync>;

pub(crate) struct FaultProxy {
    pub(crate) endpoint: String,
    rule: Arc<Mutex<Option<Rule>>>,
    faults: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. `http://127.0.0.1:9400`) on `addr` (port 0 for any).
    pub(crate) async fn start(upstream: &str, addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let rule: Arc<Mutex<Option<Rule>>> = Arc::default();
        let faults = Arc::new(AtomicUsize::new(0));
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let (task_rule, task_faults) = (Arc::clone(&rule), Arc::clone(&faults));
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let (client, upstream) = (client.clone(), Arc::clone(&upstream));
                let (rule, faults) = (Arc::clone(&task_rule), Arc::clone(&task_faults));
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (client, upstream) = (client.clone(), Arc::clone(&upstream));
                        let rule = rule.lock().unwrap_or_else(PoisonError::into_inner).clone();
                        let fault = rule.and_then(|rule| rule(&request));
                        let faults = Arc::clone(&faults);
                        async move {
                            Ok::<_, Infallible>(
                                handle(request, fault, &faults, &client, &upstream).await,
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self {
            endpoint,
            rule,
            faults,
            task,
        }
    }

    /// Replaces the rule; `None` forwards everything.
    pub(crate) fn set_rule(
        &self,
        rule: impl Fn(&Request<Incoming>) -> Option<Fault> + Send + Sync + 'static,
    ) {
        *self.rule.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(rule));
    }

    /// How many requests a fault was injected into.
    pub(crate) fn faults(&self) -> usize {
        self.faults.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    request: Request<Incoming>,
    fault: Option<Fault>,
    faults: &AtomicUsize,
    client: &Client<HttpConnector, Incoming>,
    upstream: &str,
) -> Response<BoxBody<Bytes, hyper::Error>> {
    match fault {
        Some(Fault::Error(status, code)) => {
            faults.fetch_add(1, Ordering::SeqCst);
            // Read the body first, as a real store does, so the client sees an answer and not a reset.
            let _ = request.into_body().collect().await;
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>"
            );
            let mut response = Response::new(
                Full::new(Bytes::from(xml))
                    .map_err(|never| match never {})
                    .boxed(),
            );
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert("content-type", "application/xml".parse().expect("header"));
            return response;
        }
        Some(Fault::Written) => {
            faults.fetch_add(1, Ordering::SeqCst);
            let _ = request.into_body().collect().await;
            let mut response = Response::new(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            );
            response.headers_mut().insert(
                "etag",
                "\"0123456789abcdef0123456789abcdef\""
                    .parse()
                    .expect("header"),
            );
            return response;
        }
        Some(Fault::Delay(delay)) => {
            faults.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
        }
        None => {}
    }
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{upstream}{path}").parse().expect("upstream URI");
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(_) => {
            let mut response = Response::new(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            );
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    }
}

/// True for UploadPart requests with this part number.
pub(crate) fn is_upload_part(request: &Request<Incoming>, number: u32) -> bool {
    let query = request.uri().query().unwrap_or_default();
    request.method() == hyper::Method::PUT
        && query.contains("uploadId=")
        && query
            .split('&')
            .any(|p| p == format!("partNumber={number}"))
}

/// True for a PutObject (a PUT that is not a part).
pub(crate) fn is_put_object(request: &Request<Incoming>) -> bool {
    request.method() == hyper::Method::PUT
        && !request
            .uri()
            .query()
            .unwrap_or_default()
            .contains("uploadId=")
}

/// True for a CompleteMultipartUpload (a POST with an upload id).
pub(crate) fn is_complete_multipart(request: &Request<Incoming>) -> bool {
    request.method() == hyper::Method::POST
        && request
            .uri()
            .query()
            .unwrap_or_default()
            .contains("uploadId=")
}
