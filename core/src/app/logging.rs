//! The log filter every shell installs: `RUST_LOG` when set (else the shell's default level), with
//! the libraries that log what they send on the wire held below `trace`. async-imap traces every
//! command it writes, and an IMAP `LOGIN` or `AUTHENTICATE XOAUTH2` carries the password or the
//! access token: at `RUST_LOG=trace` those would reach the log. Secrets never do.

use tracing_subscriber::filter::{Directive, EnvFilter};

/// Libraries whose `trace` output holds credentials, each held at `info`.
const WIRE_LOGGERS: [&str; 1] = ["async_imap"];

/// The filter for `rust_log` (the `RUST_LOG` value, if any) or `default` (`warn`, `info`).
pub fn log_filter(rust_log: Option<&str>, default: &str) -> EnvFilter {
    let mut filter = rust_log.and_then(|spec| EnvFilter::try_new(spec).ok()).unwrap_or_else(|| EnvFilter::new(default));
    for target in WIRE_LOGGERS {
        if let Ok(directive) = format!("{target}=info").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(rust_log: &str) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(log_filter(Some(rust_log), "warn"))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // What async-imap's `log::trace!` of a written command becomes once forwarded.
            tracing::trace!(target: "async_imap::imap_stream", "encode: A1 AUTHENTICATE XOAUTH2 dXNlcj1hZGE=");
            tracing::trace!(target: "area_core::engine", "a trace of our own");
        });
        let bytes = buffer.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn wire_traces_stay_out_of_the_log_even_at_trace() {
        for spec in ["trace", "async_imap=trace,trace"] {
            let text = logged(spec);
            assert!(!text.contains("XOAUTH2"), "{spec}: {text}");
            assert!(text.contains("a trace of our own"), "{spec}: {text}");
        }
    }
}
