//! The page, liveness and readiness probes, and the public configuration the page reads.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::error::AppError;
use crate::state::AppState;

/// This feature's paths: the page and its assets, `/health`, `/ready`, `/config`.
const ROUTES: [&str; 6] = ["/", "/app.js", "/app.css", "/health", "/ready", "/config"];
pub const PATHS: &[&str] = &ROUTES;

/// The page, the probes and the public configuration.
pub fn router(state: AppState) -> Router {
    let [
        index_path,
        js_path,
        css_path,
        health_path,
        ready_path,
        config_path,
    ] = ROUTES;
    Router::new()
        .route(index_path, get(index))
        .route(js_path, get(app_js))
        .route(css_path, get(app_css))
        .route(health_path, get(health))
        .route(ready_path, get(ready))
        .route(config_path, get(super::public_config::public_config))
        .with_state(state)
}

/// The upload page, its script and its style sheet, compiled into the binary so they are served from any
/// working directory. The script is one file joined from the parts in `static/js/`, in this order: the
/// prologue opens the function that wraps them all and the epilogue closes it (see `static/js/prologue.js`).
/// The style sheet is one file joined likewise from the parts in `static/css/`, in the cascade's order (see
/// `static/css/base.css`).
const INDEX_HTML: &str = include_str!("../../static/index.html");
const APP_JS: &str = concat!(
    include_str!("../../static/js/prologue.js"),
    include_str!("../../static/js/page.js"),
    include_str!("../../static/js/errors.js"),
    include_str!("../../static/js/config.js"),
    include_str!("../../static/js/cards.js"),
    include_str!("../../static/js/queue.js"),
    include_str!("../../static/js/upload.js"),
    include_str!("../../static/js/tus.js"),
    include_str!("../../static/js/direct.js"),
    include_str!("../../static/js/result.js"),
    include_str!("../../static/js/input.js"),
    include_str!("../../static/js/url-test.js"),
    include_str!("../../static/js/epilogue.js"),
);
const APP_CSS: &str = concat!(
    include_str!("../../static/css/base.css"),
    include_str!("../../static/css/layout.css"),
    include_str!("../../static/css/dropzone.css"),
    include_str!("../../static/css/controls.css"),
    include_str!("../../static/css/cards.css"),
    include_str!("../../static/css/results.css"),
    include_str!("../../static/css/url-test.css"),
    include_str!("../../static/css/media.css"),
);

/// The page's Content-Security-Policy. Scripts and styles come only from this server (no inline code, no
/// `eval`); images may come from anywhere over HTTP(S), because the page shows the `location` URLs the store
/// or a CDN hands out and any URL pasted into its image test; requests go back to this server, and to the
/// store's origin (see [`page_policy`]) for direct uploads' part `PUT`s.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob: https: http:; \
     script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The page's policy, its `connect-src` widened to the origin the `/s3` routes sign URLs for: a custom
/// endpoint's (the embedded store's, `AWS_ENDPOINT_URL`'s) scheme, host and port, or AWS's hosts.
pub fn page_policy(endpoint: Option<&str>) -> String {
    let store = endpoint.map_or_else(|| "https://*.amazonaws.com".to_owned(), origin_of);
    CONTENT_SECURITY_POLICY.replace("connect-src 'self'", &format!("connect-src 'self' {store}"))
}

/// `scheme://host[:port]` of a URL (what CSP's host sources name), dropping any path.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

/// One static asset: its body, type and validator.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: &'static LazyLock<HeaderValue>,
}

static INDEX_ETAG: LazyLock<HeaderValue> = LazyLock::new(|| etag(INDEX_HTML));
static APP_JS_ETAG: LazyLock<HeaderValue> = LazyLock::new(|| etag(APP_JS));
static APP_CSS_ETAG: LazyLock<HeaderValue> = LazyLock::new(|| etag(APP_CSS));

/// A strong validator from the asset's bytes (FNV-1a, 64 bits: enough to tell builds apart).
fn etag(body: &str) -> HeaderValue {
    let hash = body.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    HeaderValue::from_str(&format!("\"{hash:016x}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Whether `If-None-Match` names the asset's current validator (or `*`).
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let current = etag.to_str().unwrap_or_default();
    wanted
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current)
}

/// Serves an asset: revalidated on every use (`no-cache`), answered with 304 when the browser's copy is
/// current, never sniffed into another type, and never sending this page's address to other origins.
fn serve(asset: &Asset, headers: &HeaderMap, policy: HeaderValue) -> Response {
    let etag: &HeaderValue = asset.etag;
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, etag.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CONTENT_SECURITY_POLICY, policy),
    ];
    if not_modified(headers, etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.body,
    )
        .into_response()
}

/// `GET /`: the upload page.
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let asset = Asset {
        body: INDEX_HTML,
        content_type: "text/html; charset=utf-8",
        etag: &INDEX_ETAG,
    };
    let policy = HeaderValue::from_str(&page_policy(state.bucket.endpoint()))
        .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    serve(&asset, &headers, policy)
}

/// `GET /app.js`: the page's script.
pub async fn app_js(headers: HeaderMap) -> Response {
    let asset = Asset {
        body: APP_JS,
        content_type: "text/javascript; charset=utf-8",
        etag: &APP_JS_ETAG,
    };
    serve(
        &asset,
        &headers,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    )
}

/// `GET /app.css`: the page's style sheet.
pub async fn app_css(headers: HeaderMap) -> Response {
    let asset = Asset {
        body: APP_CSS,
        content_type: "text/css; charset=utf-8",
        etag: &APP_CSS_ETAG,
    };
    serve(
        &asset,
        &headers,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    )
}

/// `GET /health`: the process is alive.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /ready`: the bucket answers. 503 with the error's code when it does not.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.bucket.probe().await {
        Ok(()) => Json(json!({ "status": "ready", "bucket": state.bucket.name() })).into_response(),
        Err(err) => {
            let err = AppError::from(err);
            err.log();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "code": err.code(), "message": err.to_string() })),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_none_match(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(value).expect("header value"),
        );
        headers
    }

    /// The parts of `app.js` share one scope, where a second `function` of the same name silently replaces
    /// the first: each name declared at the top of a part is declared once.
    #[test]
    fn the_script_parts_declare_each_top_level_name_once() {
        let mut seen = std::collections::HashSet::new();
        for line in APP_JS.lines() {
            let declared = ["async function ", "function ", "const ", "let ", "class "]
                .iter()
                .find_map(|keyword| line.strip_prefix(keyword));
            let Some(rest) = declared else { continue };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                .collect();
            assert!(
                seen.insert(name.clone()),
                "`{name}` is declared twice in static/js/"
            );
        }
        assert!(
            seen.contains("sendDirect") && seen.contains("sendTus"),
            "{seen:?}"
        );
    }

    #[test]
    fn etags_differ_between_assets_and_are_quoted() {
        let (html, js, css) = (&*INDEX_ETAG, &*APP_JS_ETAG, &*APP_CSS_ETAG);
        assert_ne!(html, js);
        assert_ne!(js, css);
        let text = html.to_str().expect("ASCII");
        assert!(text.starts_with('"') && text.ends_with('"') && text.len() == 18);
    }

    fn index_asset() -> Asset {
        Asset {
            body: INDEX_HTML,
            content_type: "text/html; charset=utf-8",
            etag: &INDEX_ETAG,
        }
    }

    fn policy() -> HeaderValue {
        HeaderValue::from_static(CONTENT_SECURITY_POLICY)
    }

    #[test]
    fn the_page_may_connect_to_the_store_that_direct_uploads_put_parts_to() {
        let embedded = page_policy(Some("http://127.0.0.1:9400"));
        assert!(
            embedded.contains("connect-src 'self' http://127.0.0.1:9400;"),
            "{embedded}"
        );
        let minio = page_policy(Some("https://minio.example.com:9000/base/"));
        assert!(
            minio.contains("connect-src 'self' https://minio.example.com:9000;"),
            "{minio}"
        );
        let aws = page_policy(None);
        assert!(
            aws.contains("connect-src 'self' https://*.amazonaws.com;"),
            "{aws}"
        );
        assert!(aws.contains("script-src 'self';"), "{aws}");
    }

    #[test]
    fn if_none_match_revalidates() {
        let etag = &*APP_JS_ETAG;
        let current = etag.to_str().expect("ASCII");
        assert!(not_modified(&with_if_none_match(current), etag));
        assert!(not_modified(
            &with_if_none_match(&format!("\"x\", W/{current}")),
            etag
        ));
        assert!(not_modified(&with_if_none_match("*"), etag));
        assert!(!not_modified(&with_if_none_match("\"other\""), etag));
        assert!(!not_modified(&HeaderMap::new(), etag));
    }

    #[tokio::test]
    async fn the_page_is_served_with_its_policy_and_answers_304_when_unchanged() {
        let page = serve(&index_asset(), &HeaderMap::new(), policy());
        assert_eq!(page.status(), StatusCode::OK);
        let headers = page.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        let etag = headers[header::ETAG].to_str().expect("ASCII").to_owned();

        let again = serve(&index_asset(), &with_if_none_match(&etag), policy());
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag.as_str());

        let script = app_js(HeaderMap::new()).await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let style = app_css(HeaderMap::new()).await;
        assert_eq!(
            style.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
    }

    #[test]
    fn the_page_loads_its_script_and_style_from_files_only() {
        assert!(INDEX_HTML.contains(r#"<script src="/app.js" defer></script>"#));
        assert!(INDEX_HTML.contains(r#"<link rel="stylesheet" href="/app.css">"#));
        assert!(
            !INDEX_HTML.contains("<style"),
            "inline styles are refused by the CSP"
        );
        assert!(
            !INDEX_HTML.contains(" style="),
            "inline styles are refused by the CSP"
        );
        assert!(
            !INDEX_HTML.contains(" onclick="),
            "inline handlers are refused by the CSP"
        );
        assert_eq!(INDEX_HTML.matches("<script").count(), 1);
    }
}
