//! Which pages the store answers CORS for, and what it answers to their preflights.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue, ORIGIN, VARY, X_CONTENT_TYPE_OPTIONS,
};
use hyper::service::{Service as _, service_fn};
use hyper::{Request, Response, StatusCode};

use crate::embedded::cors::{Cors, PageOrigins, Refusal, judge, preflight};

type Empty = http_body_util::Empty<Bytes>;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn preflight_headers(origin: &str, method: &str, asked: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_str(origin).expect("origin"));
    headers.insert(
        ACCESS_CONTROL_REQUEST_METHOD,
        HeaderValue::from_str(method).expect("method"),
    );
    if let Some(asked) = asked {
        headers.insert(
            ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_str(asked).expect("headers"),
        );
    }
    headers
}

#[test]
fn a_server_on_all_interfaces_is_reached_as_localhost_and_127_0_0_1() {
    let origins = PageOrigins::for_server(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 3000, &[]);

    assert!(origins.allows("http://localhost:3000"));
    assert!(origins.allows("http://127.0.0.1:3000"));
    assert!(!origins.allows("http://0.0.0.0:3000"));
    assert!(!origins.allows("http://localhost:3001"), "another port");
    assert!(!origins.allows("https://localhost:3000"), "another scheme");
    assert!(!origins.allows("http://192.168.1.5:3000"), "a LAN address");
}

#[test]
fn page_origins_follow_the_bound_host_and_port() {
    let loopback = PageOrigins::for_server(LOCAL, 41234, &[]);
    assert!(loopback.allows("http://127.0.0.1:41234"));
    assert!(loopback.allows("http://localhost:41234"));
    assert!(!loopback.allows("http://[::1]:41234"), "not bound there");

    let v6 = PageOrigins::for_server(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 3000, &[]);
    assert!(v6.allows("http://[::1]:3000"));
    assert!(v6.allows("http://localhost:3000"));

    let lan = PageOrigins::for_server(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)), 3000, &[]);
    assert!(lan.allows("http://10.0.0.7:3000"));
    assert!(!lan.allows("http://localhost:3000"));

    let port_80 = PageOrigins::for_server(LOCAL, 80, &[]);
    assert!(
        port_80.allows("http://localhost"),
        "browsers omit the default port"
    );
    assert!(port_80.allows("http://localhost:80"));
}

#[test]
fn cors_allowed_origins_are_pages_too_and_star_allows_any() {
    let listed = PageOrigins::for_server(LOCAL, 3000, &["https://App.example.com/".to_owned()]);
    assert!(listed.allows("https://app.example.com"));
    assert!(!listed.allows("https://evil.example.com"));

    let any = PageOrigins::for_server(LOCAL, 3000, &["*".to_owned()]);
    assert!(any.allows("https://evil.example.com"));
    assert!(!PageOrigins::none().allows("http://localhost:3000"));
}

#[test]
fn a_preflight_from_a_page_is_allowed_with_the_headers_it_asks_for() {
    let origins = PageOrigins::for_server(LOCAL, 3000, &[]);
    let headers = preflight_headers(
        "http://localhost:3000",
        "PUT",
        Some("Content-Type, x-amz-checksum-crc32"),
    );

    let answer = preflight(&origins, &headers);

    assert_eq!(answer.status(), StatusCode::OK);
    let out = answer.headers();
    assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:3000");
    assert_eq!(out[ACCESS_CONTROL_ALLOW_METHODS], "GET, HEAD, PUT, POST");
    assert_eq!(
        out[ACCESS_CONTROL_ALLOW_HEADERS],
        "content-type, x-amz-checksum-crc32"
    );
    assert_eq!(out[ACCESS_CONTROL_EXPOSE_HEADERS], "ETag, x-amz-version-id");
    assert_eq!(out[ACCESS_CONTROL_MAX_AGE], "600");
    assert!(out[VARY].to_str().expect("ASCII").starts_with("Origin"));
    assert_eq!(out[X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[test]
fn preflights_that_are_not_allowed_are_refused_with_no_allow_headers() {
    let origins = PageOrigins::for_server(LOCAL, 3000, &[]);
    let page = "http://localhost:3000";
    let cases = [
        (
            preflight_headers("http://evil.example", "PUT", None),
            Refusal::Origin,
        ),
        (preflight_headers(page, "DELETE", None), Refusal::Method),
        (
            preflight_headers(page, "PUT", Some("content-type, x-evil")),
            Refusal::Header,
        ),
        (HeaderMap::new(), Refusal::NotAPreflight),
    ];
    for (headers, refusal) in cases {
        assert_eq!(
            judge(&origins, &headers).err(),
            Some(refusal),
            "{headers:?}"
        );
        let answer = preflight(&origins, &headers);
        assert!(answer.status().is_client_error(), "{headers:?}");
        assert!(
            !answer.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN),
            "{headers:?}"
        );
        assert!(
            !answer.headers().contains_key(ACCESS_CONTROL_ALLOW_METHODS),
            "{headers:?}"
        );
    }
}

/// A store that answers `403` to everything, as s3s does to an unsigned write.
fn refusing_store() -> Cors<
    impl hyper::service::Service<
        Request<Empty>,
        Response = Response<s3s::Body>,
        Error = Infallible,
        Future: Send,
    >,
> {
    Cors {
        inner: service_fn(|_req: Request<Empty>| async {
            let mut answer = Response::new(s3s::Body::from(Bytes::from_static(b"<Error/>")));
            *answer.status_mut() = StatusCode::FORBIDDEN;
            Ok::<_, Infallible>(answer)
        }),
        origins: Arc::new(PageOrigins::for_server(LOCAL, 3000, &[])),
    }
}

#[tokio::test]
async fn answers_to_a_page_are_readable_by_it_errors_included() {
    let store = refusing_store();

    let from_page = Request::put("/uploads/a")
        .header(ORIGIN, "http://127.0.0.1:3000")
        .body(Empty::new())
        .expect("request");
    let answer = store.call(from_page).await.expect("an answer");

    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "CORS never signs");
    assert_eq!(
        answer.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:3000"
    );
    assert_eq!(
        answer.headers()[ACCESS_CONTROL_EXPOSE_HEADERS],
        "ETag, x-amz-version-id"
    );
    assert_eq!(answer.headers()[VARY], "Origin");
}

#[tokio::test]
async fn answers_to_other_origins_carry_no_cors_headers() {
    let store = refusing_store();

    let from_elsewhere = Request::put("/uploads/a")
        .header(ORIGIN, "http://evil.example")
        .body(Empty::new())
        .expect("request");
    let answer = store.call(from_elsewhere).await.expect("an answer");

    assert!(!answer.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    assert!(!answer.headers().contains_key(ACCESS_CONTROL_EXPOSE_HEADERS));
    assert_eq!(answer.headers()[VARY], "Origin");
}
