//! `area`: the headless shell over `area-core`.
//!
//! It parses arguments, calls core, and prints results — as text for people or as JSON with
//! `--json` for scripts. Success exits 0; any failure prints one line on stderr and exits
//! non-zero (1 for errors, 2 for bad usage). Secrets are read only from a no-echo prompt or
//! standard input, never from arguments, so they stay out of shell history and `ps`.

mod cli;
mod commands;
mod context;
mod notifier;
mod output;
mod secrets;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, quiet by default; `RUST_LOG=area=debug` for more.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
