//! `area`: the headless shell over `area-core`.
//!
//! It parses arguments, makes one call of core's use-case API ([`area_core::app::App`]) per
//! command, and prints results — as text for people or as JSON with `--json` for scripts.
//! Success exits 0; any failure prints one line on stderr and exits non-zero (1 for errors, 2 for
//! bad usage). Secrets are read only from a no-echo prompt or standard input, never from
//! arguments, so they stay out of shell history and `ps`.

mod cli;
mod commands;
mod notifier;
mod output;
mod secrets;
#[cfg(target_os = "linux")]
mod tray;

use std::process::ExitCode;

use area_core::app::bootstrap;
use area_core::settings::Settings;
use clap::Parser;

/// mimalloc rather than glibc's malloc: the engine's hot path (webhook → record → reaction)
/// allocates many small, short-lived buffers across threads, where glibc's allocator spent about
/// a seventh of the daemon's CPU time (profile and figures in bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let args = cli::Cli::parse();
    if matches!(args.command, cli::Command::Tray { .. }) {
        return_memory_when_idle();
    }
    init_logging();
    // The settings are read once, here: the environment's, completed by the data directory's
    // area.conf; the data directory and the keychain default are settled the same way as the app.
    let mut env = Settings::from_env();
    if let Some(database) = &args.database {
        env = env.with(area_core::settings::DATABASE_URL, database.as_str());
    }
    let startup = match bootstrap(env, args.data_dir.clone()) {
        Ok(startup) => startup,
        Err(e) => {
            eprintln!("error: {}", one_line(e.cli_text()));
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args, startup)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// glibc gives every thread its own malloc arena; with many areas the freed memory of one
/// poll burst stays fragmented across them (measured: 112 MB RSS at 10,000 areas with the
/// default, 87 MB with two arenas, same CPU). Two arenas keep a daemon small.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; called first thing, before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// The tray runs all session, mostly idle: its allocator must give back what a burst used
/// (start-up, a round of polls) instead of keeping it for speed. mimalloc reads these options
/// before `main`, so the tray starts itself again with them set (once: they are then present).
/// Measured with 100 areas: 46 MB RSS with the defaults, 29 MB with these.
fn return_memory_when_idle() {
    const OPTIONS: [(&str, &str); 2] = [("MIMALLOC_ARENA_EAGER_COMMIT", "0"), ("MIMALLOC_PURGE_DELAY", "0")];
    if OPTIONS.iter().all(|(name, _)| std::env::var_os(name).is_some()) {
        return;
    }
    #[cfg(unix)]
    if let Ok(exe) = std::env::current_exe() {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(exe);
        command.args(std::env::args_os().skip(1));
        for (name, value) in OPTIONS {
            if std::env::var_os(name).is_none() {
                command.env(name, value);
            }
        }
        let e = command.exec();
        tracing::debug!("could not restart with the idle allocator options: {e}");
    }
}

/// Logs go to stderr, quiet by default; `RUST_LOG=area=debug` for more.
fn init_logging() {
    let filter = area_core::app::log_filter(std::env::var("RUST_LOG").ok().as_deref(), "warn");
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
