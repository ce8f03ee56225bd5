//! `POST /api/invoke/{command}`: the desktop app's IPC commands over HTTP, so the same Svelte UI
//! runs in a browser. The UI's generated bindings call a command by name with its arguments as
//! one JSON object (camelCase, as Tauri sends them); this answers with what the desktop
//! command returns, or the same `ApiError`. Every name in `ui/src/bindings.ts` is either served
//! here or refused with a reason ([`DESKTOP_ONLY`]); a test holds the two lists together.
//!
//! Sign-in, sign-up and sign-out are not commands here: the browser transport calls
//! `/api/login`, `/api/signup` and `/api/logout`, which set and clear the session cookie; and
//! connecting through a provider is a navigation (`/api/oauth/begin`, then `/oauth/callback`).

use std::collections::BTreeMap;

use area_core::app::{ApiError, AreaForm, ErrorCode};
use area_core::services::mail::MailAccountInput;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::body::Path;
use crate::error::HttpError;
use crate::Server;

/// Commands of the desktop app that a server refuses, with why.
pub const DESKTOP_ONLY: &[(&str, &str)] = &[
    ("sign_in_with", "signing in with GitHub or Google is not available on an Area server yet: use your email"),
    ("autostart_status", "starting at login is not available on an Area server: it is a setting of the desktop app"),
    ("set_autostart", "starting at login is not available on an Area server: it is a setting of the desktop app"),
    (
        "dismiss_autostart_suggestion",
        "starting at login is not available on an Area server: it is a setting of the desktop app",
    ),
];

/// The commands the browser transport sends to their own routes: the session cookie's, and
/// `connect_oauth` and `sign_in_with`, which become a navigation to the provider
/// (`/api/oauth/begin`, `/api/signin/begin`).
pub const SESSION_COMMANDS: &[&str] =
    &["session_user", "sign_in", "sign_up", "sign_out", "connect_oauth", "sign_in_with"];

pub(super) fn routes() -> Router<Server> {
    Router::new().route("/api/invoke/{command}", post(invoke))
}

/// Largest argument object a command takes (area files to import are the big ones).
const MAX_ARGS: usize = 2 * 1024 * 1024;

async fn invoke(
    State(server): State<Server>,
    Path(command): Path<String>,
    request: Request,
) -> Result<Json<Value>, HttpError> {
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ARGS)
        .await
        .map_err(|e| ApiError::invalid("body", format!("the arguments could not be read: {e}")))?;
    // What needs no account: the sign-in page asks these before anyone is signed in.
    let app = &server.app;
    match command.as_str() {
        "app_version" => return ok(env!("CARGO_PKG_VERSION")),
        "ui_ready" | "startup_error" | "cancel_oauth" => return ok(Value::Null),
        "has_accounts" => return ok(app.has_accounts().await?),
        "services" => return ok(app.services()),
        "recipes" => return ok(app.recipes()),
        _ => {}
    }
    if let Some((_, why)) = DESKTOP_ONLY.iter().find(|(name, _)| *name == command) {
        return Err(ApiError::new(ErrorCode::Forbidden, *why).into());
    }
    let caller = Caller::from_request_parts(&mut parts, &server).await?;
    let app = &caller.app;
    let args = Args(bytes);
    match command.as_str() {
        "engine_status" => ok(app.engine_status()),
        "data_dir" => {
            administrator_only(&caller, "where the server keeps its data").await?;
            ok(app.data_dir().display().to_string())
        }
        "set_paused" => {
            #[derive(Deserialize)]
            struct A {
                paused: bool,
            }
            administrator_only(&caller, "pausing every user's areas").await?;
            ok(app.set_paused(args.read::<A>()?.paused).await?)
        }
        "connections" => ok(app.list_connections().await?),
        "connect_token" => {
            #[derive(Deserialize)]
            struct A {
                service: String,
                token: String,
                label: Option<String>,
            }
            let a: A = args.read()?;
            ok(app.connect_token(&a.service, &a.token, a.label.as_deref()).await?)
        }
        "connect_mail" => {
            #[derive(Deserialize)]
            struct A {
                service: String,
                account: MailAccountInput,
                password: String,
                label: Option<String>,
            }
            let a: A = args.read()?;
            ok(app.connect_mail(&a.service, &a.account, &a.password, a.label.as_deref()).await?)
        }
        "begin_client_key" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct A {
                service: String,
                redirect_uri: String,
            }
            let a: A = args.read()?;
            ok(app.begin_client_key(&a.service, &a.redirect_uri).await?)
        }
        "client_key_setup" => ok(app.client_key_setup(&args.read::<Service>()?.service).await?),
        "client_key_consent" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct A {
                service: String,
                client_id: String,
            }
            let a: A = args.read()?;
            ok(app.client_key_consent(&a.service, &a.client_id).await?)
        }
        "finish_client_key" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct A {
                service: String,
                client_id: String,
                code_or_url: String,
                label: Option<String>,
            }
            let a: A = args.read()?;
            ok(app.finish_client_key(&a.service, &a.client_id, &a.code_or_url, a.label.as_deref()).await?)
        }
        "disconnect" => {
            app.disconnect(&args.read::<Service>()?.service).await?;
            ok(Value::Null)
        }
        "areas" => ok(app.area_cards().await?),
        "area" => ok(app.area(args.read::<Id>()?.id).await?),
        "validate_area" => {
            let form = args.read::<Form>()?.form;
            private_network(&caller, form.allow_private_network).await?;
            app.validate_area(form)?;
            ok(Value::Null)
        }
        "read_condition" => {
            #[derive(Deserialize)]
            struct A {
                text: String,
            }
            ok(app.read_condition(&args.read::<A>()?.text)?)
        }
        "create_area" => {
            let form = args.read::<Form>()?.form;
            private_network(&caller, form.allow_private_network).await?;
            ok(app.create_area(form).await?)
        }
        "update_area" => {
            #[derive(Deserialize)]
            struct A {
                id: i64,
                form: AreaForm,
            }
            let a: A = args.read()?;
            app.area(a.id).await?; // another user's area is "not found" before anything else
            private_network(&caller, a.form.allow_private_network).await?;
            ok(app.update_area(a.id, a.form).await?)
        }
        "set_area_enabled" => {
            #[derive(Deserialize)]
            struct A {
                id: i64,
                enabled: bool,
            }
            let a: A = args.read()?;
            ok(app.set_area_enabled(a.id, a.enabled).await?)
        }
        "delete_area" => {
            app.delete_area(args.read::<Id>()?.id).await?;
            ok(Value::Null)
        }
        "export_area" => ok(app.export_area(args.read::<Id>()?.id).await?),
        "review_import" => {
            #[derive(Deserialize)]
            struct A {
                text: String,
                secrets: BTreeMap<String, String>,
            }
            let a: A = args.read()?;
            ok(app.review_import(&a.text, &a.secrets)?)
        }
        "import_areas" | "import_areas_with_secrets" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct A {
                text: String,
                allow_private_network: bool,
                #[serde(default)]
                secrets: BTreeMap<String, String>,
            }
            let a: A = args.read()?;
            private_network(&caller, a.allow_private_network).await?;
            ok(app.import_areas_with_secrets(&a.text, a.allow_private_network, &a.secrets).await?)
        }
        "sample_event" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct A {
                service: String,
                action: String,
                params: BTreeMap<String, String>,
                allow_private_network: bool,
            }
            let a: A = args.read()?;
            private_network(&caller, a.allow_private_network).await?;
            ok(app.sample_event(&a.service, &a.action, a.params, a.allow_private_network).await?)
        }
        "runs" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct A {
                area_id: Option<i64>,
                limit: u32,
            }
            let a: A = args.read()?;
            if let Some(id) = a.area_id {
                app.area(id).await?;
            }
            ok(app.runs(a.area_id, a.limit).await?)
        }
        "rerun" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct A {
                run_id: i64,
            }
            app.rerun(args.read::<A>()?.run_id).await?;
            ok(Value::Null)
        }
        "send_test" => ok(app.send_test(args.read::<Id>()?.id).await?),
        other => Err(ApiError::new(ErrorCode::NotFound, format!("no command {other:?} on this server")).into()),
    }
}

/// A command's arguments, read into the shape that command takes.
struct Args(Bytes);

impl Args {
    fn read<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes: &[u8] = if self.0.is_empty() { b"{}" } else { &self.0 };
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid("body", format!("the command's arguments are not what it takes: {e}")))
    }
}

#[derive(Deserialize)]
struct Service {
    service: String,
}

#[derive(Deserialize)]
struct Id {
    id: i64,
}

#[derive(Deserialize)]
struct Form {
    form: AreaForm,
}

fn ok(value: impl serde::Serialize) -> Result<Json<Value>, HttpError> {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot encode the answer: {e}")).into())
}

async fn administrator_only(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.app.is_administrator().await? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, format!("only the administrator can see or change {what}")))
    }
}

/// On a shared server, reaching its private network (localhost, the LAN, cloud metadata) is
/// the administrator's choice alone: another user's area could otherwise read what only the
/// server can reach.
pub(crate) async fn private_network(caller: &Caller, wanted: bool) -> Result<(), ApiError> {
    if wanted && !caller.app.is_administrator().await? {
        return Err(ApiError {
            field: Some("allow_private_network".into()),
            ..ApiError::new(
                ErrorCode::Forbidden,
                "only the server's administrator can let an area reach private network addresses",
            )
        });
    }
    Ok(())
}
