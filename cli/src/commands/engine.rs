//! `area run --once`, `area daemon`, `area runs`: the engine from the command line.

use std::net::SocketAddr;
use std::sync::Arc;

use area_core::areas::{DEFAULT_WEBHOOK_LISTEN, WEBHOOK_ADDR_FILE};
use area_core::engine::{history, Engine, EngineConfig};

use crate::commands::CliError;
use crate::context::Context;
use crate::notifier::DaemonNotifier;
use crate::output::Output;

fn config() -> EngineConfig {
    EngineConfig {
        // Benchmarks and home labs may poll faster than a service's polite minimum.
        ignore_min_interval: std::env::var("AREA_IGNORE_MIN_INTERVAL").is_ok_and(|v| v == "1"),
        ..EngineConfig::default()
    }
}

pub async fn run_once(ctx: &Context, out: Output) -> Result<(), CliError> {
    let report = Engine::run_once(&ctx.store, config(), Arc::new(DaemonNotifier::detect()))
        .await
        .map_err(|e| CliError::msg(e.to_string()))?;
    out.print(&report, || {
        let mut text = format!(
            "polled {} area(s) with {} request(s); {} run(s) delivered, {} failed",
            report.areas_polled, report.requests, report.runs_delivered, report.runs_failed
        );
        for error in &report.errors {
            text.push_str(&format!("\n  {error}"));
        }
        text
    });
    Ok(())
}

pub async fn daemon(ctx: &Context, out: Output, listen: Option<SocketAddr>) -> Result<(), CliError> {
    let listen = match listen {
        Some(addr) => addr,
        None => DEFAULT_WEBHOOK_LISTEN.parse().map_err(|e| CliError::msg(format!("bad default address: {e}")))?,
    };
    let stop = stop_signal();
    let mut config = config();
    config.webhook_listen = Some(listen);
    let engine = Engine::start(&ctx.store, config, Arc::new(DaemonNotifier::detect()))
        .await
        .map_err(|e| CliError::msg(e.to_string()))?;
    let addr_file = ctx.store.dir().join(WEBHOOK_ADDR_FILE);
    if let Some(addr) = engine.webhook_addr() {
        let _ = std::fs::write(&addr_file, addr.to_string());
        out.print(&serde_json::json!({ "listening": addr.to_string() }), || {
            format!("Area daemon running; webhooks on http://{addr}/hooks/<token>; Ctrl-C to stop")
        });
    }
    stop.await;
    tracing::info!("stopping: finishing in-flight runs");
    engine.shutdown().await;
    let _ = std::fs::remove_file(&addr_file);
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. Created before the engine starts, so a stop request that
/// arrives during start-up is not lost (nor kills the process by default action).
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}

pub async fn runs(ctx: &Context, out: Output, area: Option<i64>, limit: i64) -> Result<(), CliError> {
    let (_, user) = ctx.current_user().await?;
    let runs = history::list_runs(ctx.store.pool(), user.id, area, limit.clamp(1, 10_000))
        .await
        .map_err(|e| CliError::msg(format!("cannot read the run history: {e}")))?;
    out.print(&runs, || {
        if runs.is_empty() {
            return "no runs yet".into();
        }
        runs.iter()
            .map(|r| {
                let when = chrono::DateTime::from_timestamp_millis(r.created_at)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                let took = r.duration_ms.map(|d| format!(" {d} ms")).unwrap_or_default();
                let err = r.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default();
                format!(
                    "#{} {when} area {} ({}) {} attempts={}{took}{err}",
                    r.id, r.area_id, r.area_name, r.status, r.attempts
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub async fn rerun(ctx: &Context, out: Output, run_id: i64) -> Result<(), CliError> {
    let (_, user) = ctx.current_user().await?;
    history::requeue(ctx.store.pool(), user.id, run_id, chrono::Utc::now().timestamp_millis())
        .await
        .map_err(|e| CliError::msg(e.to_string()))?;
    out.print(&serde_json::json!({ "requeued": run_id }), || {
        format!("run {run_id} is queued again; `area daemon` (or the app) delivers it")
    });
    Ok(())
}
