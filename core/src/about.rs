//! `about.json`: the AREA project's standard description of a server and what it offers.
//!
//! The format is fixed by the AREA convention (it lists the catalog: ARCHITECTURE.md "Vocabulary"):
//! `{"client": {"host"}, "server": {"current_time", "services": [{"name", "actions": [{"name",
//! "description"}], "reactions": [...]}]}}`, with `name` = the service/action/reaction *id*
//! (what area files use) and `current_time` in Unix seconds. Tools that read it ignore unknown
//! fields, so each service also carries `display_name`, `description`, `auth` and `availability`
//! (`{"status": "available"}` or `{"status": "unavailable", "reason": "…"}`), which the
//! convention lacks but users need.

use serde_json::{json, Value};

use crate::catalog::Catalog;

/// Builds `about.json` from the catalog. `client_host` is the address of whoever asked (the CLI
/// passes `127.0.0.1`; an HTTP server mode passes the peer address); `now_unix` is the server's
/// current time in Unix seconds (a parameter so tests are deterministic).
pub fn about_json(catalog: &Catalog, client_host: &str, now_unix: i64) -> Value {
    let services: Vec<Value> = catalog
        .manifests()
        .map(|s| {
            json!({
                "name": s.id,
                "display_name": s.name,
                "description": s.description,
                "auth": s.auth,
                "availability": s.availability,
                "actions": s.actions.iter().map(|a| json!({"name": a.id, "description": a.description})).collect::<Vec<_>>(),
                "reactions": s.reactions.iter().map(|r| json!({"name": r.id, "description": r.description})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "client": { "host": client_host },
        "server": { "current_time": now_unix, "services": services },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_area_shape() {
        let about =
            about_json(&crate::services::catalog(&crate::settings::Settings::empty()), "127.0.0.1", 1_700_000_000);
        assert_eq!(about["client"]["host"], "127.0.0.1");
        assert_eq!(about["server"]["current_time"], 1_700_000_000);
        let services = about["server"]["services"].as_array().unwrap();
        let rss = services.iter().find(|s| s["name"] == "rss").unwrap();
        assert_eq!(rss["actions"][0]["name"], "new_item");
        assert!(rss["actions"][0]["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(rss["availability"]["status"], "available");
        let notify = services.iter().find(|s| s["name"] == "notify").unwrap();
        assert_eq!(notify["reactions"][0]["name"], "send");
        assert_eq!(notify["actions"], json!([]));
    }
}
