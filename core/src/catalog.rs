//! The catalog: what every service offers, described as data.
//!
//! Each service module returns a [`Service`]: a [`ServiceManifest`]
//! (pure description: ids, parameter schemas, ingredients) plus the code behind each action and
//! reaction. Everything user-facing — `area services`, `about.json`, the UI's generated forms and
//! area validation — is derived from the manifests, so a service describes itself exactly once
//! (the n8n/Activepieces "piece" idea).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::connector::{
    AccountCheck, Credential, FetchedAction, Params, PolledAction, PushedAction, Reaction, ScheduledAction,
    TokenRenewal,
};
use crate::net::{AllowedHosts, CredentialBinding, HttpClient, RequestOptions};
use crate::settings::Settings;

/// How a service authenticates; decides whether an area needs a connection first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// Works without any credentials (timers, public feeds).
    None,
    /// A user-supplied API key or token.
    ApiKey,
    /// OAuth2 authorization code + PKCE.
    OAuth2,
    /// A mailbox password plus the IMAP/SMTP servers and user name it is for, all entered when
    /// connecting (the servers belong to the connection, never to an area).
    MailAccount,
    /// An authorization code grant whose client proves itself with a JWT signed by a key Area
    /// generated, its certificate uploaded at the provider (RFC 7523; Revolut Business): see
    /// [`ClientKeyGrant`].
    ClientKey,
}

/// How a [`AuthKind::ClientKey`] service is authorized: where the user consents, where codes and
/// refresh tokens are exchanged, and what the signed assertion must say. Data, so that the
/// connection code (`connections::client_key`) serves any such provider without naming one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyGrant {
    /// The consent page: `client_id`, `redirect_uri`, `response_type=code` and `scope` are
    /// appended as query parameters, then `consent_fragment` if any.
    pub consent_url: String,
    /// Appended to the consent URL (Revolut's documented links end in `#authorise`).
    pub consent_fragment: Option<&'static str>,
    /// The token endpoint (`POST`, form-encoded, `client_assertion_type` jwt-bearer).
    pub token_url: String,
    /// The assertion's `aud`.
    pub audience: &'static str,
    /// The scope asked for (read-only where the provider allows it).
    pub scope: &'static str,
    /// How long before an access token expires it is renewed.
    pub renew_within: std::time::Duration,
}

/// Whether a service can honestly be used, shown next to it everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Availability {
    /// Backed by the provider's documented public API.
    Available,
    /// Works, with a limitation the user must know (paid tier, account type, …).
    Limited(String),
    /// Built on a public but unofficial source; may break without notice.
    Unofficial(String),
    /// No usable public API: listed so users know why it cannot be offered.
    Unavailable(String),
}

/// The type of a parameter, used both to validate area files and to render form fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParamType {
    /// Free text; may contain `{{ ingredient }}` templates when the parameter is templated.
    String,
    /// A whole number within optional bounds.
    Integer { min: Option<i64>, max: Option<i64> },
    /// A decimal number.
    Number,
    /// true / false.
    Boolean,
    /// One of a fixed set of values.
    Enum { choices: Vec<String> },
    /// An absolute URL.
    Url,
    /// A JSON object of string → string (HTTP headers and the like).
    StringMap,
    /// A date and time, RFC 3339.
    DateTime,
}

/// One parameter of an action or reaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct ParamSpec {
    /// Key used in area files (`params.<id>`).
    pub id: &'static str,
    /// Human label for forms.
    pub label: &'static str,
    /// Help text shown under the field.
    pub help: &'static str,
    #[serde(flatten)]
    pub kind: ParamType,
    pub required: bool,
    /// Default used when the parameter is absent.
    #[specta(type = Option<String>)]
    pub default: Option<serde_json::Value>,
    /// Whether `{{ ingredient }}` templates are expanded in this parameter (reactions only).
    pub templated: bool,
    /// Where the rendered text goes, so that ingredient values are escaped for it
    /// (ARCHITECTURE.md "Trust rules": "Ingredients are rendered for their context").
    /// Meaningful only when `templated`.
    pub context: TextContext,
    /// Holds a secret (a header value, a webhook URL whose path is its token, a key in a URL):
    /// sealed at rest like a connection, replaced by a placeholder on export, never logged.
    pub secret: bool,
    /// The user's explicit permission for what the step does on their computer (run a
    /// program): a yes/no that must be `true` for the area to be saved, shown next to what it
    /// allows, and refused in a shared area file unless the user grants it on import.
    pub consent: bool,
}

/// Where a templated parameter's text ends up, which decides how each ingredient value is
/// escaped when it is rendered: a value read from the internet is data, never syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextContext {
    /// Plain text (a chat message, a mail subject): values are inserted as they are.
    Text,
    /// A URL: a literal `scheme://host[:port]/` must precede the first placeholder, and each
    /// value is percent-encoded as one path segment or query value.
    Url,
    /// A request body that may be JSON: when its literal text is JSON, placeholders must sit
    /// inside strings, values are escaped as string content and the result must parse.
    JsonBody,
    /// An HTTP or mail header value: line breaks and other control characters become spaces.
    Header,
    /// A comma-separated list of mail addresses: a value may supply one address, never add a
    /// recipient (a value holding `,`, `;` or a line break fails the run).
    AddressList,
    /// A file's path inside a folder the user chose: the literal text may name subfolders, a
    /// value only part of a name (a value holding `/`, `\`, a line break or another control
    /// character fails the run); the reaction then refuses `.`, `..` and empty components.
    FileName,
    /// A program's arguments, one per line: a value may fill an argument, never add one (a value
    /// holding a line break or another control character but tab fails the run).
    ArgumentLines,
}

impl ParamSpec {
    /// A required, non-templated parameter; chain the builder methods for the rest.
    pub const fn new(id: &'static str, label: &'static str, help: &'static str, kind: ParamType) -> Self {
        ParamSpec {
            id,
            label,
            help,
            kind,
            required: true,
            default: None,
            templated: false,
            context: TextContext::Text,
            secret: false,
            consent: false,
        }
    }
    /// Makes the parameter optional with the given default (or none).
    pub fn optional(mut self, default: Option<serde_json::Value>) -> Self {
        self.required = false;
        self.default = default;
        self
    }
    /// Lets the parameter hold `{{ ingredient }}` templates, escaped for the context its type
    /// implies: URLs as URLs, string maps (headers) as header values, anything else as text.
    pub fn templated(mut self) -> Self {
        self.templated = true;
        self.context = match self.kind {
            ParamType::Url => TextContext::Url,
            ParamType::StringMap => TextContext::Header,
            _ => TextContext::Text,
        };
        self
    }
    /// Lets the parameter hold templates in a request body that may be JSON (see
    /// [`TextContext::JsonBody`]).
    pub fn templated_json_body(mut self) -> Self {
        self.templated = true;
        self.context = TextContext::JsonBody;
        self
    }
    /// Lets the parameter hold templates rendered for an explicit context.
    pub fn templated_as(mut self, context: TextContext) -> Self {
        self.templated = true;
        self.context = context;
        self
    }
    /// Marks the parameter as a consent (see [`ParamSpec::consent`]).
    pub fn consent(mut self) -> Self {
        self.consent = true;
        self
    }
    /// Marks the parameter as a secret (see [`ParamSpec::secret`]).
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// A named value an action's events carry, usable in reaction templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct IngredientSpec {
    pub id: &'static str,
    pub description: &'static str,
    /// A realistic example value, shown in the ingredient picker.
    pub example: &'static str,
}

/// Description of a trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct ActionManifest {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub params: Vec<ParamSpec>,
    pub ingredients: Vec<IngredientSpec>,
    /// True when the event's fields are not known in advance (webhook bodies): any ingredient
    /// name is accepted in templates.
    pub dynamic_ingredients: bool,
    /// Lowest poll interval allowed, in seconds (polled actions only).
    pub min_interval_secs: Option<u32>,
}

/// Description of something a service does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct ReactionManifest {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub params: Vec<ParamSpec>,
}

/// The host of the loopback redirect URI a provider is sent (`http://<host>:<port>/callback`).
/// Providers compare the registered redirect with the one sent, the port aside (RFC 8252 §7.3):
/// the host must be the one the user registered, and providers differ in what they let users
/// register.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoopbackHost {
    /// `127.0.0.1`, as RFC 8252 §8.3 recommends (Google, Spotify, X, Pinterest).
    #[default]
    Ip,
    /// `localhost`: Microsoft Entra ID lets users register `http://localhost/callback` in the
    /// portal, while an `http://127.0.0.1` redirect needs the app manifest edited by hand.
    Localhost,
}

impl LoopbackHost {
    /// The host as written in the redirect URI.
    pub fn as_str(self) -> &'static str {
        match self {
            LoopbackHost::Ip => "127.0.0.1",
            LoopbackHost::Localhost => "localhost",
        }
    }
}

/// The window a [`Quota`] is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuotaWindow {
    Hour,
    Day,
    /// 30 days, the shortest calendar month being the one that matters.
    Month,
}

impl QuotaWindow {
    /// Its length in seconds.
    pub fn secs(self) -> u64 {
        match self {
            QuotaWindow::Hour => 3_600,
            QuotaWindow::Day => 86_400,
            QuotaWindow::Month => 30 * 86_400,
        }
    }

    /// "an hour", "a day", "a month".
    pub fn per(self) -> &'static str {
        match self {
            QuotaWindow::Hour => "an hour",
            QuotaWindow::Day => "a day",
            QuotaWindow::Month => "a month",
        }
    }
}

/// A documented limit of a service's API (PRIM's 1,000 general-message calls a day per token,
/// YouTube's 10,000 units a day), so that areas are planned within it instead of discovering it
/// as 429s after a day: adding or enabling an area that would exceed it is refused with the
/// figures (`areas::quota`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Calls (or cost units) allowed per window.
    pub limit: u64,
    pub window: QuotaWindow,
    /// What the limit is counted against, in the user's words ("per PRIM token").
    pub counted_per: &'static str,
    /// The cost of one poll of each action the limit counts (actions not listed are free of it).
    pub costs: Vec<(&'static str, u64)>,
}

impl Quota {
    /// What one poll of `action` costs against this quota (0: not counted).
    pub fn cost(&self, action: &str) -> u64 {
        self.costs.iter().find(|(a, _)| *a == action).map_or(0, |(_, c)| *c)
    }

    /// The shortest interval at which one poll of `action` stays within the limit on its own
    /// (Postman's 1,000 calls a month: 2,592 s); `None` when the action is not counted.
    pub fn shortest_interval(&self, action: &str) -> Option<u32> {
        let cost = self.cost(action);
        if cost == 0 {
            return None;
        }
        let calls = (self.limit / cost).max(1);
        Some(u32::try_from(self.window.secs().div_ceil(calls)).unwrap_or(u32::MAX))
    }
}

/// How a service's OAuth2 provider is reached. Services of one provider (Gmail, Drive and
/// YouTube are all Google) share one connection, named by `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct OAuthProvider {
    /// Connection id shared by every service of this provider (`google`, `github`…); also the
    /// `<ID>` of `AREA_<ID>_CLIENT_ID`, `_CLIENT_SECRET`, `_AUTH_URL`, `_TOKEN_URL`.
    pub id: &'static str,
    /// Documented authorization endpoint.
    pub auth_url: &'static str,
    /// Documented token endpoint.
    pub token_url: &'static str,
    /// Scopes this service needs (the connection asks for the union over the provider's services).
    pub scopes: Vec<&'static str>,
    /// Extra authorization parameters as `key=value` (e.g. `access_type=offline`).
    pub extra_auth_params: Vec<&'static str>,
    /// The host of the loopback redirect the user registers with the provider.
    pub loopback_host: LoopbackHost,
}

/// Everything a user needs to know about one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct ServiceManifest {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub auth: AuthKind,
    /// The hosts this service's credential may be sent to (`api.github.com`, or `*.suffix` for any
    /// subdomain), so that no parameter, ingredient or redirect can carry a token elsewhere
    /// (ARCHITECTURE.md "Trust rules"). When `AREA_<SERVICE>_BASE_URL` overrides the API, that
    /// URL's host replaces them; connections that record their own servers (mail) add those. Empty
    /// for services without a connection, or whose connection names its hosts.
    pub credential_hosts: Vec<&'static str>,
    /// The OAuth2 provider, for `AuthKind::OAuth2` services.
    pub oauth: Option<OAuthProvider>,
    pub availability: Availability,
    pub actions: Vec<ActionManifest>,
    pub reactions: Vec<ReactionManifest>,
}

impl ServiceManifest {
    /// Which connection this service's areas use: none, the service's own (API keys), or its
    /// OAuth2 provider's (shared by the provider's services).
    pub fn connection_id(&self) -> Option<&'static str> {
        match (self.auth, &self.oauth) {
            (AuthKind::None, _) => None,
            (AuthKind::OAuth2, Some(provider)) => Some(provider.id),
            _ => Some(self.id),
        }
    }
}

/// How the engine learns about an action's events.
#[derive(Clone)]
pub enum ActionKind {
    /// The engine polls an upstream resource described by the connector.
    Polled(Arc<dyn PolledAction>),
    /// Fires at computed instants (timers).
    Scheduled(Arc<dyn ScheduledAction>),
    /// Events are pushed to the daemon (webhooks); the engine receives them, the action reads
    /// each body.
    Pushed(Arc<dyn PushedAction>),
    /// The engine calls the connector on schedule; the connector does its own (non-HTTP) I/O.
    Fetched(Arc<dyn FetchedAction>),
}

impl ActionKind {
    /// Whether the action's parameters ask to reach loopback/private addresses
    /// ([`PolledAction::wants_private_network`]).
    pub fn wants_private_network(&self, params: &Params) -> bool {
        match self {
            ActionKind::Polled(action) => action.wants_private_network(params),
            _ => false,
        }
    }

    /// Whether events arrive pushed (webhooks), so the area needs a webhook URL.
    pub fn is_pushed(&self) -> bool {
        matches!(self, ActionKind::Pushed(_))
    }
}

/// A service: its manifest plus the code behind each action and reaction id.
#[derive(Clone)]
pub struct Service {
    pub manifest: ServiceManifest,
    pub actions: BTreeMap<&'static str, ActionKind>,
    pub reactions: BTreeMap<&'static str, Arc<dyn Reaction>>,
    /// How a token is checked when connecting; `None`: saved, not checked (the service has no
    /// cheap call that identifies its owner).
    pub account_check: Option<Arc<dyn AccountCheck>>,
    /// How a pasted token is renewed before it expires; `None`: it lasts until the user
    /// connects again.
    pub token_renewal: Option<Arc<dyn TokenRenewal>>,
    /// The documented limit its polls are planned within, if it has one.
    pub quota: Option<Quota>,
    /// How an [`AuthKind::ClientKey`] connection is authorized and renewed.
    pub client_key_grant: Option<ClientKeyGrant>,
}

impl Service {
    /// A service of this manifest, actions and reactions, whose tokens are saved unchecked
    /// (see [`Service::with_account_check`]).
    pub fn new(
        manifest: ServiceManifest,
        actions: BTreeMap<&'static str, ActionKind>,
        reactions: BTreeMap<&'static str, Arc<dyn Reaction>>,
    ) -> Service {
        Service {
            manifest,
            actions,
            reactions,
            account_check: None,
            token_renewal: None,
            quota: None,
            client_key_grant: None,
        }
    }

    /// Checks tokens with `check` when connecting.
    pub fn with_account_check(mut self, check: impl AccountCheck + 'static) -> Service {
        self.account_check = Some(Arc::new(check));
        self
    }

    /// Plans its areas' polls within `quota`.
    pub fn with_quota(mut self, quota: Quota) -> Service {
        self.quota = Some(quota);
        self
    }

    /// Authorizes its connection with a generated client key (see [`ClientKeyGrant`]).
    pub fn with_client_key_grant(mut self, grant: ClientKeyGrant) -> Service {
        self.client_key_grant = Some(grant);
        self
    }

    /// Renews pasted tokens with `renewal` before they expire.
    pub fn with_token_renewal(mut self, renewal: impl TokenRenewal + 'static) -> Service {
        self.token_renewal = Some(Arc::new(renewal));
        self
    }
}

/// The set of services an install offers, indexed by id, with the [`Settings`] they were built
/// with: what area validation, `area services`, `about.json` and the engine look things up in.
/// Built once at a shell's start (the composition root builds the built-in one) and cheap to
/// clone, because every shell and the engine share it.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<CatalogInner>,
}

struct CatalogInner {
    /// In catalog order, for listings.
    services: Vec<Service>,
    /// What the services were built with (base URL overrides decide where credentials may go).
    settings: Settings,
    /// Service id → index in `services`.
    by_id: BTreeMap<&'static str, usize>,
}

impl Catalog {
    /// A catalog of these services, in this order. A later service with an id already seen is
    /// ignored (the first one wins), so a lookup can never be ambiguous.
    pub fn new(services: Vec<Service>) -> Catalog {
        Catalog::configured(services, Settings::empty())
    }

    /// A catalog of these services, built with `settings` (see [`Catalog::new`]).
    pub fn configured(services: Vec<Service>, settings: Settings) -> Catalog {
        let mut by_id = BTreeMap::new();
        let mut kept = Vec::with_capacity(services.len());
        for service in services {
            if by_id.contains_key(service.manifest.id) {
                tracing::warn!(service = service.manifest.id, "duplicate service id ignored");
                continue;
            }
            by_id.insert(service.manifest.id, kept.len());
            kept.push(service);
        }
        Catalog { inner: Arc::new(CatalogInner { services: kept, by_id, settings }) }
    }

    /// The settings the services were built with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Where `manifest`'s service may send `credential`: the origin of its base URL when the
    /// settings override it (`AREA_<SERVICE>_BASE_URL`: tests, EU endpoints, home labs),
    /// otherwise the manifest's [`ServiceManifest::credential_hosts`]; plus the servers the
    /// connection itself records (mail).
    pub fn allowed_hosts(&self, manifest: &ServiceManifest, credential: &Credential) -> AllowedHosts {
        let override_url = self.settings().service(manifest.id, "BASE_URL").and_then(|v| url::Url::parse(v).ok());
        let mut hosts = match override_url {
            Some(url) => AllowedHosts::default().with_origin(&url),
            None => AllowedHosts::names(manifest.credential_hosts.iter().copied()),
        };
        for (host, port) in credential.own_hosts() {
            hosts = hosts.with_host_port(&host, port);
        }
        hosts
    }

    /// `credential` bound to where `manifest`'s service may send it ([`Catalog::allowed_hosts`]),
    /// for the shared client's check.
    pub fn bind_credential(&self, manifest: &ServiceManifest, credential: &Credential) -> CredentialBinding {
        CredentialBinding::new(manifest.id, credential.secret(), self.allowed_hosts(manifest, credential))
    }

    /// The shared client with `credential` bound to `manifest`'s hosts, and the options for a
    /// call the service makes about its own connection (an account check, a token renewal): a
    /// base URL the device's owner configured (a home server, a test fake) may be private.
    pub fn connection_client(
        &self,
        http: &HttpClient,
        manifest: &ServiceManifest,
        credential: &Credential,
    ) -> (HttpClient, RequestOptions) {
        let client = http.with_credential(Arc::new(self.bind_credential(manifest, credential)));
        let configured = self.settings().service(manifest.id, "BASE_URL").is_some();
        (client, RequestOptions { allow_private_network: configured, ..RequestOptions::default() })
    }

    /// Every service, in catalog order.
    pub fn services(&self) -> &[Service] {
        &self.inner.services
    }

    /// Every service's manifest, in catalog order (listings, `about.json`, UI forms).
    pub fn manifests(&self) -> impl Iterator<Item = &ServiceManifest> + '_ {
        self.inner.services.iter().map(|s| &s.manifest)
    }

    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.inner.by_id.get(id).map(|&i| &self.inner.services[i])
    }

    /// An action by service and action id: its service's manifest, its own manifest and the code
    /// behind it. `None` when either id is unknown or the service declares the action without
    /// implementing it.
    pub fn action(&self, service: &str, id: &str) -> Option<(&ServiceManifest, &ActionManifest, &ActionKind)> {
        let s = self.service(service)?;
        let manifest = s.manifest.actions.iter().find(|a| a.id == id)?;
        let kind = s.actions.get(id)?;
        Some((&s.manifest, manifest, kind))
    }

    /// A reaction by service and reaction id, like [`Catalog::action`].
    pub fn reaction(
        &self,
        service: &str,
        id: &str,
    ) -> Option<(&ServiceManifest, &ReactionManifest, &Arc<dyn Reaction>)> {
        let s = self.service(service)?;
        let manifest = s.manifest.reactions.iter().find(|r| r.id == id)?;
        let code = s.reactions.get(id)?;
        Some((&s.manifest, manifest, code))
    }
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("services", &self.inner.by_id.keys().collect::<Vec<_>>()).finish()
    }
}
