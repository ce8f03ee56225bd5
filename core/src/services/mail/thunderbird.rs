//! `thunderbird`: listed so users find it, marked unavailable with the reason.
//!
//! Thunderbird is a mail client, not a service: it has no web API (its `messenger.*` WebExtension
//! APIs only run inside a Thunderbird add-on). What Thunderbird does — reading and sending mail —
//! goes through IMAP and SMTP, which the `mail` service speaks directly with the same account.

use std::collections::BTreeMap;

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "thunderbird";

/// The `thunderbird` catalog entry: no actions or reactions.
pub fn service() -> Service {
    Service::new(
        ServiceManifest {
            id: ID,
            name: "Thunderbird",
            description: "Mozilla's mail client. Its mailboxes are reachable through the Mail (IMAP/SMTP) service, \
                          with the same server settings Thunderbird uses.",
            auth: AuthKind::None,
            credential_hosts: vec![],
            oauth: None,
            availability: Availability::Unavailable(
                "Thunderbird has no web API: use Mail (IMAP/SMTP), the protocols Thunderbird itself speaks".into(),
            ),
            actions: Vec::new(),
            reactions: Vec::new(),
        },
        BTreeMap::new(),
        BTreeMap::new(),
    )
}
