//! `area tray`: the engine with a tray icon, and nothing else. It loads no web view, so the
//! desktop app costs next to nothing while its window is closed: the window is the desktop app
//! (`area-app`), a process of its own that "Open Area" starts and closing ends, running beside
//! this engine on the same data ([`area_core::app::App::open_beside_engine`]).

use std::path::PathBuf;

use area_core::app::Startup;

use crate::commands::CliError;
use crate::output::Output;

/// Runs the engine and the tray until Quit, SIGINT or SIGTERM, then drains the engine.
#[cfg(target_os = "linux")]
pub async fn run(startup: Startup, app_bin: Option<PathBuf>, out: Output) -> Result<(), CliError> {
    use std::sync::Arc;

    use area_core::app::{App, ChangeKind};
    use tokio::sync::broadcast::error::RecvError;

    use crate::notifier::DaemonNotifier;
    use crate::tray::{TrayAction, TrayIcon, WindowLauncher};

    let window = WindowLauncher::new(app_bin, startup.data_dir.clone());
    let notifier = Arc::new(DaemonNotifier::default());
    let stop = crate::commands::engine::stop_signal();
    let app = App::open(startup, notifier).await?;
    let status = app.engine_status();
    if !status.running && !status.paused {
        app.close().await;
        let why = status.error.unwrap_or_else(|| "the engine did not start".into());
        return Err(CliError::msg(format!("Area's tray did not start: {why}")));
    }
    let (icon, mut actions) = TrayIcon::spawn(status.paused).await;
    out.print(&serde_json::json!({ "tray": "running", "paused": status.paused }), || {
        "Area runs in the tray; Quit from its menu (or Ctrl-C) to stop".to_string()
    });
    let mut events = app.subscribe();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            action = actions.recv() => match action {
                Some(TrayAction::OpenWindow) => window.open(),
                Some(TrayAction::TogglePause) => {
                    let paused = app.engine_status().paused;
                    if let Err(e) = app.set_paused(!paused).await {
                        tracing::warn!(code = %e.code, "could not change pause all: {e}");
                    }
                }
                Some(TrayAction::Quit) | None => break,
            },
            event = events.recv() => match event {
                Ok(event) if event.kind == ChangeKind::Engine => icon.show_paused(app.engine_status().paused).await,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
        }
    }
    tracing::info!("stopping: finishing in-flight runs");
    app.close().await;
    // The icon stays until the engine has stopped, so Area is seen running while it still is.
    icon.remove().await;
    Ok(())
}

/// Elsewhere there is no tray yet: `area daemon` runs the engine.
#[cfg(not(target_os = "linux"))]
pub async fn run(_startup: Startup, _app_bin: Option<PathBuf>, _out: Output) -> Result<(), CliError> {
    Err(CliError::msg("`area tray` runs on Linux desktops only; use `area daemon` here"))
}
