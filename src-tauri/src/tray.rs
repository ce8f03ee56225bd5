//! The system tray (desktop only): the engine keeps running with the window closed, so the tray
//! is how the user gets the window back, pauses every area at once, or really quits.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

use crate::core_app;

/// The "Pause all"/"Resume all" item, kept so its label follows the engine state.
struct PauseItem(MenuItem<Wry>);

fn pause_label(paused: bool) -> &'static str {
    if paused {
        "Resume all"
    } else {
        "Pause all"
    }
}

/// Builds the tray. Without a facade (core failed to open) only "Open Area" and "Quit" work.
pub fn build(app: &tauri::App, facade: Option<core_app::App>) -> tauri::Result<()> {
    let paused = facade.as_ref().is_some_and(|f| f.engine_status().paused);
    let open = MenuItem::with_id(app, "open", "Open Area", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", pause_label(paused), facade.is_some(), None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[&open, &PredefinedMenuItem::separator(app)?, &pause, &PredefinedMenuItem::separator(app)?, &quit],
    )?;
    app.manage(PauseItem(pause));

    let mut tray = TrayIconBuilder::with_id("main").tooltip("Area").menu(&menu).show_menu_on_left_click(true);
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.on_menu_event(move |app, event| match event.id().as_ref() {
        "open" => crate::show_main_window(app),
        "pause" => toggle_pause(app, facade.clone()),
        "quit" => quit_app(app, facade.clone()),
        _ => {}
    })
    .build(app)?;
    Ok(())
}

/// Re-reads the engine state into the pause item's label (after any core event: the UI may
/// have paused or resumed).
pub fn refresh(app: &AppHandle) {
    let (Some(item), Some(facade)) = (app.try_state::<PauseItem>(), app.try_state::<core_app::App>()) else {
        return;
    };
    if let Err(e) = item.0.set_text(pause_label(facade.engine_status().paused)) {
        tracing::debug!("could not update the tray: {e}");
    }
}

fn toggle_pause(app: &AppHandle, facade: Option<core_app::App>) {
    let Some(facade) = facade else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let paused = facade.engine_status().paused;
        match facade.set_paused(!paused).await {
            Ok(_) => refresh(&app),
            Err(e) => tracing::warn!(code = %e.code, "could not change pause-all: {e}"),
        }
    });
}

/// Drains the engine (runs in flight finish or are recorded) before the process exits.
fn quit_app(app: &AppHandle, facade: Option<core_app::App>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(facade) = facade {
            facade.shutdown().await;
        }
        app.exit(0);
    });
}
