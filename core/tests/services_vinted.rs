//! `vinted`: items parsed out of saved-search alert e-mails, and one engine run through a real
//! IMAP server on loopback (`tests/mail-server`, see services_mail.rs).
//!
//! The alert e-mails below are SYNTHETIC: Vinted does not publish its alert template, so these
//! fixtures follow what the alerts are described to contain (sender no-reply@vinted.<tld>, a
//! subject naming the saved search, and per item a link to /items/<id>-<slug>, a photo on
//! images*.vinted.net, a title and a price), with the usual e-mail noise around them (styles,
//! tracking query strings, HTML entities, footer links, base64 transfer encoding).

#[path = "../../tests/mail-server/harness.rs"]
mod mail_server;
mod support;

use area_core::catalog::Availability;
use area_core::connections::{Connections, MasterKey};
use area_core::engine::Engine;
use area_core::services::mail::vinted::{alert_events, parse_alert};
use base64::Engine as _;
use mail_server::{message, MailServer, PASS};
use serde_json::json;
use support::*;

const FR_HTML: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><style>.item{color:#09f} td{padding:4px}</style></head>
<body><table width="100%"><tr><td><img src="https://static.vinted.com/assets/logo.png" alt="Vinted"></td></tr>
<tr><td><h1>Nouveaux articles pour &laquo; robe zara &raquo;</h1><p>Bonjour Ada, voici les derniers articles :</p></td></tr>
<tr>
<td class="item">
  <a href="https://www.vinted.fr/items/4567891234-robe-zara-fleurie?referrer=catalog_alert&amp;utm_source=email"><img src="https://images1.vinted.net/t/01_00a1b/f800/1700000001.jpeg?s=abc&amp;v=2" alt="Robe Zara fleurie" width="150"></a>
  <p><a href="https://www.vinted.fr/items/4567891234-robe-zara-fleurie?referrer=catalog_alert">Robe Zara fleurie</a></p>
  <p>12,00&nbsp;&euro;</p><p>Taille M &middot; Zara</p>
</td>
<td class="item">
  <a href="https://www.vinted.fr/items/4567899999-robe-midi-zara"><img src="https://images1.vinted.net/t/02_00c3d/f800/1700000002.jpeg" alt=""></a>
  <p>Robe midi Zara &amp; ceinture</p><p>7,50 €</p>
</td>
</tr></table>
<p><a href="https://www.vinted.fr/catalog?search_id=123456">Voir tous les résultats</a></p>
<p>Vinted, UAB &middot; <a href="https://www.vinted.fr/settings/notifications">Se désabonner</a></p>
</body></html>"#;

const UK_TEXT: &str = "Hi Ada,\n\nNew items matching your search \u{201c}nike air max 90\u{201d}:\n\n\
Nike Air Max 90 white\n\u{a3}45.00\nhttps://www.vinted.co.uk/items/3141592653-nike-air-max-90-white?referrer=alert\n\n\
Air Max 90 Infrared, size 9\n\u{a3}60.50\nhttps://www.vinted.co.uk/items/2718281828\n\n\
See all results: https://www.vinted.co.uk/catalog?search_id=42\n";

/// A multipart alert e-mail, 7-bit clean (encoded-word subject, base64 parts) as senders make them.
fn alert_mail(from: &str, subject: &str, text: &str, html: Option<&str>) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let mut raw = format!(
        "From: {from}\r\nTo: ada@example.com\r\nSubject: =?UTF-8?B?{}?=\r\nMessage-ID: <{}@vinted.test>\r\n\
         Date: Sat, 28 Nov 2026 09:15:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        b64(subject),
        subject.len() + text.len(),
        b64(text)
    );
    if let Some(html) = html {
        raw.push_str(&format!(
            "--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(html)
        ));
    }
    raw.push_str("--b1--\r\n");
    raw
}

fn fr_alert() -> String {
    alert_mail(
        "Vinted <no-reply@vinted.fr>",
        "Nouveaux articles pour « robe zara »",
        "Nouveaux articles pour votre recherche. Ouvrez la version HTML.",
        Some(FR_HTML),
    )
}

#[test]
fn catalog_entry_is_labelled_unofficial() {
    let catalog = area_core::services::catalog(&area_core::settings::Settings::from_env());
    let vinted = catalog.service("vinted").expect("vinted");
    assert!(matches!(&vinted.manifest.availability, Availability::Unofficial(r) if r.contains("alert e-mails")));
    let thunderbird = catalog.service("thunderbird").expect("thunderbird");
    assert!(
        matches!(&thunderbird.manifest.availability, Availability::Unavailable(r) if r.contains("Mail (IMAP/SMTP)"))
    );
    assert!(thunderbird.manifest.actions.is_empty() && thunderbird.manifest.reactions.is_empty());
}

#[test]
fn parses_an_html_alert() {
    let events = alert_events(fr_alert().as_bytes());
    assert_eq!(events.len(), 2, "{events:#?}");
    let first = &events[0].ingredients;
    assert_eq!(events[0].key, "4567891234");
    assert_eq!(first["title"], "Robe Zara fleurie");
    assert_eq!(first["price"], "12,00 €");
    assert_eq!(first["link"], "https://www.vinted.fr/items/4567891234-robe-zara-fleurie");
    assert_eq!(first["photo"], "https://images1.vinted.net/t/01_00a1b/f800/1700000001.jpeg?s=abc&v=2");
    assert_eq!(first["search"], "robe zara");
    assert_eq!(first["received_at"], "2026-11-28T09:15:00+01:00");
    let second = &events[1].ingredients;
    assert_eq!(events[1].key, "4567899999");
    assert_eq!(second["title"], "Robe midi Zara & ceinture", "no alt text: the first line of text");
    assert_eq!(second["price"], "7,50 €");
    assert_eq!(second["photo"], "https://images1.vinted.net/t/02_00c3d/f800/1700000002.jpeg");
}

#[test]
fn parses_a_text_only_alert() {
    let raw = alert_mail("Vinted <no-reply@vinted.co.uk>", "New items for “nike air max 90”", UK_TEXT, None);
    let events = alert_events(raw.as_bytes());
    let got: Vec<(String, String, String, String)> = events
        .iter()
        .map(|e| {
            let s = |k: &str| e.ingredients[k].as_str().unwrap().to_string();
            (e.key.clone(), s("title"), s("price"), s("link"))
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "3141592653".into(),
                "Nike Air Max 90 white".into(),
                "£45.00".into(),
                "https://www.vinted.co.uk/items/3141592653-nike-air-max-90-white".into()
            ),
            (
                "2718281828".into(),
                "Air Max 90 Infrared, size 9".into(),
                "£60.50".into(),
                "https://www.vinted.co.uk/items/2718281828".into()
            ),
        ]
    );
    assert_eq!(events[0].ingredients["search"], "nike air max 90");
}

#[test]
fn ignores_other_senders_and_tolerates_junk() {
    for from in ["Fan <vinted-fan@example.com>", "Vinted <no-reply@vinted.fr.example.com>"] {
        assert!(
            alert_events(alert_mail(from, "Nouveaux articles", "x", Some(FR_HTML)).as_bytes()).is_empty(),
            "{from}"
        );
    }
    assert!(parse_alert("", "").is_empty());
    assert!(parse_alert("<a href=\"https://www.vinted.fr/items/", "").is_empty());
    let odd = parse_alert("<a href='https://vinted.de/items/77-x'><b>Jacke</b></a> 5 €<img src=x>", "");
    assert_eq!(odd.len(), 1);
    assert_eq!((odd[0].item_id.as_str(), odd[0].title.as_str(), odd[0].price.as_str()), ("77", "Jacke", "5 €"));
    for junk in ["<<<<", "é<a href=\"https://www.vinted.fr/items/1\">", "\u{0}\u{ffff}"] {
        let _ = parse_alert(junk, junk);
    }
}

#[tokio::test]
async fn engine_fires_once_per_new_item_from_the_mailbox() {
    let env = Env::new().await;
    let server = MailServer::start().await;
    let conns = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&area_core::settings::Settings::from_env()),
    );
    conns.save(env.user_id, "vinted", &server.connection(PASS), None, None).await.unwrap();
    server.append("Vinted", &fr_alert(), None).await;
    let area = env
        .add(spec(json!({
            "name": "robe zara",
            "allow_private_network": true,
            "action": {"service": "vinted", "id": "new_alert_item", "params": server.area_params("Vinted")},
            "reactions": [{"service": "notify", "id": "send", "params": {"title": "{{ title }}", "body": "{{ price }} {{ link }}"}}]
        })))
        .await;
    let recorder = RecordingNotifier::new();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap(); // baseline
    assert_eq!(recorder.count(), 0);
    assert!(env.state(area).await.baselined);

    // A new alert listing one already-seen item and one new item, plus an unrelated mail.
    let html = FR_HTML
        .replace("4567899999-robe-midi-zara", "4600000001-robe-longue")
        .replace("Robe midi Zara &amp; ceinture", "Robe longue");
    let alert = alert_mail("Vinted <no-reply@vinted.fr>", "Nouveaux articles pour « robe zara »", "x", Some(&html));
    server.append("Vinted", &alert, None).await;
    server
        .append("Vinted", &message("bob@example.org", "Robe zara ?", "https://www.vinted.fr/items/99-x", "b@x"), None)
        .await;
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    Engine::run_once(&env.store, config(false), recorder.clone()).await.unwrap();
    let shown = recorder.shown.lock().unwrap().clone();
    assert_eq!(
        shown,
        [("Robe longue".to_string(), "7,50 € https://www.vinted.fr/items/4600000001-robe-longue".to_string())]
    );
    assert_eq!(env.state(area).await.last_error, None);
}
