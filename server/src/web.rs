//! The web app: the desktop app's Svelte UI, embedded at build time (see `build.rs`) and served
//! at `/`, with the PWA manifest and service worker beside it. Any other path that is not the
//! API's answers the app's page, so a reload on a deep link still opens the app.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// Whether this binary carries the web app (it was built after `npm run build`).
pub fn available() -> bool {
    !assets::ASSETS.is_empty()
}

/// What the page may load: only this server's own files and API. The same rule the desktop
/// app's webview enforces, so an ingredient shown in the page cannot pull in a script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn find(path: &str) -> Option<&'static [u8]> {
    assets::ASSETS.iter().find(|(name, _)| *name == path).map(|(_, bytes)| *bytes)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// `GET` of any path the API does not own.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path.starts_with("hooks/") {
        let error =
            area_core::app::ApiError::new(area_core::app::ErrorCode::NotFound, format!("no route {}", uri.path()));
        return crate::error::HttpError::from(error).into_response();
    }
    if !available() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "This area binary was built without its web app. Run `npm run build` in the project, then rebuild \
             `area` (cargo build --release -p area-cli). The API under /api works meanwhile.\n",
        )
            .into_response();
    }
    let (name, bytes) = match find(path) {
        Some(bytes) if !path.is_empty() => (path, bytes),
        _ => ("index.html", find("index.html").unwrap_or_default()),
    };
    // Hashed assets never change under their name; the page and the worker must be fresh.
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    (
        [
            (CONTENT_TYPE, content_type(name)),
            (CACHE_CONTROL, cache),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}
