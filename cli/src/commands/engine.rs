//! `area run --once`, `area daemon`, `area runs`: the engine from the command line.

use std::net::SocketAddr;

use area_core::app::App;

use crate::commands::CliError;
use crate::output::Output;

pub async fn run_once(app: &App, out: Output) -> Result<(), CliError> {
    let report = app.run_once().await?;
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

pub async fn daemon(app: &App, out: Output, listen: Option<SocketAddr>) -> Result<(), CliError> {
    let stop = stop_signal();
    if let Some(addr) = app.serve(listen).await? {
        out.print(&serde_json::json!({ "listening": addr.to_string() }), || {
            format!("Area daemon running; webhooks on http://{addr}/hooks/<token>; Ctrl-C to stop")
        });
    }
    stop.await;
    tracing::info!("stopping: finishing in-flight runs");
    app.shutdown().await;
    Ok(())
}

/// `area worker`: the engine alone, sharing a PostgreSQL database, until SIGINT/SIGTERM.
pub async fn worker(app: &App, out: Output) -> Result<(), CliError> {
    let stop = stop_signal();
    app.work().await?;
    out.print(&serde_json::json!({ "worker": "running" }), || "Area worker running; Ctrl-C to stop".to_string());
    stop.await;
    tracing::info!("stopping: finishing in-flight runs");
    app.shutdown().await;
    Ok(())
}

/// `area database copy --to URL`: the embedded database copied into PostgreSQL.
pub async fn copy_database(app: &App, out: Output, to: &str) -> Result<(), CliError> {
    let report = app.copy_database_to(to).await?;
    out.print(&report, || {
        let mut text = String::from("Copied into PostgreSQL:\n");
        for (table, rows) in &report.tables {
            text.push_str(&format!("  {table:<14} {rows:>8} rows\n"));
        }
        text.push_str(
            "Start the cluster's processes with --database (or AREA_DATABASE_URL) and this data directory's \
             master key: copy its master.key into each process's data directory, or set the AREA_MASTER_KEY it \
             ran with.",
        );
        text
    });
    Ok(())
}

/// `area serve`: the engine with the API on its listener, until SIGINT/SIGTERM.
pub async fn serve(
    app: &App,
    out: Output,
    listen: SocketAddr,
    config: area_server::ServerConfig,
    tls: Option<std::sync::Arc<area_core::engine::tls::ServerConfig>>,
) -> Result<(), CliError> {
    let stop = stop_signal();
    let public = config.public_url.clone();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let routes = area_server::router(app.clone(), config);
    if let Some(addr) = app.serve_with(Some(listen), Some(routes), tls).await? {
        let url = public.map(|u| u.to_string()).unwrap_or_else(|| format!("{scheme}://{addr}/"));
        out.print(&serde_json::json!({ "listening": addr.to_string(), "url": url }), || {
            format!("Area server on {scheme}://{addr} (reached at {url}); API under /api; Ctrl-C to stop")
        });
    }
    stop.await;
    tracing::info!("stopping: finishing in-flight runs");
    app.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. Created before the engine starts, so a stop request that
/// arrives during start-up is not lost (nor kills the process by default action).
pub(crate) fn stop_signal() -> impl std::future::Future<Output = ()> {
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

pub async fn runs(app: &App, out: Output, area: Option<i64>, limit: i64) -> Result<(), CliError> {
    let runs = app.runs(area, limit.clamp(1, 10_000) as u32).await?;
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

pub async fn rerun(app: &App, out: Output, run_id: i64) -> Result<(), CliError> {
    app.rerun(run_id).await?;
    out.print(&serde_json::json!({ "requeued": run_id }), || {
        format!("run {run_id} is queued again; `area daemon` (or the app) delivers it")
    });
    Ok(())
}

pub async fn send_test(app: &App, out: Output, area_id: i64) -> Result<(), CliError> {
    let sent = app.send_test(area_id).await?;
    out.print(&sent, || {
        let with = match (&sent.source[..], &sent.note) {
            ("sample", _) => "the action's newest item".to_string(),
            (_, Some(note)) => format!("example values ({note})"),
            _ => "example values".to_string(),
        };
        format!("test run {} queued with {with}; `area daemon` (or the app) delivers it — see `area runs`", sent.run_id)
    });
    Ok(())
}
