//! Area's desktop (and later mobile) shell: a thin Tauri 2 layer over `area_core`.
//!
//! Everything lives in this library (not `main.rs`) so iOS/Android can link it through the
//! mobile entry point. The shell opens core's facade, hands it to the typed commands, forwards
//! core's events to the UI and routes `area://` deep links into core.
//!
//! On Linux, with the `area` command installed beside it, the app is only the window: the engine
//! and the tray icon live in `area tray` ([`tray_process`]), started with the first window, and
//! closing the window ends this process (WebKit and all) while Area keeps running. Without the
//! command the app runs the engine and a tray of its own, and closing the window destroys the
//! webview but keeps the process.

pub mod commands;
pub mod notifier;
#[cfg(desktop)]
mod tray;
mod tray_process;

use std::sync::Arc;

use area_core::connector::Notifier;
use area_core::settings::{Settings, NO_REGISTER_SCHEME};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_specta::Event;
use tokio::sync::broadcast::error::RecvError;

use area_core::app as core_app;

/// The label of the one window; capabilities grant permissions to it by this name.
pub const MAIN_WINDOW: &str = "main";

/// Why core could not be opened at start, or `None` when it was. Always managed, so the UI can
/// ask (`startupError`) and show the reason in the window instead of a blank or broken app.
pub struct StartupError(pub Option<core_app::ApiError>);

/// Starts the app: the desktop `main` and the mobile entry point both land here.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    #[cfg(target_os = "linux")]
    for (name, value) in webkit_defaults(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())) {
        // Before GTK, WebKit or any thread starts: nothing reads the environment concurrently.
        std::env::set_var(name, value);
    }
    let specta = commands::specta_builder();
    init_tracing();
    // The settings are read once, here: the environment's, completed by the data directory's
    // area.conf; the data directory and the keychain default are settled as for the CLI.
    let env = Settings::from_env();
    let startup = core_app::bootstrap(env.clone(), None);
    commands::startup_mark("settings read");
    let background = std::env::args().any(|a| a == BACKGROUND_FLAG);
    let mut tray_process = startup.as_ref().ok().and_then(|s| tray_process::TrayProcess::find(&s.data_dir));
    if background {
        // At login: no window, so become the tray process.
        #[cfg(unix)]
        if let Some(tray) = tray_process.take() {
            let e = tray.exec();
            tracing::error!("could not start the tray process: {e}; running the engine in the app");
        }
    }
    let beside = tray_process.is_some();
    if let Some(tray) = tray_process {
        tray_process::start_after_first_screen(tray);
    }

    let mut builder = tauri::Builder::default();
    // Single instance must be the first plugin: a second launch (e.g. the OS opening an
    // `area://` link) forwards its arguments to us — deep links included — and exits.
    #[cfg(desktop)]
    {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }));
    }
    let app = builder
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(specta.invoke_handler())
        .on_page_load(|webview, payload| match payload.event() {
            tauri::webview::PageLoadEvent::Started => commands::startup_mark("page load started"),
            tauri::webview::PageLoadEvent::Finished => {
                commands::startup_mark("page loaded");
                if let Some(window) = webview.app_handle().get_webview_window(webview.label()) {
                    reveal(&window);
                }
            }
        })
        .setup(move |app| {
            commands::startup_mark("event loop ready");
            specta.mount_events(app);
            setup(app, startup, &env, beside);
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        // Closing the window destroys it, webview and all: the engine and the tray stay, and
        // "Open Area" builds the window again. Only "Quit" (an exit with a code) ends the app.
        // Beside the tray process, closing the window ends this process.
        Ok(app) => app.run(move |_, event| {
            if let tauri::RunEvent::ExitRequested { code: None, api, .. } = event {
                if !beside {
                    api.prevent_exit();
                }
            }
        }),
        Err(e) => {
            tracing::error!("Area could not start: {e}");
            eprintln!("area-app: could not start: {e}");
            std::process::exit(1);
        }
    }
}

/// WebKitGTK and GTK settings the app sets through the environment (they are read there, in
/// this process and in the web process it starts), unless the user has set them:
/// - accelerated compositing off. The UI is forms and lists; composited through GL, every
///   repaint (the dashboard's countdowns, every 5 s) went through Mesa, which without a GPU is
///   llvmpipe: a window left open idled at 15 % of a core, and WebKit's painting competed with
///   the first screen on reopen (`bench/README.md`, "The desktop app in the tray");
/// - and then GTK's own GL off (`GDK_GL=disable`): nothing draws through it once WebKit paints
///   without compositing, and probing GLX for the window's visual loaded Mesa and LLVM on the
///   way to the first screen (about 45 ms of every start and reopen). A user who turns
///   compositing back on (`WEBKIT_DISABLE_COMPOSITING_MODE=0`) keeps GTK's GL too.
#[cfg(target_os = "linux")]
fn webkit_defaults(var: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, &'static str)> {
    const COMPOSITING_OFF: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    let mut defaults = Vec::new();
    let compositing = var(COMPOSITING_OFF);
    if compositing.is_none() {
        defaults.push((COMPOSITING_OFF, "1"));
    }
    if compositing.as_deref() != Some("0") && var("GDK_GL").is_none() {
        defaults.push(("GDK_GL", "disable"));
    }
    defaults
}

/// Logs to stderr at `info` by default; `RUST_LOG` overrides (as for the CLI).
fn init_tracing() {
    let filter = area_core::app::log_filter(std::env::var("RUST_LOG").ok().as_deref(), "info");
    // try_init: a second call (tests, embedding) must not panic.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Builds the window, opens core (store + engine, or the store beside the tray process's engine)
/// and wires it to the UI, deep links and tray. Never fails the app: when core cannot open (or
/// its settings are unusable), the window still opens and the UI shows [`StartupError`].
fn setup(app: &mut tauri::App, startup: Result<core_app::Startup, core_app::ApiError>, env: &Settings, beside: bool) {
    let handle = app.handle().clone();
    // The window first: WebKit starts its web and network processes as the window is built,
    // and they start up (about half of the time to an interactive window) while core opens
    // here. The page cannot call a command before this returns: commands are served by this
    // thread's event loop.
    if beside || !std::env::args().any(|a| a == BACKGROUND_FLAG) {
        open_main_window(&handle);
    }
    let notifier: Arc<dyn Notifier> = Arc::new(notifier::TauriNotifier::new(handle.clone()));
    let settings = startup.as_ref().map_or_else(|_| env.clone(), |s| s.settings.clone());
    let opened = match startup {
        Ok(startup) if beside => tauri::async_runtime::block_on(core_app::App::open_beside_engine(startup, notifier)),
        Ok(startup) => tauri::async_runtime::block_on(core_app::App::open(startup, notifier)),
        Err(e) => Err(e),
    };
    commands::startup_mark("core opened");
    let facade = match opened {
        Ok(facade) => {
            app.manage(facade.clone());
            app.manage(StartupError(None));
            start_event_bridge(handle.clone(), &facade);
            Some(facade)
        }
        Err(e) => {
            tracing::error!(code = %e.code, "Area could not open its data: {e}");
            app.manage(StartupError(Some(e)));
            None
        }
    };
    app.manage(commands::LoginItems::detect());
    setup_deep_links(&handle, facade.clone(), &settings);
    #[cfg(unix)]
    drain_on_signal(handle.clone(), facade.clone());
    // Beside the tray process, that process shows the icon.
    #[cfg(desktop)]
    if !beside {
        if let Err(e) = tray::build(app, facade) {
            // No tray (e.g. no StatusNotifier host): the app still works; a second launch opens
            // the window again.
            tracing::warn!("no system tray: {e}");
        }
    }
    commands::startup_mark("set up");
}

/// SIGTERM/SIGINT (logout, `kill`, Ctrl-C in a terminal) drain the engine like "Quit" does,
/// instead of cutting runs off mid-flight.
#[cfg(unix)]
fn drain_on_signal(handle: AppHandle, facade: Option<core_app::App>) {
    use tokio::signal::unix::{signal, SignalKind};
    tauri::async_runtime::spawn(async move {
        let (mut term, mut int) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(term), Ok(int)) => (term, int),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot watch for SIGTERM/SIGINT: {e}");
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received: stopping the engine");
        if let Some(facade) = facade {
            facade.shutdown().await;
        }
        handle.exit(0);
    });
}

/// Forwards every core event to the UI as the typed `appEvent`, and keeps the tray in step.
fn start_event_bridge(handle: AppHandle, facade: &core_app::App) {
    let mut events = facade.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Err(e) = commands::AppEvent::from(event).emit(&handle) {
                        tracing::warn!("could not forward an event to the UI: {e}");
                    }
                    #[cfg(desktop)]
                    tray::refresh(&handle);
                }
                // The UI reloads whole parts on each event, so a missed one is caught up by the next.
                Err(RecvError::Lagged(skipped)) => tracing::debug!(skipped, "event bridge lagged"),
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// Routes `area://` links (a second launch, the OS, or the link that started us) into core.
fn setup_deep_links(handle: &AppHandle, facade: Option<core_app::App>, settings: &Settings) {
    let deep_link = handle.deep_link();
    // Linux (and Windows dev builds) need the scheme registered at run time; this also repairs
    // the packaged .desktop entry. Tests set AREA_NO_REGISTER_SCHEME=1 to leave the user's
    // desktop database alone.
    #[cfg(not(any(target_os = "linux", all(debug_assertions, windows))))]
    let _ = settings;
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if !settings.flag(NO_REGISTER_SCHEME) {
        if let Err(e) = deep_link.register_all() {
            tracing::warn!("could not register the area:// scheme: {e}");
        }
    }

    let on_open = facade.clone();
    let open_handle = handle.clone();
    deep_link.on_open_url(move |event| {
        show_main_window(&open_handle);
        for url in event.urls() {
            dispatch_deep_link(on_open.clone(), url);
        }
    });
    match deep_link.get_current() {
        Ok(Some(urls)) => {
            for url in urls {
                dispatch_deep_link(facade.clone(), url);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("could not read the link Area was started with: {e}"),
    }
}

/// Hands one link to core on the async runtime; errors are logged without the query string,
/// which carries the OAuth code and state.
fn dispatch_deep_link(facade: Option<core_app::App>, url: tauri::Url) {
    let shown = redact(&url);
    let Some(facade) = facade else {
        tracing::warn!(url = %shown, "deep link ignored: Area's data could not be opened");
        return;
    };
    tauri::async_runtime::spawn(async move {
        match facade.handle_deep_link(url.as_str()).await {
            Ok(()) => tracing::info!(url = %shown, "deep link handled"),
            Err(e) => tracing::warn!(url = %shown, code = %e.code, "deep link rejected: {e}"),
        }
    });
}

/// `scheme://host/path` only: never the query (OAuth code, state) nor the fragment.
fn redact(url: &tauri::Url) -> String {
    format!("{}://{}{}", url.scheme(), url.host_str().unwrap_or(""), url.path())
}

/// Started at login (`--background`): the engine and the tray only, no window until asked (the
/// tray process in place of the app, when there is one).
pub const BACKGROUND_FLAG: &str = "--background";

/// Builds the main window from its configuration (it is not created with the app: see
/// `tauri.conf.json`'s `"create": false`), unless it exists.
fn open_main_window<R: Runtime>(app: &AppHandle<R>) -> Option<tauri::WebviewWindow<R>> {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        return Some(window);
    }
    let config = app.config().app.windows.iter().find(|w| w.label == MAIN_WINDOW)?.clone();
    *commands::WINDOW_BUILT.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
    commands::startup_mark("building the window");
    // Hidden until its page has loaded ([`reveal`]): a window shown earlier is painted before
    // WebKit's web process has drawn anything, and GTK's paint then waits (up to half a second)
    // for a first frame that the still-starting web process cannot send while this thread waits.
    let built =
        tauri::WebviewWindowBuilder::from_config(app, &config).and_then(|builder| builder.visible(false).build());
    reveal_at_the_latest(app);
    match built {
        Ok(window) => {
            commands::startup_mark("window built");
            Some(window)
        }
        Err(e) => {
            tracing::error!("could not open the window: {e}");
            None
        }
    }
}

/// Shows, unminimises and focuses the main window, building it again if it was closed (tray
/// "Open Area", a second launch, a link). A window built here shows itself once its page has
/// loaded ([`reveal`]).
fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    let existed = app.get_webview_window(MAIN_WINDOW).is_some();
    if let Some(window) = open_main_window(app) {
        if existed {
            bring_forward(&window);
        }
    }
}

/// Shows a window built hidden by [`open_main_window`], once: at its page's first load, or
/// from [`reveal_at_the_latest`]. A window already shown is left as it is (a reload must not
/// pull a minimised window forward).
fn reveal<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    if !window.is_visible().unwrap_or(true) {
        commands::startup_mark("window shown");
        bring_forward(window);
    }
}

/// Shows the window after [`REVEAL_AT_THE_LATEST`] even if its page never finished loading
/// (a stuck resource, a web process that died): a window that never appears is worse than one
/// that appears blank and then fills in.
fn reveal_at_the_latest<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(REVEAL_AT_THE_LATEST).await;
        let shown = app.clone();
        let _ = app.run_on_main_thread(move || {
            if let Some(window) = shown.get_webview_window(MAIN_WINDOW) {
                reveal(&window);
            }
        });
    });
}

/// How long a new window may stay hidden waiting for its page ([`reveal_at_the_latest`]).
const REVEAL_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(3);

/// Shows, unminimises and focuses a window.
fn bring_forward<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    for (what, result) in [("show", window.show()), ("unminimize", window.unminimize()), ("focus", window.set_focus())]
    {
        if let Err(e) = result {
            tracing::debug!("could not {what} the window: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[cfg(target_os = "linux")]
    #[test]
    fn webkit_compositing_and_gtk_gl_are_off_unless_the_user_chose() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        let both = [("WEBKIT_DISABLE_COMPOSITING_MODE", "1"), ("GDK_GL", "disable")];
        assert_eq!(super::webkit_defaults(env(&[])), both);
        // Compositing turned back on: GTK keeps its GL.
        assert!(super::webkit_defaults(env(&[("WEBKIT_DISABLE_COMPOSITING_MODE", "0")])).is_empty());
        // Compositing off by the user's own setting: GTK's GL goes too.
        assert_eq!(super::webkit_defaults(env(&[("WEBKIT_DISABLE_COMPOSITING_MODE", "1")])), [both[1]]);
        // The user's GDK_GL stays.
        assert_eq!(super::webkit_defaults(env(&[("GDK_GL", "always")])), [both[0]]);
    }

    #[test]
    fn redact_drops_the_query_and_fragment() {
        let url = tauri::Url::parse("area://oauth/callback?code=SECRET&state=S#frag").expect("valid url");
        assert_eq!(redact(&url), "area://oauth/callback");
    }
}
