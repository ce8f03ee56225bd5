//! The connector test kit: what every `services_*` test needs to call a connector directly —
//! parameters from JSON, canned responses, an HTTP client that may reach the local fake server,
//! and a reaction context — so a new service's test file holds only its own cases.

#![allow(dead_code)]

use area_core::connector::{Credential, HttpResponseData, Notifier, Params, ReactionContext};
use area_core::net::{HttpClient, NetConfig};
use serde_json::Value;

/// Parameters from a JSON object literal.
pub fn params(v: Value) -> Params {
    v.as_object().expect("params are a JSON object").clone()
}

/// A 200 answer with this body and no headers.
pub fn ok(body: &str) -> HttpResponseData {
    HttpResponseData { status: 200, headers: vec![], body: body.as_bytes().to_vec() }
}

/// A notifier for reactions that must not notify.
pub struct NoNotifier;
impl Notifier for NoNotifier {
    fn notify(&self, _: &str, _: &str) -> Result<(), String> {
        Err("not used".into())
    }
}

/// The shared client, allowed to reach the loopback fake servers.
pub fn client() -> HttpClient {
    HttpClient::new(NetConfig { allow_private_network: true, ..Default::default() }).expect("HTTP client")
}

/// A reaction context over `http` for one delivery, reaching loopback.
pub fn reaction_ctx<'a>(
    http: &'a HttpClient,
    idempotency_key: &'a str,
    credential: Option<&'a Credential>,
) -> ReactionContext<'a> {
    ReactionContext { http, idempotency_key, notifier: &NoNotifier, allow_private_network: true, credential }
}
