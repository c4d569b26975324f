//! Logging: `tracing` to stderr, pretty or JSON (`HANDOFF_LOG_FORMAT`), filtered by
//! `RUST_LOG` (default `info`). Secrets never reach a log line: they are
//! `SecretString`s, which print as `[REDACTED]`.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
