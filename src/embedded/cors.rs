//! CORS for the pages that upload straight to the store (issue 13's direct uploads): the browser PUTs parts to
//! presigned URLs and POSTs forms to the bucket URL, from the server's page, whose origin is not the store's.
//!
//! - Every `OPTIONS` is answered here, never by s3s (which would refuse it unsigned): `200` with the allow
//!   headers when the origin, the method and every asked-for header are allowed; otherwise `403` (`400` for an
//!   `OPTIONS` that is no preflight) with no allow headers, as S3 answers.
//! - Every other answer to an allowed origin, errors and the `500` of a panic included, says
//!   `Access-Control-Allow-Origin` and exposes `ETag` (which the page sends back to complete the upload), so that
//!   a page can read why a request was refused.
//! - CORS lets a page read answers; it never replaces the signature: every write still needs one, and only the
//!   server hands them out.

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, ORIGIN, VARY,
};
use hyper::service::Service;
use hyper::{Method, Request, Response, StatusCode};

/// The methods a page may use: reads, part PUTs and form POSTs.
const ALLOWED_METHODS: &str = "GET, HEAD, PUT, POST";

/// Headers a page may send besides `x-amz-*` (presigned PUTs and form POSTs need no more).
const ALLOWED_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "content-md5",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
    "accept",
];

/// The answer headers a page may read: the part's ETag, which completes the upload.
const EXPOSED_HEADERS: &str = "ETag, x-amz-version-id";

/// How long a browser may reuse a preflight's answer, in seconds (as the server's own CORS).
const MAX_AGE_SECS: &str = "600";

/// Chrome's Private Network Access: a page on a LAN address asks before it reaches loopback.
const REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
const ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");

/// The origins whose pages may call the store from a browser.
///
/// The server's own page origins are exact, computed from the port the server actually bound (`PORT=0` included:
/// the server binds before it starts the store), rather than every loopback origin on any port. The store only
/// listens on loopback and every write needs a signature only the server hands out, so a looser rule would
/// mostly be safe; but another local page (a dev server on another port) could then read objects and errors
/// it has no business with, and an exact list costs nothing once the port is known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageOrigins {
    /// `CORS_ALLOWED_ORIGINS=*`: any page.
    any: bool,
    /// Lowercase, no trailing `/`.
    listed: Vec<String>,
}

impl PageOrigins {
    /// No page at all (the CLI's store serves no browser).
    pub fn none() -> Self {
        Self::default()
    }

    /// The pages of a server bound to `host:port`, and `cors_allowed_origins` (`CORS_ALLOWED_ORIGINS`, where `*`
    /// allows every origin). A server on all interfaces or on loopback is reached from this machine as
    /// `localhost` and `127.0.0.1` (and `[::1]` when bound to `::`); only a browser on this machine reaches the
    /// loopback store, so a page opened through a LAN address or a host name must be listed in
    /// `CORS_ALLOWED_ORIGINS`.
    pub fn for_server(host: IpAddr, port: u16, cors_allowed_origins: &[String]) -> Self {
        let literal = match host {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let hosts: Vec<String> = match host {
            IpAddr::V4(ip) if ip.is_unspecified() => vec!["localhost".into(), "127.0.0.1".into()],
            IpAddr::V6(ip) if ip.is_unspecified() => {
                vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()]
            }
            _ if host.is_loopback() => vec![literal, "localhost".into()],
            _ => vec![literal],
        };
        let mut listed = Vec::new();
        for host in hosts {
            listed.push(format!("http://{host}:{port}"));
            if port == 80 {
                // A browser leaves the default port out of the origin.
                listed.push(format!("http://{host}"));
            }
        }
        let mut origins = Self { any: false, listed };
        for origin in cors_allowed_origins {
            if origin == "*" {
                origins.any = true;
            } else {
                origins.listed.push(normalized(origin));
            }
        }
        origins
    }

    /// Whether a page from `origin` (an `Origin` header's value) may call the store.
    pub(super) fn allows(&self, origin: &str) -> bool {
        self.any || self.listed.iter().any(|o| *o == normalized(origin))
    }
}

fn normalized(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Answers preflights and adds the CORS headers to the answers of `S` (see the module's doc).
#[derive(Clone)]
pub(super) struct Cors<S> {
    pub(super) inner: S,
    pub(super) origins: Arc<PageOrigins>,
}

impl<S, B> Service<Request<B>> for Cors<S>
where
    S: Service<Request<B>, Response = Response<s3s::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<s3s::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<B>) -> Self::Future {
        if req.method() == Method::OPTIONS {
            let answer = preflight(&self.origins, req.headers());
            return Box::pin(std::future::ready(Ok(answer)));
        }
        let origin = req
            .headers()
            .get(ORIGIN)
            .filter(|o| o.to_str().is_ok_and(|o| self.origins.allows(o)))
            .cloned();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let mut response = answer.await?;
            let headers = response.headers_mut();
            // Even without an `Origin`: a browser must not reuse a cached answer for a page it was not meant for.
            headers.append(VARY, HeaderValue::from_static("Origin"));
            if let Some(origin) = origin {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.insert(
                    ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSED_HEADERS),
                );
            }
            Ok(response)
        })
    }
}

/// Why a preflight is refused; each answers an S3-style XML error with no allow headers.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `400`: no `Origin` or no `Access-Control-Request-Method`.
    NotAPreflight,
    /// `403`: the origin is not one of the pages.
    Origin,
    /// `403`: a method other than [`ALLOWED_METHODS`].
    Method,
    /// `403`: a header other than [`ALLOWED_HEADERS`] and `x-amz-*`.
    Header,
}

/// The answer to an `OPTIONS` request.
pub(super) fn preflight(origins: &PageOrigins, headers: &HeaderMap) -> Response<s3s::Body> {
    let vary = HeaderValue::from_static(
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    );
    let mut response = match judge(origins, headers) {
        Ok(allowed) => {
            let mut response = Response::new(s3s::Body::empty());
            let out = response.headers_mut();
            out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed.origin);
            out.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            if let Some(asked) = allowed.headers {
                out.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked);
            }
            out.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
            out.insert(
                ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE_SECS),
            );
            if allowed.private_network {
                out.insert(ALLOW_PRIVATE_NETWORK, HeaderValue::from_static("true"));
            }
            response
        }
        Err(refusal) => refused(&refusal),
    };
    response.headers_mut().insert(VARY, vary);
    super::serve::harden(response.headers_mut());
    response
}

/// What an allowed preflight answers.
pub(super) struct Allowed {
    pub(super) origin: HeaderValue,
    /// The asked-for headers, all allowed (`None` when none were asked for).
    pub(super) headers: Option<HeaderValue>,
    pub(super) private_network: bool,
}

pub(super) fn judge(origins: &PageOrigins, headers: &HeaderMap) -> Result<Allowed, Refusal> {
    let (Some(origin), Some(method)) = (
        headers.get(ORIGIN),
        headers.get(ACCESS_CONTROL_REQUEST_METHOD),
    ) else {
        return Err(Refusal::NotAPreflight);
    };
    if !origin.to_str().is_ok_and(|o| origins.allows(o)) {
        return Err(Refusal::Origin);
    }
    let method = method.to_str().map_err(|_| Refusal::Method)?;
    if !ALLOWED_METHODS.split(", ").any(|m| m == method) {
        return Err(Refusal::Method);
    }
    let mut asked = Vec::new();
    for value in headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
        let value = value.to_str().map_err(|_| Refusal::Header)?;
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let name = name.to_ascii_lowercase();
            if !(name.starts_with("x-amz-") || ALLOWED_HEADERS.contains(&name.as_str())) {
                return Err(Refusal::Header);
            }
            asked.push(name);
        }
    }
    let headers_answer = if asked.is_empty() {
        None
    } else {
        Some(HeaderValue::from_str(&asked.join(", ")).map_err(|_| Refusal::Header)?)
    };
    Ok(Allowed {
        origin: origin.clone(),
        headers: headers_answer,
        private_network: headers
            .get(REQUEST_PRIVATE_NETWORK)
            .is_some_and(|v| v == "true"),
    })
}

fn refused(refusal: &Refusal) -> Response<s3s::Body> {
    let (status, code, message) = match refusal {
        Refusal::NotAPreflight => (
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information: a CORS preflight needs Origin and Access-Control-Request-Method.",
        ),
        Refusal::Origin => (
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: this origin is not one of the server's pages (see CORS_ALLOWED_ORIGINS).",
        ),
        Refusal::Method => (
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: pages may only GET, HEAD, PUT and POST.",
        ),
        Refusal::Header => (
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: a requested header is not allowed (only Content-Type, Content-MD5, \
             Authorization, x-amz-* and a few other content headers are).",
        ),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut response = Response::new(s3s::Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}
