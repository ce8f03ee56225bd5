//! Everything a connector file uses, in one line: `use crate::services::kit::prelude::*;`.
//!
//! A service implements the contracts (catalog manifests, connector traits) with the kit's
//! helpers. Before this module every service file opened with the same four or five import
//! blocks copied from a neighbour; now a new service starts from one line, and a contract type
//! that is renamed is renamed here once. Only contracts and kit items are here — never another
//! service's code (see `tests/service_boundaries.rs`).

pub use super::device::{folder_param, on_device, path_in_folder, DeviceAccess};
pub use super::{
    accept_json, bad_param, bad_response, base64_std, base64_url, bearer, crossing_step, excerpt, http_url_param,
    ingredient, json_post, number_param, opt_bool, opt_str, parse_url, reaction_credential, req_str, send,
    status_error, truncate_chars, CrossingState, Detail, ErrorTable, Outcome, Retry, WhoAmI,
};
pub use crate::catalog::{
    ActionKind, ActionManifest, AuthKind, Availability, ClientKeyGrant, IngredientSpec, LoopbackHost, OAuthProvider,
    ParamSpec, ParamType, Quota, QuotaWindow, ReactionManifest, Service, ServiceManifest, TextContext,
};
pub use crate::connector::{
    ConnectorError, Credential, Event, FetchContext, FetchedAction, HttpRequestSpec, HttpResponseData, Ingredients,
    Params, PollContext, PollOutput, PolledAction, PushRejected, PushedAction, Reaction, ReactionContext,
    ReactionOutput, RenewedToken, ScheduledAction, SourceWait, TokenRenewal,
};
pub use crate::net::{NetError, RequestOptions, MAX_RETRY_AFTER};
pub use crate::settings::Settings;
