//! `google_drive`: new file in a folder, and creating a text file in a folder (Drive API v3).
//!
//! Decisions:
//! - `new_file` lists `GET /drive/v3/files?q='<folder>' in parents and trashed=false
//!   &orderBy=createdTime desc&pageSize=50&fields=files(id,name,mimeType,webViewLink,createdTime,
//!   owners(displayName))`; the key is the file id. `folder_id` may be an id, `root`, or a
//!   `https://drive.google.com/drive/folders/<id>` link; inside the query `\` and `'` are
//!   escaped as the Drive query language requires. Missing optional fields (native Docs have no
//!   size, shared-drive files no owners) give empty ingredients; a missing `webViewLink` falls
//!   back to `https://drive.google.com/file/d/<id>/view`.
//! - `create_text_file` is a multipart upload (`POST /upload/drive/v3/files?uploadType=multipart`,
//!   `multipart/related`: JSON metadata `{name, parents: [folder], mimeType: "text/plain"}`, then
//!   the UTF-8 content). Drive has no idempotency key: not idempotent.
//! - Scope: `https://www.googleapis.com/auth/drive`. The non-sensitive `drive.file` only sees
//!   files the app created or the user picked with the Google Picker, so listing a folder the user
//!   fills from the web would find nothing, and writing into a user's existing folder fails with
//!   404. `drive.readonly` would fix listing only; both it and `drive` are "restricted" scopes
//!   (same verification burden, fine for an app in Testing status that the user registers), so
//!   the one scope that makes both features work on any folder is chosen.
//! - Shared drives: files.list sends `supportsAllDrives=true&includeItemsFromAllDrives=true` and
//!   the upload (files.create) `supportsAllDrives=true`. Without them Drive answers 404 for a
//!   folder on a shared drive and lists none of its files ("Implement shared drive support",
//!   developers.google.com/workspace/drive/api/guides/enable-shareddrives).
//! - Errors map like every Google API (see [`super::gmail::google_error`]), naming the folder.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{google_error, google_json, google_provider};
use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "google_drive";
/// The real API's base URL (overridable with `AREA_GOOGLE_DRIVE_BASE_URL`).
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com";
/// Scopes this service asks Google for (see the module doc for the choice).
pub const SCOPES: [&str; 1] = ["https://www.googleapis.com/auth/drive"];
/// Fields `new_file` asks for.
pub const LIST_FIELDS: &str = "files(id,name,mimeType,webViewLink,createdTime,owners(displayName))";
/// Boundary of the multipart upload body (cannot occur in the JSON metadata; content containing
/// it is refused).
pub const BOUNDARY: &str = "area-drive-upload-7c1f3e9a5b2d4086";

/// The `google_drive` service: manifest, the polled `new_file` action and the
/// `create_text_file` reaction.
pub fn service(settings: &Settings) -> Service {
    let base = settings.base_url(ID, DEFAULT_BASE_URL);
    let mut actions = BTreeMap::new();
    actions.insert("new_file", ActionKind::Polled(Arc::new(NewFile { base: base.clone() }) as Arc<dyn PolledAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("create_text_file", Arc::new(CreateTextFile { base: base.clone() }) as Arc<dyn Reaction>);
    Service::new(manifest(), actions, reactions)
}

fn folder_param() -> ParamSpec {
    ParamSpec::new(
        "folder_id",
        "Folder",
        "The folder's id (the last part of its link, https://drive.google.com/drive/folders/<id>), the whole link, \
         or `root` for My Drive.",
        ParamType::String,
    )
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Google Drive",
        description: "Watch a Google Drive folder for new files, or create text files in one.",
        auth: AuthKind::OAuth2,
        credential_hosts: vec!["www.googleapis.com"],
        oauth: Some(google_provider(SCOPES.to_vec())),
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_file",
            name: "New file in a folder",
            description: "Fires for each new file (not in the trash) directly inside a folder.",
            params: vec![folder_param()],
            ingredients: vec![
                IngredientSpec { id: "id", description: "The file's id.", example: "1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ" },
                IngredientSpec { id: "name", description: "The file name.", example: "Facture mars.pdf" },
                IngredientSpec { id: "mime_type", description: "The file's MIME type.", example: "application/pdf" },
                IngredientSpec {
                    id: "url",
                    description: "A link opening the file in Drive.",
                    example: "https://drive.google.com/file/d/1aBcD2eFgH3iJkL4mNoP5qRsT6uVwXyZ/view",
                },
                IngredientSpec {
                    id: "created_at",
                    description: "When the file was created (RFC 3339).",
                    example: "2026-03-14T09:26:53.589Z",
                },
                IngredientSpec {
                    id: "owner",
                    description: "The owner's display name (empty for shared-drive files).",
                    example: "Zoé Martin",
                },
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(60),
        }],
        reactions: vec![ReactionManifest {
            id: "create_text_file",
            name: "Create a text file",
            description: "Creates a plain-text file in a folder.",
            params: vec![
                folder_param().templated(),
                ParamSpec::new("name", "File name", "The new file's name; may use ingredients.", ParamType::String)
                    .templated(),
                ParamSpec::new("content", "Content", "The file's text; may use ingredients.", ParamType::String)
                    .optional(Some(json!("")))
                    .templated(),
            ],
        }],
    }
}

/// The folder id from `folder_id`: an id, `root`, or a Drive folder link.
pub fn folder_id(params: &Params) -> Result<String, ConnectorError> {
    let raw = req_str(params, "folder_id")?;
    let id = match raw.split_once("/folders/") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or_default(),
        None => raw,
    };
    if id.is_empty() {
        return Err(bad_param("folder_id", format!("no folder id in {raw:?}")));
    }
    Ok(id.to_string())
}

/// `'…'` in the Drive query language: backslashes and single quotes escaped.
pub fn quote_query_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn folder_resource(folder: &str) -> String {
    format!("Drive folder {folder:?}")
}

/// The `new_file` poll request against `base` (pure, for tests).
pub fn list_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let folder = folder_id(params)?;
    let mut url = parse_url(ID, &format!("{}/drive/v3/files", base.trim_end_matches('/')))?;
    url.query_pairs_mut()
        .append_pair("q", &format!("{} in parents and trashed=false", quote_query_string(&folder)))
        .append_pair("orderBy", "createdTime desc")
        .append_pair("pageSize", "50")
        .append_pair("fields", LIST_FIELDS)
        .append_pair("supportsAllDrives", "true")
        .append_pair("includeItemsFromAllDrives", "true");
    let mut req = HttpRequestSpec::get(url.as_str());
    req.headers = vec![bearer(credential), accept_json()];
    Ok(req)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileList {
    files: Option<Vec<DriveFile>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct DriveFile {
    id: Option<String>,
    name: Option<String>,
    mime_type: Option<String>,
    web_view_link: Option<String>,
    created_time: Option<String>,
    owners: Option<Vec<Owner>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Owner {
    display_name: Option<String>,
}

/// Reads a `files.list` body into events (pure: tests use saved responses).
pub fn read_files(params: &Params, response: &HttpResponseData) -> Result<Vec<Event>, ConnectorError> {
    let resource = folder_id(params).map(|f| folder_resource(&f)).unwrap_or_else(|_| "the Drive folder".into());
    let list: FileList = google_json(ID, &resource, response)?;
    let mut events = Vec::new();
    for file in list.files.unwrap_or_default() {
        let Some(id) = file.id.filter(|s| !s.trim().is_empty()) else { continue };
        let owner = file.owners.unwrap_or_default().into_iter().find_map(|o| o.display_name).unwrap_or_default();
        let url = file
            .web_view_link
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("https://drive.google.com/file/d/{id}/view"));
        let mut ingredients = Ingredients::new();
        ingredients.insert("id".into(), json!(id));
        ingredients.insert("name".into(), json!(file.name.unwrap_or_default()));
        ingredients.insert("mime_type".into(), json!(file.mime_type.unwrap_or_default()));
        ingredients.insert("url".into(), json!(url));
        ingredients.insert("created_at".into(), json!(file.created_time.unwrap_or_default()));
        ingredients.insert("owner".into(), json!(owner));
        events.push(Event { key: id, ingredients });
    }
    Ok(events)
}

/// How a failed (non-2xx) poll response maps to an error, Google's rules applied (see
/// [`super::gmail::google_error`]). The engine classifies poll statuses generically today; this is ready for a
/// per-action error hook.
pub fn poll_error(params: &Params, response: &HttpResponseData) -> ConnectorError {
    let resource = folder_id(params).map(|f| folder_resource(&f)).unwrap_or_else(|_| "the Drive folder".into());
    google_error(ID, &resource, response)
}

struct NewFile {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

impl PolledAction for NewFile {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        list_request(&self.base, ctx.params, ctx.require_credential(ID)?)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        Ok(PollOutput { events: read_files(ctx.params, response)?, cursor: None })
    }

    fn error_for(&self, _service: &str, ctx: &PollContext<'_>, response: &HttpResponseData) -> ConnectorError {
        poll_error(ctx.params, response)
    }
}

/// The `create_text_file` request against `base` (pure, for tests): a `multipart/related`
/// body with the JSON metadata part and the text part.
pub fn upload_request(base: &str, params: &Params, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
    let folder = folder_id(params)?;
    let name = req_str(params, "name")?;
    let content = params.get("content").and_then(Value::as_str).unwrap_or_default();
    if content.contains(BOUNDARY) {
        return Err(bad_param("content", "contains the upload boundary marker"));
    }
    let metadata = json!({ "name": name, "parents": [folder], "mimeType": "text/plain" });
    let body = format!(
        "--{BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n\
         --{BOUNDARY}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{content}\r\n--{BOUNDARY}--\r\n"
    );
    let mut url = parse_url(ID, &format!("{}/upload/drive/v3/files", base.trim_end_matches('/')))?;
    url.query_pairs_mut()
        .append_pair("uploadType", "multipart")
        .append_pair("fields", "id,name,webViewLink")
        .append_pair("supportsAllDrives", "true");
    Ok(HttpRequestSpec {
        method: "POST".into(),
        url: url.to_string(),
        headers: vec![
            bearer(credential),
            accept_json(),
            ("Content-Type".into(), format!("multipart/related; boundary={BOUNDARY}")),
        ],
        body: Some(body.into_bytes()),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CreatedFile {
    id: Option<String>,
}

/// Runs `create_text_file` against `base` (what the reaction does with the configured base URL).
pub async fn create_text_file(
    ctx: &ReactionContext<'_>,
    params: &Params,
    base: &str,
) -> Result<ReactionOutput, ConnectorError> {
    let credential = reaction_credential(ctx, ID)?;
    let spec = upload_request(base, params, credential)?;
    let resource = folder_resource(&folder_id(params)?);
    let response = send(ctx, &spec).await?;
    if !(200..300).contains(&response.status) {
        return Err(google_error(ID, &resource, &response));
    }
    let created: CreatedFile = google_json(ID, &resource, &response)?;
    Ok(ReactionOutput {
        summary: match created.id {
            Some(id) => format!("file created ({id})"),
            None => format!("file created (HTTP {})", response.status),
        },
    })
}

struct CreateTextFile {
    /// The API base URL (the settings' override or the real API).
    base: String,
}

#[async_trait]
impl Reaction for CreateTextFile {
    /// Drive has no idempotency key: a repeat would create a second file.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        create_text_file(ctx, params, &self.base).await
    }
}
