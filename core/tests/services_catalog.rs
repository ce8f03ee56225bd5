//! The built-in catalog as a whole: unique ids, manifests consistent with their code, the
//! contract ids scripts rely on, and the `AREA_<SERVICE>_BASE_URL` override.

use std::collections::HashSet;

use area_core::catalog::{ActionKind, AuthKind, ParamType};
use area_core::services;
use area_core::settings::Settings;

#[test]
fn service_ids_are_unique_and_include_the_builtins() {
    let all = services::all(&Settings::empty());
    let ids: Vec<_> = all.iter().map(|s| s.manifest.id).collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    for id in ["timer", "rss", "webhook", "http", "notify"] {
        assert!(ids.contains(&id), "missing {id}");
    }
}

#[test]
fn manifests_match_their_code_and_have_unique_ids() {
    for s in services::all(&Settings::empty()) {
        let m = &s.manifest;
        assert!(!m.name.is_empty() && !m.description.is_empty(), "{}", m.id);
        let action_ids: Vec<_> = m.actions.iter().map(|a| a.id).collect();
        let reaction_ids: Vec<_> = m.reactions.iter().map(|r| r.id).collect();
        assert_eq!(action_ids.iter().collect::<HashSet<_>>().len(), action_ids.len(), "{}", m.id);
        assert_eq!(reaction_ids.iter().collect::<HashSet<_>>().len(), reaction_ids.len(), "{}", m.id);
        // Every declared action/reaction has code, and no code is undeclared.
        assert_eq!(s.actions.keys().copied().collect::<HashSet<_>>(), action_ids.iter().copied().collect(), "{}", m.id);
        assert_eq!(
            s.reactions.keys().copied().collect::<HashSet<_>>(),
            reaction_ids.iter().copied().collect(),
            "{}",
            m.id
        );

        let mut all_params = Vec::new();
        for a in &m.actions {
            assert!(!a.name.is_empty() && !a.description.is_empty(), "{}.{}", m.id, a.id);
            all_params.push((format!("{}.{}", m.id, a.id), &a.params));
            let ing: Vec<_> = a.ingredients.iter().map(|i| i.id).collect();
            assert_eq!(ing.iter().collect::<HashSet<_>>().len(), ing.len(), "{}.{} ingredients", m.id, a.id);
            assert!(a.ingredients.iter().all(|i| !i.description.is_empty() && !i.example.is_empty()));
            assert!(a.dynamic_ingredients || !a.ingredients.is_empty(), "{}.{} exposes nothing", m.id, a.id);
            let polled = matches!(s.actions[a.id], ActionKind::Polled(_));
            assert_eq!(polled, a.min_interval_secs.is_some(), "{}.{}: min interval iff polled", m.id, a.id);
        }
        for r in &m.reactions {
            all_params.push((format!("{}.{}", m.id, r.id), &r.params));
        }
        for (what, params) in all_params {
            let ids: Vec<_> = params.iter().map(|p| p.id).collect();
            assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "{what} has duplicate params");
            for p in params {
                assert!(!p.label.is_empty() && !p.help.is_empty(), "{what}.{}", p.id);
                assert!(!(p.required && p.default.is_some()), "{what}.{}: required with a default", p.id);
                if let ParamType::Enum { choices } = &p.kind {
                    if let Some(d) = p.default.as_ref().and_then(|d| d.as_str()) {
                        assert!(choices.iter().any(|c| c == d), "{what}.{}: default not a choice", p.id);
                    }
                }
            }
        }
    }
}

#[test]
fn contract_ids_and_params_are_stable() {
    let all = services::all(&Settings::empty());
    let find = |id: &str| all.iter().find(|s| s.manifest.id == id).unwrap();
    let action_params = |svc: &str, act: &str| -> Vec<&str> {
        let m = &find(svc).manifest;
        m.actions.iter().find(|a| a.id == act).unwrap().params.iter().map(|p| p.id).collect()
    };
    let reaction_params = |svc: &str, r: &str| -> Vec<&str> {
        let m = &find(svc).manifest;
        m.reactions.iter().find(|x| x.id == r).unwrap().params.iter().map(|p| p.id).collect()
    };
    assert_eq!(action_params("timer", "every"), ["minutes"]);
    assert_eq!(action_params("timer", "cron"), ["expression", "timezone"]);
    assert_eq!(action_params("timer", "at"), ["datetime"]);
    assert_eq!(action_params("rss", "new_item"), ["url"]);
    assert!(action_params("webhook", "received").is_empty());
    assert_eq!(
        action_params("http", "new_json_items"),
        ["url", "items_path", "id_field", "headers", "allow_private_network"]
    );
    assert_eq!(reaction_params("http", "request"), ["method", "url", "headers", "body", "allow_private_network"]);
    assert_eq!(reaction_params("notify", "send"), ["title", "body"]);
    for id in ["timer", "rss", "webhook", "http", "notify"] {
        assert_eq!(find(id).manifest.auth, AuthKind::None, "{id} needs no credentials");
    }
    for s in &all {
        // OAuth2 services name their provider; others must not.
        assert_eq!(s.manifest.auth == AuthKind::OAuth2, s.manifest.oauth.is_some(), "{}", s.manifest.id);
    }
    assert!(matches!(find("timer").actions["cron"], ActionKind::Scheduled(_)));
    assert!(matches!(find("rss").actions["new_item"], ActionKind::Polled(_)));
    assert!(matches!(find("http").actions["new_json_items"], ActionKind::Polled(_)));
    assert!(matches!(find("webhook").actions["received"], ActionKind::Pushed(_)));
}

#[test]
fn manifests_serialize_for_about_json_and_the_ui() {
    for s in services::all(&Settings::empty()) {
        let v = serde_json::to_value(&s.manifest).unwrap();
        assert_eq!(v["id"], s.manifest.id);
        assert!(v["actions"].is_array() && v["reactions"].is_array());
    }
}

#[test]
fn base_url_env_override() {
    let var = "AREA_BASEURL_TEST_SVC_BASE_URL";
    assert_eq!(area_core::settings::setting_name("baseurl-test-svc", "BASE_URL"), var);
    let base_url = |value: Option<&str>, default: &str| {
        Settings::from_pairs(value.map(|v| (var, v))).base_url("baseurl-test-svc", default)
    };
    assert_eq!(base_url(None, "https://api.example.com/"), "https://api.example.com");
    assert_eq!(base_url(Some("http://127.0.0.1:9000/"), "https://api.example.com"), "http://127.0.0.1:9000");
    assert_eq!(base_url(Some("   "), "https://api.example.com"), "https://api.example.com", "blank = unset");
}

/// The token check of each service that has one: the documented "who am I" call with the token
/// attached as the service's other calls attach it, and the account read from a documented
/// answer. Every other token service says "saved, not checked".
#[test]
fn token_services_check_tokens_with_their_documented_who_am_i_call() {
    use area_core::connector::{Credential, HttpResponseData};
    let cases = [
        (
            "github",
            "https://api.github.com/user",
            ("Authorization", "Bearer tok"),
            r#"{"login":"octocat","id":1}"#,
            "octocat",
        ),
        (
            "discord",
            "https://discord.com/api/v10/users/@me",
            ("Authorization", "Bot tok"),
            r#"{"id":"80351110224678912","username":"Nelly","discriminator":"0","bot":true}"#,
            "Nelly",
        ),
        (
            "postman",
            "https://api.getpostman.com/me",
            ("X-Api-Key", "tok"),
            r#"{"user":{"id":12345678,"username":"taylor-lee","email":"taylor.lee@example.com"},"operations":[]}"#,
            "taylor-lee",
        ),
        (
            "ntfy",
            "https://ntfy.sh/v1/account",
            ("Authorization", "Bearer tok"),
            r#"{"username":"phil","role":"user"}"#,
            "phil",
        ),
        (
            "instagram",
            "https://graph.instagram.com/me?fields=user_id,username",
            ("Authorization", "Bearer tok"),
            r#"{"user_id":"17841405309211844","username":"jane.doe"}"#,
            "jane.doe",
        ),
    ];
    let all = services::all(&Settings::empty());
    for (id, url, (name, value), body, account) in cases {
        let service = all.iter().find(|s| s.manifest.id == id).unwrap_or_else(|| panic!("{id}"));
        let check = service.account_check.as_ref().unwrap_or_else(|| panic!("{id} checks tokens"));
        let request = check.request(&Credential::ApiKey("tok".into())).unwrap();
        assert_eq!((request.method.as_str(), request.url.as_str()), ("GET", url), "{id}");
        assert!(
            request.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case(name) && v == value),
            "{id}: {:?}",
            request.headers
        );
        let answer = HttpResponseData { status: 200, headers: Vec::new(), body: body.as_bytes().to_vec() };
        assert_eq!(check.account(&answer).unwrap(), account, "{id}");
    }
    let mut checked: Vec<_> = all.iter().filter(|s| s.account_check.is_some()).map(|s| s.manifest.id).collect();
    checked.sort_unstable();
    assert_eq!(checked, ["discord", "github", "instagram", "ntfy", "postman"]);
}

/// The catalog is read in the app as well as in the terminal: its words never tell the user to run
/// a command or mention the daemon (each shell says how to connect in its own way).
#[test]
fn catalog_text_speaks_to_every_shell() {
    for s in services::all(&Settings::empty()) {
        let text = serde_json::to_string(&s.manifest).expect("a manifest serialises");
        for shell_words in ["area connect", "--token", "`area ", "daemon"] {
            assert!(!text.contains(shell_words), "{}: its catalog text says {shell_words:?}", s.manifest.id);
        }
    }
}
