//! The connector toolkit: what service modules share, so that no service imports another.
//!
//! - [`params`]: reading an area's parameters (`opt_str`, `req_str`, `opt_bool`, numbers, URLs)
//!   and the [`bad_param`] error.
//! - [`errors`]: the generic mapping of an error answer ([`status_error`], re-exported from the
//!   contract), [`bad_response`], excerpts of upstream messages, and [`ErrorTable`] — one table
//!   per provider saying what each error status means, instead of one hand-written mapper each.
//! - [`http`]: building and sending requests (`Authorization: Bearer`, `Accept: application/json`,
//!   URLs from a configured base), JSON bodies, base64, `Link` header targets (pagination).
//! - [`threshold`]: "fires when a value crosses a limit" triggers (crypto prices, weather).
//! - [`ingredient`]: the one-line ingredient builder every manifest uses.
//! - [`account`]: [`WhoAmI`], the token check of a connection (one "who am I" `GET`).
//! - [`device`]: services that watch or act on the device itself (unavailable on a shared
//!   server; paths kept inside the folder the user chose).

pub mod account;
pub mod device;
pub mod errors;
pub mod http;
pub mod params;
pub mod prelude;
pub mod threshold;

pub use account::WhoAmI;
pub use errors::{bad_response, excerpt, status_error, Detail, ErrorTable, Outcome, Retry, ERROR_EXCERPT_CHARS};
pub use http::{
    accept_json, base64_std, base64_url, bearer, json_post, link_target, parse_url, reaction_credential, send,
};
pub use params::{bad_param, http_url_param, number_param, opt_bool, opt_str, req_str};
pub use threshold::{crossing_step, CrossingState};

pub use crate::connector::truncate_chars;

use crate::catalog::IngredientSpec;

/// One ingredient of an action's manifest: its id, what it holds and a realistic example.
pub fn ingredient(id: &'static str, description: &'static str, example: &'static str) -> IngredientSpec {
    IngredientSpec { id, description, example }
}
