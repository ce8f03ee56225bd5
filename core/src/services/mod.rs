//! Built-in services: one module per service, each exporting `service(&Settings) -> Service`
//! (`service() -> Service` for those that call no API of their own).
//!
//! Adding a service takes its module file, its `pub mod` line and one line in [`all`] (plus its
//! test and its README entry: ARCHITECTURE.md "Adding a service" walks through ntfy). Services of
//! one provider live in a folder whose `mod.rs` holds what they share ([`google`], [`microsoft`],
//! [`mail`]); what every connector needs lives in [`kit`]. No service imports another. Connectors
//! never hard-code where they talk to: a service that calls an API takes its base URL from the
//! [`Settings`] it is built with ([`Settings::base_url`], the convention `AREA_<SERVICE>_BASE_URL`
//! of ARCHITECTURE.md "Layers"), so tests and home-lab users can point any service at a local
//! server; nothing here reads the environment.

use crate::catalog::{Catalog, Service};
use crate::settings::Settings;

pub mod kit;

pub mod google;
pub mod mail;
pub mod microsoft;

pub mod blablacar;
pub mod coingecko;
pub mod computer;
pub mod discord;
pub mod files;
pub mod github;
pub mod http;
pub mod instagram;
pub mod nasa;
pub mod netflix;
pub mod notify;
pub mod ntfy;
pub mod pinterest;
pub mod pokemongo;
pub mod postman;
pub mod ratp;
pub mod revolut;
pub mod riot;
pub mod rss;
pub mod spotify;
pub mod timer;
pub mod twitter;
pub mod ubisoft;
pub mod weather;
pub mod webhook;

/// The built-in catalog, its services configured by `settings`: what a shell builds once at its
/// start (the composition root) and hands to everything that needs the services.
pub fn catalog(settings: &Settings) -> Catalog {
    Catalog::configured(all(settings), settings.clone())
}

/// Every built-in service, in catalog order, configured by `settings` (base URLs are captured
/// here, once); the catalog, `about.json` and the UI derive from it.
pub fn all(settings: &Settings) -> Vec<Service> {
    vec![
        timer::service(),
        rss::service(),
        webhook::service(),
        http::service(),
        notify::service(),
        files::service(settings),
        computer::service(settings),
        google::gmail::service(settings),
        google::google_drive::service(settings),
        google::youtube::service(settings),
        spotify::service(settings),
        coingecko::service(settings),
        nasa::service(settings),
        weather::service(settings),
        github::service(settings),
        discord::service(settings),
        ntfy::service(settings),
        microsoft::teams::service(settings),
        twitter::service(settings),
        revolut::service(settings),
        blablacar::service(settings),
        netflix::service(settings),
        pokemongo::service(settings),
        ubisoft::service(settings),
        postman::service(settings),
        ratp::service(settings),
        riot::service(settings),
        instagram::service(settings),
        pinterest::service(settings),
        mail::mail::service(),
        mail::outlook::service(settings),
        mail::thunderbird::service(),
        mail::vinted::service(),
    ]
}
