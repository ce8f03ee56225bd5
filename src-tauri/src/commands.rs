//! The typed IPC surface: one-line adapters from Tauri commands to `area_core::app`, plus the
//! change event. tauri-specta turns this file into `ui/src/bindings.ts`, so the UI's types can
//! never drift from core's (CI regenerates the file and fails on a diff).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tauri::State;
use tauri_specta::{collect_commands, collect_events, Event};

use area_core::accounts::{User, MIN_PASSWORD_CHARS};
use area_core::app::{
    self as core_app, ApiError, App, AreaCard, AreaForm, AreaView, AutostartStatus, EngineStatus, OAuthVia, Recipe,
    SampleEvent, ServiceEntry, TestSent,
};
use area_core::areas::{AreaSummary, ImportedArea, TrustSummary};
use area_core::condition::Condition;
use area_core::connections::{ClientKeySetup, ConnectionInfo};
use area_core::engine::history::RunRecord;
use area_core::services::mail::MailAccountInput;

/// Tells the UI which part of the state changed so it reloads only that part.
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct AppEvent {
    /// Which part: session, areas, runs, connections or engine.
    pub kind: core_app::ChangeKind,
}

impl From<core_app::AppEvent> for AppEvent {
    fn from(e: core_app::AppEvent) -> Self {
        AppEvent { kind: e.kind }
    }
}

type Res<T> = Result<T, ApiError>;

/// When the shell started (first touched by [`specta_builder`], the first thing `run` does), for
/// the cold-start figure [`ui_ready`] logs.
static STARTED: std::sync::LazyLock<std::time::Instant> = std::sync::LazyLock::new(std::time::Instant::now);

/// Logs (at debug level) how long after the shell started it reached `step`: the breakdown
/// behind the cold-start figure, for `RUST_LOG=area_app=debug`.
pub fn startup_mark(step: &str) {
    tracing::debug!(ms = STARTED.elapsed().as_millis() as u64, "start-up: {step}");
}

/// When the window was last built (at start, or again from the tray after it was closed), for
/// the reopen figure [`ui_ready`] logs.
pub static WINDOW_BUILT: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

/// Called by the UI when its first screen is interactive: logs how long the cold start took
/// (`ms`) and how long since this window was built (`window_ms`: the reopen time after the
/// window was closed); `bench/app_start.sh` reads this line.
#[tauri::command]
#[specta::specta]
fn ui_ready() {
    let built = *WINDOW_BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let window_ms = built.map(|t| t.elapsed().as_millis() as u64);
    tracing::info!(ms = STARTED.elapsed().as_millis() as u64, window_ms, "window interactive");
    crate::tray_process::start_pending();
}

/// The app version, for the about line.
#[tauri::command]
#[specta::specta]
fn app_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Why core could not be opened at start (or null), so the UI shows it instead of a blank window.
#[tauri::command]
#[specta::specta]
fn startup_error(state: State<'_, crate::StartupError>) -> Option<ApiError> {
    state.0.clone()
}

/// Where this app keeps its data (shown in settings/about).
#[tauri::command]
#[specta::specta]
fn data_dir(app: State<'_, App>) -> String {
    app.data_dir().display().to_string()
}

/// The signed-in user, or null.
#[tauri::command]
#[specta::specta]
async fn session_user(app: State<'_, App>) -> Res<Option<User>> {
    app.session_user().await
}

/// Whether any account exists on this device: the auth screen leads with account creation on a
/// fresh install and with sign-in otherwise.
#[tauri::command]
#[specta::specta]
async fn has_accounts(app: State<'_, App>) -> Res<bool> {
    app.has_accounts().await
}

/// Creates an account and signs it in.
#[tauri::command]
#[specta::specta]
async fn sign_up(app: State<'_, App>, email: String, password: String) -> Res<User> {
    app.sign_up(&email, &password).await
}

/// Signs in with email and password.
#[tauri::command]
#[specta::specta]
async fn sign_in(app: State<'_, App>, email: String, password: String) -> Res<User> {
    app.sign_in(&email, &password).await.map(|signed_in| signed_in.user)
}

/// Signs in (or links) with GitHub or Google through the browser.
#[tauri::command]
#[specta::specta]
async fn sign_in_with(app: State<'_, App>, provider: String) -> Res<User> {
    app.sign_in_with(&provider).await.map(core_app::ProviderSignIn::user)
}

/// Signs out.
#[tauri::command]
#[specta::specta]
async fn sign_out(app: State<'_, App>) -> Res<()> {
    app.sign_out().await.map(|_| ())
}

/// Ready-made areas, for the gallery of an empty dashboard.
#[tauri::command]
#[specta::specta]
fn recipes(app: State<'_, App>) -> Vec<Recipe> {
    app.recipes()
}

/// Every service, with its connection id and sampleable actions.
#[tauri::command]
#[specta::specta]
fn services(app: State<'_, App>) -> Vec<ServiceEntry> {
    app.services()
}

/// The user's connections (never their secrets).
#[tauri::command]
#[specta::specta]
async fn connections(app: State<'_, App>) -> Res<Vec<ConnectionInfo>> {
    app.list_connections().await
}

/// Saves an API key or token for a service.
#[tauri::command]
#[specta::specta]
async fn connect_token(
    app: State<'_, App>,
    service: String,
    token: String,
    label: Option<String>,
) -> Res<ConnectionInfo> {
    app.connect_token(&service, &token, label.as_deref()).await
}

/// Connects a mailbox (mail, vinted): its servers and login with the password, which is then
/// only ever sent to those servers.
#[tauri::command]
#[specta::specta]
async fn connect_mail(
    app: State<'_, App>,
    service: String,
    account: MailAccountInput,
    password: String,
    label: Option<String>,
) -> Res<ConnectionInfo> {
    app.connect_mail(&service, &account, &password, label.as_deref()).await
}

/// Step 1 of a certificate connection (Revolut Business): creates the key and the certificate
/// to upload with this https redirect URI.
#[tauri::command]
#[specta::specta]
async fn begin_client_key(app: State<'_, App>, service: String, redirect_uri: String) -> Res<ClientKeySetup> {
    app.begin_client_key(&service, &redirect_uri).await
}

/// The certificate setup begun for a service, if any (to show the certificate again).
#[tauri::command]
#[specta::specta]
async fn client_key_setup(app: State<'_, App>, service: String) -> Res<Option<ClientKeySetup>> {
    app.client_key_setup(&service).await
}

/// Step 2: opens the provider's consent page for this client id; returns its address.
#[tauri::command]
#[specta::specta]
async fn client_key_consent(app: State<'_, App>, service: String, client_id: String) -> Res<String> {
    app.client_key_consent(&service, &client_id).await
}

/// Step 3: finishes with the address the browser landed on after consenting (or its code).
#[tauri::command]
#[specta::specta]
async fn finish_client_key(
    app: State<'_, App>,
    service: String,
    client_id: String,
    code_or_url: String,
    label: Option<String>,
) -> Res<ConnectionInfo> {
    app.finish_client_key(&service, &client_id, &code_or_url, label.as_deref()).await
}

/// Connects an OAuth2 service through the browser (loopback redirect or `area://` link).
#[tauri::command]
#[specta::specta]
async fn connect_oauth(app: State<'_, App>, service: String, via: OAuthVia) -> Res<ConnectionInfo> {
    app.connect_oauth(&service, via).await
}

/// Abandons the authorization waiting for the browser.
#[tauri::command]
#[specta::specta]
fn cancel_oauth(app: State<'_, App>) {
    app.cancel_oauth()
}

/// Removes a connection (its areas pause until connected again).
#[tauri::command]
#[specta::specta]
async fn disconnect(app: State<'_, App>, service: String) -> Res<()> {
    app.disconnect(&service).await.map(|_| ())
}

/// The dashboard cards.
#[tauri::command]
#[specta::specta]
async fn areas(app: State<'_, App>) -> Res<Vec<AreaCard>> {
    app.area_cards().await
}

/// One area with its editor form.
#[tauri::command]
#[specta::specta]
async fn area(app: State<'_, App>, id: i64) -> Res<AreaView> {
    app.area(id).await
}

/// Checks a form without saving; the error names the field.
#[tauri::command]
#[specta::specta]
fn validate_area(app: State<'_, App>, form: AreaForm) -> Res<()> {
    app.validate_area(form)
}

/// Reads the editor's advanced (JSON) condition with core's reader; the error names `condition`.
#[tauri::command]
#[specta::specta]
fn read_condition(app: State<'_, App>, text: String) -> Res<Condition> {
    app.read_condition(&text)
}

/// Creates an area.
#[tauri::command]
#[specta::specta]
async fn create_area(app: State<'_, App>, form: AreaForm) -> Res<AreaSummary> {
    app.create_area(form).await
}

/// Replaces an area's definition.
#[tauri::command]
#[specta::specta]
async fn update_area(app: State<'_, App>, id: i64, form: AreaForm) -> Res<AreaSummary> {
    app.update_area(id, form).await
}

/// The on/off switch (on also resumes a paused area).
#[tauri::command]
#[specta::specta]
async fn set_area_enabled(app: State<'_, App>, id: i64, enabled: bool) -> Res<AreaSummary> {
    app.set_area_enabled(id, enabled).await
}

/// Deletes an area and its history.
#[tauri::command]
#[specta::specta]
async fn delete_area(app: State<'_, App>, id: i64) -> Res<()> {
    app.delete_area(id).await
}

/// The area file (JSON text) of an area.
#[tauri::command]
#[specta::specta]
async fn export_area(app: State<'_, App>, id: i64) -> Res<String> {
    app.export_area(id).await
}

/// What each area of a file would do, in plain words; stores nothing. `secrets` fills the
/// file's `<secret: …>` placeholders (a `secrets_needed` error names the ones still missing).
#[tauri::command]
#[specta::specta]
fn review_import(app: State<'_, App>, text: String, secrets: BTreeMap<String, String>) -> Res<Vec<TrustSummary>> {
    app.review_import(&text, &secrets)
}

/// Imports an area file (one area or a list), all or nothing, switched off; private-network
/// access in the file needs the user's checkbox.
#[tauri::command]
#[specta::specta]
async fn import_areas(app: State<'_, App>, text: String, allow_private_network: bool) -> Res<Vec<ImportedArea>> {
    app.import_areas(&text, allow_private_network).await
}

/// Imports an exported area file, with the values of its `<secret: …>` placeholders keyed by
/// the fields a `secrets_needed` error named.
#[tauri::command]
#[specta::specta]
async fn import_areas_with_secrets(
    app: State<'_, App>,
    text: String,
    allow_private_network: bool,
    secrets: BTreeMap<String, String>,
) -> Res<Vec<ImportedArea>> {
    app.import_areas_with_secrets(&text, allow_private_network, &secrets).await
}

/// The action's current first item, for the ingredient picker.
#[tauri::command]
#[specta::specta]
async fn sample_event(
    app: State<'_, App>,
    service: String,
    action: String,
    params: BTreeMap<String, String>,
    allow_private_network: bool,
) -> Res<SampleEvent> {
    app.sample_event(&service, &action, params, allow_private_network).await
}

/// The newest runs, across areas or of one area.
#[tauri::command]
#[specta::specta]
async fn runs(app: State<'_, App>, area_id: Option<i64>, limit: u32) -> Res<Vec<RunRecord>> {
    app.runs(area_id, limit).await
}

/// Queues a failed run again.
#[tauri::command]
#[specta::specta]
async fn rerun(app: State<'_, App>, run_id: i64) -> Res<()> {
    app.rerun(run_id).await
}

/// Whether the engine runs.
#[tauri::command]
#[specta::specta]
fn engine_status(app: State<'_, App>) -> EngineStatus {
    app.engine_status()
}

/// Runs an area's reactions once with a sample event ("Send a test").
#[tauri::command]
#[specta::specta]
async fn send_test(app: State<'_, App>, id: i64) -> Res<TestSent> {
    app.send_test(id).await
}

/// "Pause all" or resume.
#[tauri::command]
#[specta::specta]
async fn set_paused(app: State<'_, App>, paused: bool) -> Res<EngineStatus> {
    app.set_paused(paused).await
}

/// Where this device's login items live and what they start (the app, in the background),
/// settled once at start (`None`: starting at login is not supported here).
pub struct LoginItems {
    pub dir: Option<std::path::PathBuf>,
    pub launch: Option<area_core::autostart::Launch>,
}

impl LoginItems {
    /// This user's autostart directory and this very app with `--background`.
    pub fn detect() -> LoginItems {
        // An AppImage runs from a mount that changes every start: the session must start the
        // image itself, which the AppImage runtime names in `APPIMAGE`.
        let program =
            std::env::var_os("APPIMAGE").map(std::path::PathBuf::from).or_else(|| std::env::current_exe().ok());
        LoginItems {
            dir: area_core::autostart::default_dir().ok(),
            launch: program
                .map(|program| area_core::autostart::Launch { program, args: vec![crate::BACKGROUND_FLAG.into()] }),
        }
    }
}

/// Whether Area starts at login, and whether to suggest it now.
#[tauri::command]
#[specta::specta]
async fn autostart_status(app: State<'_, App>, items: State<'_, LoginItems>) -> Res<AutostartStatus> {
    app.autostart_status(items.dir.as_deref()).await
}

/// Turns starting at login on (the app starts in the tray, without its window) or off.
#[tauri::command]
#[specta::specta]
async fn set_autostart(app: State<'_, App>, items: State<'_, LoginItems>, enabled: bool) -> Res<AutostartStatus> {
    let launch = if enabled {
        Some(items.launch.as_ref().ok_or_else(|| {
            ApiError::new(core_app::ErrorCode::Internal, "cannot tell where the Area app is installed")
        })?)
    } else {
        None
    };
    app.set_autostart(items.dir.as_deref(), launch).await
}

/// "Not now" on the suggestion to start at login.
#[tauri::command]
#[specta::specta]
fn dismiss_autostart_suggestion(app: State<'_, App>) -> Res<()> {
    app.dismiss_autostart_suggestion()
}

/// Every command and event the UI may use; `lib.rs` mounts it, the test exports it.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    std::sync::LazyLock::force(&STARTED);
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            app_version,
            ui_ready,
            startup_error,
            data_dir,
            session_user,
            has_accounts,
            sign_up,
            sign_in,
            sign_in_with,
            sign_out,
            services,
            recipes,
            connections,
            connect_token,
            connect_mail,
            begin_client_key,
            client_key_setup,
            client_key_consent,
            finish_client_key,
            connect_oauth,
            cancel_oauth,
            disconnect,
            areas,
            area,
            validate_area,
            read_condition,
            create_area,
            update_area,
            set_area_enabled,
            delete_area,
            export_area,
            review_import,
            import_areas,
            import_areas_with_secrets,
            sample_event,
            runs,
            rerun,
            send_test,
            engine_status,
            set_paused,
            autostart_status,
            set_autostart,
            dismiss_autostart_suggestion,
        ])
        .events(collect_events![AppEvent])
        // The sign-up form states core's password rule before the first attempt.
        .constant("MIN_PASSWORD_CHARS", MIN_PASSWORD_CHARS as u32)
        .dangerously_cast_bigints_to_number()
}

/// Writes the TypeScript bindings to `path` (the UI's `src/bindings.ts`); never hand-edit them.
pub fn export_bindings(path: &Path) -> Result<(), String> {
    let ts = specta_typescript::Typescript::default().header(
        "// @generated by `cargo test -p area-app export_bindings` from src-tauri/src/commands.rs. Do not edit.",
    );
    specta_builder().export(ts, path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Regenerates `ui/src/bindings.ts`; CI then checks `git diff --exit-code` on it.
    #[test]
    fn export_bindings() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create ui/src");
        }
        super::export_bindings(&path).expect("export bindings");
    }
}
