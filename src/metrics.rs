//! Prometheus metrics, served at `GET /metrics` ([`crate::routes::metrics`]) in the text exposition format 0.0.4.
//!
//! One [`Metrics`] registry lives in each application's state (never a process-wide global), so two apps in one
//! process, as in the tests, count apart. What is recorded where:
//! - error answers, by their stable code: [`record`], a middleware around every route, reads the
//!   [`ErrorCode`] that the error responses of [`crate::error`] and the router's fallbacks carry;
//! - `POST /upload` requests (outcome, duration, in flight): the same middleware;
//! - files and bytes stored: [`Metrics::files_stored`], called by the upload handler once a request succeeded
//!   (files of a failed request are deleted, so they are not counted), and by the tus routes once a resumable
//!   upload completed;
//! - resumable uploads: created ([`Metrics::resumable_created`]) and the bytes their requests kept
//!   ([`Metrics::resumable_received`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::error::{ErrorCode, all_codes};

/// The content type of the text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upload durations span a tiny file on loopback to a large one over a slow link.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// How an upload request ended, the `outcome` label of `upload_requests_total`.
const OUTCOMES: [&str; 4] = ["success", "client_error", "server_error", "disconnected"];

/// What became of an early PUT, the `outcome` label of `upload_early_puts_total`.
const EARLY_OUTCOMES: [&str; 3] = ["stored", "resent", "abandoned"];

/// The metrics of one application. Cheap to clone: every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    files: IntCounter,
    bytes: IntCounter,
    requests: IntCounterVec,
    errors: IntCounterVec,
    duration: Histogram,
    in_flight: IntGauge,
    resumable_created: IntCounter,
    resumable_bytes: IntCounter,
    early_puts: IntCounterVec,
}

impl Metrics {
    /// A registry with every metric registered, and every error code and outcome present at zero, so that
    /// dashboards and `rate()` see a series before its first event.
    pub fn new() -> Self {
        // Only a bug in the definitions below can fail (a bad name, or one name used twice); a unit test
        // builds them.
        Self::build().expect("valid metric definitions")
    }

    fn build() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let files = IntCounter::new(
            "upload_files_total",
            "Files stored by successful POST /upload requests and completed resumable uploads.",
        )?;
        let bytes = IntCounter::new(
            "upload_bytes_total",
            "Bytes of the files stored by successful POST /upload requests and completed resumable uploads.",
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "upload_requests_total",
                "POST /upload requests, by outcome: success, client_error (4xx), server_error (5xx), \
                 disconnected (the client left before the answer).",
            ),
            &["outcome"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "http_errors_total",
                "Error answers of every endpoint, by their stable code (the `error.code` of the JSON body).",
            ),
            &["code"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "upload_request_duration_seconds",
                "Time from a POST /upload request's arrival to its answer, in seconds.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
        )?;
        let in_flight = IntGauge::new(
            "upload_requests_in_flight",
            "POST /upload requests being received now.",
        )?;
        let resumable_created = IntCounter::new(
            "resumable_uploads_created_total",
            "Resumable (tus) uploads created.",
        )?;
        let resumable_bytes = IntCounter::new(
            "resumable_bytes_received_total",
            "Bytes that resumable (tus) requests added to their uploads (kept, including a body cut short).",
        )?;
        let early_puts = IntCounterVec::new(
            Opts::new(
                "upload_early_puts_total",
                "Files of POST /upload sent to the store while they arrived (the last file of a form, smaller \
                 than a part), by outcome: stored, resent (the store failed it: sent again once read), \
                 abandoned (the file did not end where the form's length said, or the store failed the PUT \
                 before its last bytes: sent once read).",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(early_puts.clone()))?;
        for outcome in EARLY_OUTCOMES {
            early_puts.with_label_values(&[outcome]);
        }
        registry.register(Box::new(resumable_created.clone()))?;
        registry.register(Box::new(resumable_bytes.clone()))?;
        registry.register(Box::new(files.clone()))?;
        registry.register(Box::new(bytes.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        for outcome in OUTCOMES {
            requests.with_label_values(&[outcome]);
        }
        for code in all_codes() {
            errors.with_label_values(&[code]);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                files,
                bytes,
                requests,
                errors,
                duration,
                in_flight,
                resumable_created,
                resumable_bytes,
                early_puts,
            }),
        })
    }

    /// Records the files a successful request stored, given their sizes.
    pub fn files_stored(&self, sizes: impl IntoIterator<Item = u64>) {
        for size in sizes {
            self.inner.files.inc();
            self.inner.bytes.inc_by(size);
        }
    }

    /// Records what became of a file sent to the store while it arrived (one of [`EARLY_OUTCOMES`]).
    pub fn early_put(&self, outcome: &str) {
        self.inner.early_puts.with_label_values(&[outcome]).inc();
    }

    /// Records a resumable upload created.
    pub fn resumable_created(&self) {
        self.inner.resumable_created.inc();
    }

    /// Records bytes a resumable upload's request added to it.
    pub fn resumable_received(&self, bytes: u64) {
        self.inner.resumable_bytes.inc_by(bytes);
    }

    /// Records one error answer.
    pub fn error(&self, code: &str) {
        self.inner.errors.with_label_values(&[code]).inc();
    }

    /// The registry in the text exposition format 0.0.4.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.inner.registry.gather())
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, "encode the metrics");
                String::new()
            })
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Middleware around every route: counts error answers by the [`ErrorCode`] they carry, and for
/// `POST /upload` the requests in flight, their duration and outcome. A client that disconnects drops this
/// future before the answer: the guard records that as `disconnected`.
pub async fn record(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let is_upload = request.method() == Method::POST
        && request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|path| path.as_str() == "/upload");
    let mut guard = is_upload.then(|| UploadTimer::start(metrics.clone()));
    let response = next.run(request).await;
    if let Some(guard) = &mut guard {
        guard.finish(response.status());
    }
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        metrics.error(code);
    }
    response
}

/// One upload request in flight; records its end when finished or dropped.
struct UploadTimer {
    metrics: Metrics,
    started: Instant,
    outcome: &'static str,
}

impl UploadTimer {
    fn start(metrics: Metrics) -> Self {
        metrics.inner.in_flight.inc();
        Self {
            metrics,
            started: Instant::now(),
            outcome: "disconnected",
        }
    }

    fn finish(&mut self, status: StatusCode) {
        self.outcome = if status.is_server_error() {
            "server_error"
        } else if status.is_client_error() {
            "client_error"
        } else {
            "success"
        };
    }
}

impl Drop for UploadTimer {
    fn drop(&mut self) {
        let inner = &self.metrics.inner;
        inner.in_flight.dec();
        inner.duration.observe(self.started.elapsed().as_secs_f64());
        inner.requests.with_label_values(&[self.outcome]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_code_and_outcome_starts_at_zero() {
        let text = Metrics::new().render();
        for code in all_codes() {
            let series = format!("http_errors_total{{code=\"{code}\"}}");
            assert_eq!(value(&text, &series), Some(0.0), "{series} in\n{text}");
        }
        for outcome in OUTCOMES {
            let series = format!("upload_requests_total{{outcome=\"{outcome}\"}}");
            assert_eq!(value(&text, &series), Some(0.0), "{series} in\n{text}");
        }
        assert!(text.contains("# TYPE upload_request_duration_seconds histogram"));
        assert!(text.contains("# TYPE upload_requests_in_flight gauge"));
    }

    #[test]
    fn two_registries_count_apart() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.files_stored([3, 4]);
        a.error("LIMIT_FILE_SIZE");
        let (a, b) = (a.render(), b.render());
        assert_eq!(value(&a, "upload_files_total"), Some(2.0));
        assert_eq!(value(&a, "upload_bytes_total"), Some(7.0));
        assert_eq!(
            value(&a, "http_errors_total{code=\"LIMIT_FILE_SIZE\"}"),
            Some(1.0)
        );
        assert_eq!(value(&b, "upload_files_total"), Some(0.0));
    }

    #[test]
    fn a_dropped_request_counts_as_disconnected() {
        let metrics = Metrics::new();
        let finished = UploadTimer::start(metrics.clone());
        drop(UploadTimer::start(metrics.clone()));
        let mut done = finished;
        done.finish(StatusCode::PAYLOAD_TOO_LARGE);
        drop(done);
        let text = metrics.render();
        assert_eq!(
            value(&text, "upload_requests_total{outcome=\"disconnected\"}"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "upload_requests_total{outcome=\"client_error\"}"),
            Some(1.0)
        );
        assert_eq!(value(&text, "upload_requests_in_flight"), Some(0.0));
        assert_eq!(
            value(&text, "upload_request_duration_seconds_count"),
            Some(2.0)
        );
    }
}
