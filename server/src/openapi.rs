//! `GET /api/openapi.json`: the API described as OpenAPI 3.0, its schemas generated from the
//! same Rust types the handlers take and answer (schemars, which reads their serde attributes),
//! so the document cannot drift from what the server sends. The operations are listed once
//! here; a test checks that each one is routed.

use area_core::accounts::{AccessToken, NewAccessToken};
use area_core::app::{ApiError, AreaCard, AreaForm, AreaView, ServiceEntry};
use area_core::areas::AreaSummary;
use area_core::catalog::ServiceManifest;
use area_core::connections::ConnectionInfo;
use area_core::engine::history::RunRecord;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::routes::{Authorize, Begin, BeginSignIn, Credentials, Enabled, Invite, NewToken, SessionView, TokenForm};

/// How an operation proves who is calling.
#[derive(Clone, Copy, PartialEq)]
enum Access {
    Public,
    SignedIn,
}

/// One operation of the document.
pub struct Operation {
    /// `get`, `post`, `put`, `delete`.
    pub method: &'static str,
    /// With `{id}` or `{service}` parameters, as routed.
    pub path: &'static str,
    summary: &'static str,
    access: Access,
    request: Option<Value>,
    /// The success status and its body's schema (`None`: no body).
    response: (u16, Option<Value>),
    query: &'static [(&'static str, &'static str)],
}

struct Builder {
    generator: SchemaGenerator,
    operations: Vec<Operation>,
}

impl Builder {
    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    fn op(
        &mut self,
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        access: Access,
    ) -> &mut Operation {
        self.operations.push(Operation {
            method,
            path,
            summary,
            access,
            request: None,
            response: (204, None),
            query: &[],
        });
        self.operations.last_mut().expect("just pushed")
    }
}

impl Operation {
    fn takes(&mut self, schema: Value) -> &mut Self {
        self.request = Some(schema);
        self
    }
    fn answers(&mut self, status: u16, schema: Value) -> &mut Self {
        self.response = (status, Some(schema));
        self
    }
    fn answers_nothing(&mut self, status: u16) -> &mut Self {
        self.response = (status, None);
        self
    }
    fn query(&mut self, query: &'static [(&'static str, &'static str)]) -> &mut Self {
        self.query = query;
        self
    }
}

fn build() -> (Vec<Operation>, Map<String, Value>) {
    let mut b = Builder { generator: SchemaSettings::openapi3().into_generator(), operations: Vec::new() };
    use Access::{Public, SignedIn};

    let (credentials, session) = (b.schema::<Credentials>(), b.schema::<SessionView>());
    b.op("post", "/api/signup", "Create an account (under the server's sign-up policy) and sign it in", Public)
        .takes(credentials.clone())
        .answers(201, session.clone());
    b.op("post", "/api/login", "Sign in: sets the session cookie", Public)
        .takes(credentials)
        .answers(200, session.clone());
    b.op("post", "/api/logout", "End the cookie's session", SignedIn).answers_nothing(204);
    b.op("get", "/api/session", "Who is signed in, and the CSRF token a page sends with changes", SignedIn)
        .answers(200, session);
    let (signin, authorize) = (b.schema::<BeginSignIn>(), b.schema::<Authorize>());
    b.op("post", "/api/signin/begin", "Begin signing in with GitHub or Google: where to send the browser", Public)
        .takes(signin)
        .answers(200, authorize);
    let invite = b.schema::<Invite>();
    b.op("post", "/api/invites", "A single-use invitation code (administrator)", SignedIn).answers(201, invite);

    let (tokens, new_token, made) =
        (b.schema::<Vec<AccessToken>>(), b.schema::<NewToken>(), b.schema::<NewAccessToken>());
    b.op("get", "/api/tokens", "Your personal access tokens (never their secrets)", SignedIn).answers(200, tokens);
    b.op("post", "/api/tokens", "Create a personal access token; its secret is in this answer only", SignedIn)
        .takes(new_token)
        .answers(201, made);
    b.op("delete", "/api/tokens/{id}", "Revoke a personal access token", SignedIn).answers_nothing(204);

    let (services, manifest) = (b.schema::<Vec<ServiceEntry>>(), b.schema::<ServiceManifest>());
    b.op("get", "/api/services", "Every service, with its actions and reactions", Public).answers(200, services);
    b.op("get", "/api/services/{id}", "One service's manifest", Public).answers(200, manifest);

    let (connections, token_form, connection) =
        (b.schema::<Vec<ConnectionInfo>>(), b.schema::<TokenForm>(), b.schema::<ConnectionInfo>());
    b.op("get", "/api/connections", "Your service connections (never their secrets)", SignedIn)
        .answers(200, connections);
    b.op("put", "/api/connections/{service}", "Connect a service with an API key or token", SignedIn)
        .takes(token_form)
        .answers(200, connection);
    b.op("delete", "/api/connections/{service}", "Remove a connection; its areas pause", SignedIn).answers_nothing(204);
    let (begin, authorize) = (b.schema::<Begin>(), b.schema::<Authorize>());
    b.op("post", "/api/oauth/begin", "Begin connecting through the provider: where to send the browser", SignedIn)
        .takes(begin)
        .answers(200, authorize);

    let (cards, form, summary, view) =
        (b.schema::<Vec<AreaCard>>(), b.schema::<AreaForm>(), b.schema::<AreaSummary>(), b.schema::<AreaView>());
    b.op("get", "/api/areas", "Your areas as the dashboard shows them", SignedIn).answers(200, cards);
    b.op("post", "/api/areas", "Create an area from the editor's form", SignedIn)
        .takes(form.clone())
        .answers(201, summary.clone());
    b.op("get", "/api/areas/{id}", "One area, with its form and webhook URL", SignedIn).answers(200, view);
    b.op("put", "/api/areas/{id}", "Replace an area's definition", SignedIn).takes(form).answers(200, summary.clone());
    b.op("delete", "/api/areas/{id}", "Delete an area and its history", SignedIn).answers_nothing(204);
    let enabled = b.schema::<Enabled>();
    b.op("put", "/api/areas/{id}/enabled", "Switch an area on or off", SignedIn).takes(enabled).answers(200, summary);
    b.op("get", "/api/areas/{id}/export", "The area file, secrets replaced by placeholders", SignedIn)
        .answers(200, json!({ "type": "object" }));
    let runs = b.schema::<Vec<RunRecord>>();
    b.op("get", "/api/areas/{id}/runs", "One area's runs, newest first", SignedIn)
        .query(&[("limit", "How many runs (1 to 10,000; 50 by default)")])
        .answers(200, runs.clone());
    b.op("get", "/api/runs", "Your runs, newest first", SignedIn)
        .query(&[("limit", "How many runs (1 to 10,000; 50 by default)")])
        .answers(200, runs);
    b.op("post", "/api/runs/{id}/rerun", "Queue a failed run again", SignedIn).answers_nothing(202);

    let error = b.schema::<ApiError>();
    let mut schemas = b.generator.take_definitions(true);
    schemas.insert("Error".into(), error);
    (b.operations, schemas)
}

/// Every operation the document lists (for the test that checks they are routed).
pub fn operations() -> Vec<Operation> {
    build().0
}

/// The OpenAPI document.
pub fn document() -> Value {
    let (operations, schemas) = build();
    let mut paths = Map::new();
    for op in &operations {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| {
                let schema = if name == "id" {
                    json!({ "type": "integer", "format": "int64" })
                } else {
                    json!({ "type": "string" })
                };
                json!({ "name": name, "in": "path", "required": true, "schema": schema })
            })
            .collect();
        parameters.extend(op.query.iter().map(|(name, description)| {
            json!({ "name": name, "in": "query", "required": false, "description": description,
                    "schema": { "type": "integer", "minimum": 1, "maximum": 10000 } })
        }));
        let mut responses = Map::new();
        let (status, body) = &op.response;
        responses.insert(
            status.to_string(),
            match body {
                Some(schema) => {
                    json!({ "description": "Done", "content": { "application/json": { "schema": schema } } })
                }
                None => json!({ "description": "Done" }),
            },
        );
        responses.insert(
            "default".into(),
            json!({ "description": "What went wrong: `code` says what kind of failure, `field` what input it concerns",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
        let mut operation = json!({
            "summary": op.summary,
            "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}'], "_")),
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(schema) = &op.request {
            operation["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        }
        operation["security"] = match op.access {
            Access::Public => json!([]),
            Access::SignedIn => json!([{ "accessToken": [] }, { "session": [] }]),
        };
        paths.entry(op.path).or_insert_with(|| json!({}))[op.method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Area server API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Area's use-case API for scripts and the web app. Send a personal access token as \
                `Authorization: Bearer area_pat_…`; a browser session (the `area_session` cookie) must also send its \
                CSRF token as `X-CSRF-Token` with every POST, PUT and DELETE. Errors are `{code, message, field}`; \
                the status follows the code.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "accessToken": { "type": "http", "scheme": "bearer", "description": "A personal access token (POST /api/tokens)" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::SESSION_COOKIE },
            },
        },
    })
}
