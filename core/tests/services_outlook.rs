//! `outlook` against real IMAP and SMTP servers on loopback (`tests/mail-server`), which accept
//! SASL XOAUTH2 as Outlook.com does and check it: the `user=…^Aauth=Bearer …^A^A` format and the
//! token. A new message read through the engine is sent on through SMTP, both logged in with the
//! access token and the account the sign-in named; a refused token asks to reconnect.
//!
//! Needs Node.js and `npm ci --prefix tests/mail-server` (scripts/test.sh does it).

mod kit;

#[path = "../../tests/mail-server/harness.rs"]
mod mail_server;
mod support;

use area_core::catalog::ActionKind;
use area_core::connections::{Connections, MasterKey, Secret};
use area_core::connector::{ConnectorError, Credential, FetchContext, Params};
use area_core::engine::Engine;
use area_core::services::mail::outlook;
use area_core::settings::Settings;
use mail_server::{message, MailServer, TOKEN, USER};
use serde_json::{json, Value};
use support::*;

fn settings(server: &MailServer) -> Settings {
    Settings::from_pairs([
        ("AREA_OUTLOOK_IMAP_URL", format!("imap://127.0.0.1:{}", server.imap_port)),
        ("AREA_OUTLOOK_SMTP_URL", format!("smtp://127.0.0.1:{}", server.smtp_port)),
    ])
}

fn oauth(token: &str, account: Option<&str>) -> Credential {
    Credential::OAuth2 { access_token: token.into(), account: account.map(str::to_string) }
}

async fn fetch(server: &MailServer, credential: &Credential) -> Result<Vec<String>, ConnectorError> {
    let service = outlook::service(&settings(server));
    let ActionKind::Fetched(action) = &service.actions["new_message"] else { panic!("outlook.new_message is fetched") };
    let params: Params = json!({"folder": "INBOX"}).as_object().unwrap().clone();
    let ctx = FetchContext { params: &params, cursor: None, credential: Some(credential), allow_private_network: true };
    let output = action.fetch(&ctx).await?;
    Ok(output.events.iter().map(|e| e.ingredients["subject"].as_str().unwrap_or_default().to_string()).collect())
}

#[test]
fn signs_in_with_microsoft_for_outlook_mail_and_names_its_servers() {
    let m = outlook::service(&Settings::empty()).manifest;
    let provider = m.oauth.expect("an OAuth2 provider");
    assert_eq!(provider.id, "outlook");
    assert_eq!(provider.auth_url, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
    assert!(provider.scopes.contains(&"https://outlook.office.com/IMAP.AccessAsUser.All"));
    assert!(provider.scopes.contains(&"https://outlook.office.com/SMTP.Send"));
    assert!(provider.scopes.contains(&"offline_access") && provider.scopes.contains(&"email"));
    assert_eq!(m.credential_hosts, ["outlook.office365.com", "smtp-mail.outlook.com"]);
}

#[tokio::test]
async fn reads_a_folder_with_xoauth2_and_refuses_a_bad_token_as_needing_reconnect() {
    let server = MailServer::start().await;
    server.append("INBOX", &message("bob@example.org", "Hello from Bob", "x", "b1@example.org"), None).await;
    assert_eq!(fetch(&server, &oauth(TOKEN, Some(USER))).await.unwrap(), ["Hello from Bob"]);
    let refused = fetch(&server, &oauth("expired-token", Some(USER))).await.unwrap_err();
    assert!(matches!(refused, ConnectorError::AuthExpired { .. }), "{refused:?}");
    // A sign-in that named no account cannot log in: the connection must be made again.
    let nameless = fetch(&server, &oauth(TOKEN, None)).await.unwrap_err();
    assert!(matches!(nameless, ConnectorError::AuthExpired { .. }), "{nameless:?}");
}

#[tokio::test]
async fn the_engine_reads_new_mail_and_sends_it_on_both_with_the_access_token() {
    let env = Env::new().await;
    let server = MailServer::start().await;
    let settings = settings(&server);
    let conns = Connections::new(
        env.store.clone(),
        MasterKey::load(env.store.dir()).unwrap(),
        area_core::services::catalog(&settings),
    );
    let secret =
        Secret::Oauth2 { access_token: TOKEN.into(), refresh_token: None, scope: None, account: Some(USER.into()) };
    let far = chrono::Utc::now().timestamp() + 3600;
    conns.save(env.user_id, "outlook", &secret, None, Some(far)).await.unwrap();
    env.add(spec(json!({
        "name": "forward",
        "allow_private_network": true,
        "action": {"service": "outlook", "id": "new_message", "params": {"folder": "INBOX"}},
        "reactions": [{"service": "outlook", "id": "send", "params": {
            "from": USER, "to": "carol@example.org", "subject": "Fwd: {{ subject }}", "body": "{{ snippet }}"}}]
    })))
    .await;
    let recorder = RecordingNotifier::new();
    server.append("INBOX", &message("bob@example.org", "old", "x", "o1@example.org"), None).await;
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap(); // baseline
    server.append("INBOX", &message("bob@example.org", "Dinner?", "Friday at 8", "n1@example.org"), None).await;
    Engine::run_once(&env.store, config_with(true, &settings), recorder.clone()).await.unwrap();
    let sent = server.smtp_received().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], json!(["carol@example.org"]));
    assert!(sent[0]["raw"].as_str().unwrap_or_default().contains("Subject: Fwd: Dinner?"), "{sent:?}");
    let _: Vec<Value> = sent;
}
