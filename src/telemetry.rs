//! Logging: `RUST_LOG` sets the level (default: this server and its HTTP traces at `info`, the rest at `warn`,
//! s3s's own request log off);
//! `LOG_FORMAT=json` writes one JSON object per line. Client input in a log line goes through [`Escaped`].

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// `s3s::service=off`: the embedded store logs its server errors itself (`embedded::rechunk`).
const DEFAULT_FILTER: &str = "s3_upload_server=info,tower_http=info,s3s::service=off,warn";

/// Installs the global subscriber. Call once, from `main`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    if let Err(err) = result {
        eprintln!("logging was already set up: {err}");
    }
}

/// Client input in a log line, with control and bidirectional-formatting characters escaped (`\n`, `\u{202e}`),
/// so that a file name cannot start a new log line or reorder what a terminal shows.
pub struct Escaped<'a>(pub &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        for c in self.0.chars() {
            let invisible = c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            if invisible {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}
