//! Serving the store: the accept loop, and what wraps every answer.
//!
//! - A panic while handling a request becomes S3's `500 InternalError` answer, logged once; the connection and
//!   the store go on. (A panic inside a connection's task, e.g. while streaming a body, ends that connection
//!   only, and is logged when the loop collects the task.)
//! - Every answer says `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`: objects are
//!   whatever an uploader sent, and the store's origin is printed in the log with its keys, so a stored page
//!   must not run script there, nor a stored text be sniffed into a page.
//! - CORS for the server's pages wraps everything, so that even a panic's `500` reaches the page readable
//!   ([`super::cors`]).
//! - After an accept error other than a connection dropped while queued (out of file descriptors, ...) the loop
//!   pauses, as the HTTP server does, rather than spinning on the error.

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use hyper::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderMap, HeaderValue, X_CONTENT_TYPE_OPTIONS,
};
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::cors::{Cors, PageOrigins};

/// How long the loop waits after an accept error that is not about one connection.
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// What S3 answers when it fails inside.
const INTERNAL_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
    <Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>";

/// Serves `service` on `listener`, with CORS for `origins`' pages, until the task running this future is aborted. The connections are tasks of
/// a set this future owns, so aborting it ends them too: once a store is dropped, nothing it served still uses
/// its folder (work already on the blocking pool aside).
pub(super) async fn serve<S>(listener: TcpListener, service: S, origins: PageOrigins)
where
    S: Service<Request<Incoming>, Response = Response<s3s::Body>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let origins = Arc::new(origins);
    let mut connections = JoinSet::new();
    loop {
        while let Some(ended) = connections.try_join_next() {
            if ended.as_ref().is_err_and(tokio::task::JoinError::is_panic) {
                tracing::error!(
                    "embedded store: a connection's task panicked; that connection was closed"
                );
            }
        }
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(err) => {
                if let Some(pause) = pause_after(&err) {
                    tracing::error!(error = %err, "embedded store: accepting a connection failed");
                    tokio::time::sleep(pause).await;
                }
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let service = Cors {
            inner: Guarded(service.clone()),
            origins: Arc::clone(&origins),
        };
        connections.spawn(async move {
            let conn = ConnBuilder::new(TokioExecutor::new());
            if let Err(err) = conn.serve_connection(TokioIo::new(socket), service).await {
                tracing::debug!(error = %err, "embedded store: connection ended with an error");
            }
        });
    }
}

/// The pause after an accept error: none for a connection that failed while queued (nothing is wrong with the
/// listener), [`ACCEPT_PAUSE`] for anything else, which would fail again at once.
fn pause_after(err: &io::Error) -> Option<Duration> {
    match err.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset => None,
        _ => Some(ACCEPT_PAUSE),
    }
}

/// A service whose panics become `500 InternalError` answers and whose answers carry the hardening headers.
#[derive(Clone)]
pub(super) struct Guarded<S>(pub(super) S);

impl<S, B> Service<Request<B>> for Guarded<S>
where
    S: Service<Request<B>, Response = Response<s3s::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<s3s::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<B>) -> Self::Future {
        // The call itself may panic too, not only the future it returns. Unwind safety: what a panic can leave
        // half-done is the store's own state, whose mutex recovers from poisoning, and files, which every
        // operation writes aside and renames into place.
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| self.0.call(req)));
        Box::pin(async move {
            let answered = match called {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            let mut response = match answered {
                Ok(answer) => answer?,
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .copied()
                        .or_else(|| panic.downcast_ref::<String>().map(String::as_str));
                    tracing::error!(
                        panic = ?message,
                        "embedded store: handling a request panicked; answered 500 InternalError"
                    );
                    internal_error()
                }
            };
            harden(response.headers_mut());
            Ok(response)
        })
    }
}

/// The headers every answer carries: nothing stored is sniffed into a page or runs script on the store's origin.
pub(super) fn harden(headers: &mut HeaderMap) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
}

fn internal_error() -> Response<s3s::Body> {
    let mut response = Response::new(s3s::Body::from(INTERNAL_ERROR.to_owned()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::BodyExt as _;
    use hyper::service::service_fn;

    use super::*;

    type Empty = http_body_util::Empty<Bytes>;

    /// A service with a bug: it panics on `/boom`.
    fn panicking_at_boom() -> Guarded<
        impl Service<Request<Empty>, Response = Response<s3s::Body>, Error = Infallible, Future: Send>
        + Clone,
    > {
        Guarded(service_fn(|req: Request<Empty>| async move {
            assert_ne!(req.uri().path(), "/boom", "a handler bug");
            Ok::<_, Infallible>(Response::new(s3s::Body::from("fine".to_owned())))
        }))
    }

    async fn text(response: Response<s3s::Body>) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn a_panic_is_a_500_and_the_next_request_is_served() {
        let service = panicking_at_boom();

        let panicked = service
            .call(Request::get("/boom").body(Empty::new()).expect("request"))
            .await
            .expect("an answer, not an error");
        let next = service
            .call(Request::get("/next").body(Empty::new()).expect("request"))
            .await
            .expect("an answer");

        assert_eq!(panicked.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(panicked.headers()[CONTENT_TYPE], "application/xml");
        assert!(text(panicked).await.contains("<Code>InternalError</Code>"));
        assert_eq!(next.status(), StatusCode::OK);
        assert_eq!(text(next).await, "fine");
    }

    #[tokio::test]
    async fn every_answer_forbids_sniffing_and_scripts() {
        let service = panicking_at_boom();
        for path in ["/fine", "/boom"] {
            let response = service
                .call(Request::get(path).body(Empty::new()).expect("request"))
                .await
                .expect("an answer");
            assert_eq!(
                response.headers()[X_CONTENT_TYPE_OPTIONS],
                "nosniff",
                "{path}"
            );
            assert_eq!(
                response.headers()[CONTENT_SECURITY_POLICY],
                "sandbox",
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn a_panics_500_is_readable_by_the_page() {
        let origins = PageOrigins::for_server([127, 0, 0, 1].into(), 3000, &[]);
        let service = Cors {
            inner: panicking_at_boom(),
            origins: Arc::new(origins),
        };

        let answer = service
            .call(
                Request::get("/boom")
                    .header(hyper::header::ORIGIN, "http://localhost:3000")
                    .body(Empty::new())
                    .expect("request"),
            )
            .await
            .expect("an answer");

        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            answer.headers()[hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:3000"
        );
    }

    #[test]
    fn accept_errors_pause_the_loop_unless_one_connection_failed() {
        let out_of_descriptors = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(pause_after(&out_of_descriptors), Some(ACCEPT_PAUSE));
        let no_buffers = io::Error::from_raw_os_error(libc::ENOBUFS);
        assert_eq!(pause_after(&no_buffers), Some(ACCEPT_PAUSE));
        for kind in [
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionRefused,
        ] {
            assert_eq!(pause_after(&io::Error::from(kind)), None, "{kind:?}");
        }
    }
}
