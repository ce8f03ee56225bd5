//! # area-core
//!
//! All of Area's product logic — the store, local accounts, the service catalog, the trigger
//! engine — as a library that knows nothing of Tauri or of the terminal. The `area` command and
//! the desktop app are thin shells over the async functions and serde/specta types defined here,
//! so every feature is defined once and reachable from both.

pub mod about;
pub mod accounts;
pub mod app;
pub mod areas;
pub mod autostart;
pub mod catalog;
pub mod client_key;
pub mod clock;
pub mod condition;
pub mod config;
pub mod connections;
pub mod connector;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod json_text;
pub mod net;
pub mod oauth;
pub mod paths;
pub mod services;
pub mod settings;
pub mod signin;
pub mod store;
pub mod template;

pub use error::Error;
