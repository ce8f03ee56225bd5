//! Reaction parameter templates: `Hello {{ title }}`, `{{ author | default("someone") }}`.
//!
//! ARCHITECTURE.md "Trust rules": "Templates themselves are logic-less and bounded". A
//! template is text with `{{ expression }}` placeholders, rendered once per event with that
//! event's ingredients. The rendering engine is `minijinja`, but users never see its full
//! language: [`Template::parse`] runs a small parser of our own that accepts only
//!
//! - ingredient names (`title`), attribute and index access (`issue.title`, `labels[0]`,
//!   `labels.0`, `data["key"]`),
//! - literals (`"text"` / `'text'` with JSON-style escapes, `12`, `-1.5`, `true`, `false`, `none`),
//! - filters with positional literal-or-ingredient arguments (`{{ summary | truncate(100) }}`),
//! - Jinja whitespace control (`{{- x -}}` trims the whitespace before/after the placeholder).
//!
//! Everything else is refused with a [`TemplateError`] that names it: `{% … %}` statements
//! (`for`, `if`, `set`, …), function and method calls, operators (`+`, `~`, `==`, `and`, …),
//! inline `if`/`else`, tests (`is defined`), list/map literals, keyword arguments.
//!
//! Decisions:
//! - The accepted expression is re-emitted in a canonical form and only *that* text is given to
//!   minijinja, so minijinja's lexer can never read the source differently from our parser (no
//!   smuggling a `{% … %}` through a string literal or an escape).
//! - `{# … #}` is **not** a comment: it is literal text (messages like `{#general}` stay intact).
//!   Only `{{` and `{%` are markup. [`is_template`] therefore answers true for either, so that a
//!   stray `{% if %}` reaches [`Template::parse`] and gets a clear error instead of being sent
//!   as literal text.
//! - Missing ingredients, missing attributes and JSON `null` render as the empty string (the
//!   "chainable" undefined: `{{ issue.title }}` is empty when `issue` is missing). Numbers and
//!   booleans render naturally (`100`, `1.5`, `true` — not Python's `True`); lists and objects render as compact JSON.
//!   Nothing is HTML-escaped: reactions are chat messages, e-mails, JSON bodies, not HTML pages.
//!
//! Contexts (ARCHITECTURE.md "Trust rules": ingredients are rendered for their context, as data,
//! never syntax). A reaction parameter declares where its text goes ([`TextContext`]) and
//! [`Template::render_in`] escapes every value for it; the template's own literal text is never
//! escaped:
//! - *text*: values as they are;
//! - *URL*: a literal `http(s)://host[:port]` followed by `/`, `?` or `#` must precede the first
//!   placeholder ([`Template::check_context`], checked when the area is saved); every value is
//!   percent-encoded down to RFC 3986's unreserved characters, so it is one path segment or one
//!   query value (`urlencode`'s output is not encoded twice); the rendered URL must keep that
//!   origin and stay under the literal path (a value `..` cannot climb out of it);
//! - *JSON body*: when the literal text is JSON with every placeholder inside a string, values
//!   are escaped as JSON string content and the result must parse; a body that starts like JSON
//!   with a placeholder outside quotes is refused when saved; any other body is plain text;
//! - *header*: line breaks and other control characters become spaces;
//! - *file name*: a value may be part of a name, never a path (`/`, `\` or a control character
//!   fails the run);
//! - *argument lines*: a value may fill one argument, never add one (a line break fails the run);
//! - *address list* (mail recipients): a value may be one address, never a list, so a sender's
//!   name cannot add recipients.
//! - A trailing newline is kept (minijinja drops one by default), so text without placeholders
//!   renders byte-for-byte unchanged.
//! - The environment is [`Environment::empty`] plus our own filters: no globals, no functions,
//!   no tests, no builtin filters. The filters are: `upper`, `lower`, `capitalize`, `title`,
//!   `trim`, `replace`, `truncate`, `default` (alias `d`), `length`, `first`, `last`, `join`,
//!   `urlencode`, `tojson`. Each one refuses to produce more than [`MAX_OUTPUT_LEN`] bytes, so
//!   chaining (`replace("", "xxxx")` five times) cannot blow up memory.
//! - `default(x)` also replaces JSON `null` and the empty string, not only a missing value
//!   (automation users expect `{{ author | default("someone") }}` to cover an empty author);
//!   `default(x, true)` replaces every falsy value (`0`, `false`, `[]`) as in Jinja.
//! - `truncate(n)` keeps at most `n` characters (Unicode scalar values, never splitting one)
//!   *including* the ellipsis `…`, trimming whitespace before it; `truncate(n, "...")` picks
//!   another ending. Text of at most `n` characters is returned unchanged.
//! - Bounds: source ≤ [`MAX_SOURCE_LEN`] bytes, each placeholder ≤ [`MAX_PLACEHOLDER_STEPS`]
//!   steps (names, accesses, filters, arguments — this also bounds parser recursion and
//!   minijinja's AST depth), rendering ≤ [`FUEL`] minijinja instructions, output ≤
//!   [`MAX_OUTPUT_LEN`] bytes. Every limit is an error, never a panic.
//! - A [`Template`] keeps its canonical text and is compiled again by minijinja at each render
//!   (microseconds for templates this small) because a compiled minijinja template borrows its
//!   source and could not be stored in an owned, `Clone` value.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::sync::{LazyLock, RwLock};

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

use crate::catalog::TextContext;
use crate::connector::Ingredients;

/// Longest accepted template source, in bytes: a reaction parameter, not a document.
pub const MAX_SOURCE_LEN: usize = 16 * 1024;

/// Largest rendered text, in bytes: protects memory and the reaction's upstream from huge bodies.
pub const MAX_OUTPUT_LEN: usize = 1024 * 1024;

/// minijinja instructions one render may execute; a real template uses a few dozen.
pub const FUEL: u64 = 5_000;

/// Most steps (names, literals, `.attr`, `[index]`, filters) one placeholder may contain:
/// bounds our parser's recursion and minijinja's expression depth, which it does not limit itself.
pub const MAX_PLACEHOLDER_STEPS: usize = 64;

/// Names of the filters a template may use, for validation and error messages.
pub const FILTERS: &[&str] = &[
    "capitalize",
    "d",
    "default",
    "first",
    "join",
    "last",
    "length",
    "lower",
    "replace",
    "title",
    "tojson",
    "trim",
    "truncate",
    "upper",
    "urlencode",
];

/// Words minijinja reads as operators or keywords, so they cannot be ingredient names.
const RESERVED: &[&str] = &["and", "or", "not", "in", "is", "if", "else"];

/// Why a template could not be parsed or rendered. Messages are shown to the user as is: each
/// says what went wrong and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The source is longer than [`MAX_SOURCE_LEN`].
    #[error("template is {len} bytes long, more than the {max} allowed — shorten it")]
    TooLong { len: usize, max: usize },
    /// Malformed placeholder: unclosed `{{`, bad string, unexpected character…
    #[error(
        "template syntax error at line {line}, column {column}: {message} — templates look like \
         {{{{ title }}}} or {{{{ title | upper }}}}"
    )]
    Syntax { line: usize, column: usize, message: String },
    /// A `{% … %}` statement (`for`, `if`, `set`…).
    #[error(
        "`{{% {keyword} %}}` at line {line}, column {column} is not supported: templates are \
         logic-less, only {{{{ ingredient }}}} placeholders with filters — to decide whether an \
         area runs at all, give it a condition"
    )]
    Statement { line: usize, column: usize, keyword: String },
    /// A construct outside the logic-less subset (calls, operators, inline if, …).
    #[error(
        "{what} is not allowed (line {line}, column {column}): templates only read ingredients \
         — use {{{{ name }}}}, {{{{ name.field }}}}, {{{{ name[0] }}}}, literals and filters \
         such as {{{{ name | upper }}}}"
    )]
    NotAllowed { line: usize, column: usize, what: String },
    /// A filter name that is not in [`FILTERS`].
    #[error("unknown filter `{name}` at line {line}, column {column} — available filters: {available}")]
    UnknownFilter { line: usize, column: usize, name: String, available: String },
    /// A placeholder with more than [`MAX_PLACEHOLDER_STEPS`] steps.
    #[error(
        "the placeholder at line {line}, column {column} is too complex (more than {max} names, \
         accesses and filters) — split it into several placeholders"
    )]
    TooComplex { line: usize, column: usize, max: usize },
    /// The rendered text would exceed [`MAX_OUTPUT_LEN`].
    #[error(
        "the rendered text would be larger than {max} bytes — shorten long ingredients, e.g. \
         {{{{ summary | truncate(1000) }}}}"
    )]
    OutputTooLarge { max: usize },
    /// Rendering needed more than [`FUEL`] steps.
    #[error(
        "the template needs too much work to render (more than {fuel} steps) — use fewer \
         placeholders and filters"
    )]
    OutOfFuel { fuel: u64 },
    /// A filter failed on the actual values (wrong argument type, …).
    #[error("could not render the template: {message}")]
    Render { message: String },
    /// A templated URL whose literal start does not pin down where the request goes.
    #[error(
        "a URL that uses ingredients must start with a literal address such as https://example.com/ \
         (scheme, host, optional port, then `/`, `?` or `#`) before the first {{{{ … }}}}, so that no \
         ingredient can choose where the request goes; it starts with {literal:?}"
    )]
    UrlBase { literal: String },
    /// A rendered URL that no longer has the origin or path its literal start fixes.
    #[error(
        "the rendered URL would leave {origin}{path_prefix}: ingredient values are placed as one path \
         segment or query value and cannot change where a request goes"
    )]
    UrlEscaped { origin: String, path_prefix: String },
    /// A JSON body that is not JSON, before or after rendering.
    #[error("{message}")]
    JsonBody { message: String },
}

/// A parsed, validated reaction-parameter template. Parse once when an area is saved (to report
/// errors to the user then), render once per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// What the user wrote, for display and round-trips.
    source: String,
    /// The canonical minijinja text we emitted after validation (see the module doc).
    compiled: String,
    /// Top-level ingredient names read, computed once at parse time.
    ingredients: BTreeSet<String>,
    /// The literal text as emitted, each placeholder replaced by [`SLOT`]: what the user wrote
    /// as syntax, so a context can be checked without any ingredient value (see
    /// [`Template::check_context`]).
    skeleton: String,
    /// [`Template::json_mode`], decided once from the skeleton rather than per render.
    json_mode: Result<bool, TemplateError>,
}

/// Stands for a placeholder in [`Template`]'s skeleton: a private-use character, never valid
/// JSON outside a string and never part of a URL's literal start.
const SLOT: char = '\u{E000}';

/// Whether a string contains template markup (`{{` or `{%`), so callers can skip parsing plain
/// text and still surface errors for stray statements.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

impl Template {
    /// Parses and validates `source` against the logic-less subset, so that every error a user
    /// can fix is reported when the area is saved rather than when an event arrives.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        if source.len() > MAX_SOURCE_LEN {
            return Err(TemplateError::TooLong { len: source.len(), max: MAX_SOURCE_LEN });
        }
        let (compiled, skeleton) = translate(source)?;
        let tmpl = ENV.template_from_str(&compiled).map_err(|e| TemplateError::Syntax {
            line: e.line().unwrap_or(1),
            column: 1,
            message: detail(&e),
        })?;
        let ingredients = tmpl.undeclared_variables(false).into_iter().collect();
        let json_mode = json_mode(&skeleton);
        Ok(Template { source: source.to_owned(), compiled, ingredients, skeleton, json_mode })
    }

    /// Whether the template has any placeholder (text without one renders as itself).
    pub fn has_placeholders(&self) -> bool {
        self.skeleton.contains(SLOT)
    }

    /// Checks that the template can be rendered safely into `context`, from what the user wrote
    /// alone, so the mistake is reported when the area is saved:
    /// - [`TextContext::Url`]: a literal `scheme://host[:port]` followed by `/`, `?` or `#` must
    ///   come before the first placeholder, so no value can choose where the request goes;
    /// - [`TextContext::JsonBody`]: when the literal text is JSON (or starts like JSON), every
    ///   placeholder must sit inside a JSON string, so no value can add fields or change types.
    pub fn check_context(&self, context: TextContext) -> Result<(), TemplateError> {
        match context {
            TextContext::Url if self.has_placeholders() => url_base(&self.skeleton).map(drop),
            TextContext::JsonBody => self.json_mode().map(drop),
            _ => Ok(()),
        }
    }

    /// For a JSON-body context: `Ok(true)` when the literal text is JSON with every placeholder
    /// inside a string (values are then escaped as string content), `Ok(false)` for a plain-text
    /// body, an error when it starts like JSON but is not valid JSON with its placeholders quoted.
    fn json_mode(&self) -> Result<bool, TemplateError> {
        self.json_mode.clone()
    }

    /// Renders for `context`, escaping every value for where it goes (module doc, "Contexts"),
    /// then checks the result: a URL must keep the origin and path its literal start fixes, a
    /// JSON body must parse. Ingredients are data, never syntax.
    pub fn render_in(&self, ingredients: &Ingredients, context: TextContext) -> Result<String, TemplateError> {
        let escape = match context {
            TextContext::Text => "text",
            TextContext::Header => "header",
            TextContext::AddressList => "address",
            TextContext::FileName => "filename",
            TextContext::ArgumentLines => "args",
            TextContext::Url if self.has_placeholders() => "url",
            TextContext::Url => "text",
            TextContext::JsonBody if self.json_mode()? => "json",
            TextContext::JsonBody => "text",
        };
        let rendered = self.render_named(ingredients, escape)?;
        match escape {
            "url" => check_rendered_url(&url_base(&self.skeleton)?, &rendered)?,
            "json" => {
                serde_json::from_str::<serde::de::IgnoredAny>(&rendered).map_err(|e| TemplateError::JsonBody {
                    message: format!("the rendered body is not valid JSON ({e})"),
                })?;
            }
            _ => {}
        }
        Ok(rendered)
    }

    /// The text the user wrote, e.g. to show it back in a form.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Top-level ingredient names the template reads (`issue` for `{{ issue.title }}`), so an
    /// area can be checked against its action's ingredient list when it is saved.
    pub fn ingredients(&self) -> BTreeSet<String> {
        self.ingredients.clone()
    }

    /// Renders the template with one event's ingredients. Missing ingredients render as the
    /// empty string (use `default(…)` to say otherwise); limits become errors, never panics.
    pub fn render(&self, ingredients: &Ingredients) -> Result<String, TemplateError> {
        self.render_named(ingredients, "text")
    }

    /// Renders under the escaping named `escape` (`text`, `url`, `json`, `header`: the
    /// environment's auto-escape callback maps the template name to it).
    fn render_named(&self, ingredients: &Ingredients, escape: &'static str) -> Result<String, TemplateError> {
        let name = compiled_name(escape, &self.compiled);
        let mut out = CappedWriter { buf: Vec::new(), exceeded: false };
        let result =
            COMPILED.render(&name, &self.compiled, |tmpl| tmpl.render_captured_to(ingredients, &mut out).map(|_| ()));
        match result {
            Ok(_) => String::from_utf8(out.buf)
                .map_err(|_| TemplateError::Render { message: "the output is not UTF-8".into() }),
            Err(e) => Err(render_error(&e, out.exceeded)),
        }
    }
}

/// The name a compiled template is kept under: its escaping, a separator no template text
/// holds, then its canonical text (so equal templates share one compiled copy).
fn compiled_name(escape: &str, compiled: &str) -> String {
    let mut name = String::with_capacity(escape.len() + 1 + compiled.len());
    name.push_str(escape);
    name.push(NAME_SEPARATOR);
    name.push_str(compiled);
    name
}

/// Separates a compiled template's escaping from its text in its name.
const NAME_SEPARATOR: char = '\u{0}';

/// Most compiled templates kept; past it the cache starts over (areas' templates are few, so
/// this only bounds memory against a flood of distinct templates).
const MAX_COMPILED: usize = 4096;

/// Templates compiled once and rendered for every event, rather than compiled per render
/// (compiling cost about as much as rendering on the webhook hot path; bench/README.md). An
/// environment like [`ENV`] that owns the compiled templates, by name.
struct CompiledTemplates {
    env: RwLock<Environment<'static>>,
}

impl CompiledTemplates {
    /// Runs `f` on the compiled template `name` (`escape`, separator, `source`), compiling it on
    /// first use.
    fn render<R>(
        &self,
        name: &str,
        source: &str,
        f: impl FnOnce(&minijinja::Template<'_, '_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        {
            let env = self.env.read().unwrap_or_else(|e| e.into_inner());
            if let Ok(tmpl) = env.get_template(name) {
                return f(&tmpl);
            }
        }
        let mut env = self.env.write().unwrap_or_else(|e| e.into_inner());
        if env.templates().count() >= MAX_COMPILED {
            env.clear_templates();
        }
        env.add_template_owned(name.to_owned(), source.to_owned())?;
        let tmpl = env.get_template(name)?;
        f(&tmpl)
    }
}

static COMPILED: LazyLock<CompiledTemplates> =
    LazyLock::new(|| CompiledTemplates { env: RwLock::new(configured_environment()) });

/// Whether a skeleton is a JSON body with every placeholder inside a string (see
/// [`Template::json_mode`]).
fn json_mode(skeleton: &str) -> Result<bool, TemplateError> {
    let parsed = serde_json::from_str::<serde_json::Value>(skeleton);
    let looks_like_json = matches!(skeleton.trim_start().chars().next(), Some('{' | '['));
    match parsed {
        Ok(_) => Ok(true),
        Err(_) if !looks_like_json => Ok(false),
        Err(e) => Err(TemplateError::JsonBody {
            message: format!(
                "the body looks like JSON but is not valid JSON with its placeholders inside quotes ({}) — \
                     write each placeholder inside a string, e.g. {{\"text\": \"{{{{ title }}}}\"}}",
                e.to_string().replace(SLOT, "{{…}}")
            ),
        }),
    }
}

impl fmt::Display for Template {
    /// Shows the source as the user wrote it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The one minijinja environment, configured once: no auto-escape, lenient undefined, fuel,
/// our filters only.
static ENV: LazyLock<Environment<'static>> = LazyLock::new(configured_environment);

/// Builds an environment as [`ENV`] describes. The auto-escape callback reads the escaping from
/// the template's name: the whole name for [`ENV`]'s one-off templates, the part before
/// [`NAME_SEPARATOR`] for [`COMPILED`]'s.
fn configured_environment() -> Environment<'static> {
    let mut env = Environment::empty();
    env.set_auto_escape_callback(|name| match name.split(NAME_SEPARATOR).next().unwrap_or(name) {
        "url" => AutoEscape::Custom("url"),
        "json" => AutoEscape::Custom("json"),
        "header" => AutoEscape::Custom("header"),
        "address" => AutoEscape::Custom("address"),
        "filename" => AutoEscape::Custom("filename"),
        "args" => AutoEscape::Custom("args"),
        _ => AutoEscape::None,
    });
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_keep_trailing_newline(true);
    env.set_fuel(Some(FUEL));
    // Debug mode clones the template source into every error; our errors do not need it.
    env.set_debug(false);
    env.set_formatter(|out, state, value| {
        let text = to_text(value)?;
        // Safe values are the template's own literal text and `urlencode`'s output (only
        // unreserved characters and %XX): syntax the user wrote, or already encoded.
        if value.is_safe() {
            return out.write_str(&text).map_err(Error::from);
        }
        let escaped = escape_for(state.auto_escape(), &text)?;
        if escaped.len() > MAX_OUTPUT_LEN {
            return Err(too_large());
        }
        out.write_str(&escaped).map_err(Error::from)
    });
    env.add_filter(LITERAL_FILTER, |v: Value| Value::from_safe_string(v.as_str().unwrap_or_default().to_owned()));
    env.add_filter("upper", filters::upper);
    env.add_filter("lower", filters::lower);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("title", filters::title);
    env.add_filter("trim", filters::trim);
    env.add_filter("replace", filters::replace);
    env.add_filter("truncate", filters::truncate);
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("length", filters::length);
    env.add_filter("first", filters::first);
    env.add_filter("last", filters::last);
    env.add_filter("join", filters::join);
    env.add_filter("urlencode", filters::urlencode);
    env.add_filter("tojson", filters::tojson);
    env
}

/// An output buffer that refuses to grow past [`MAX_OUTPUT_LEN`].
struct CappedWriter {
    buf: Vec<u8>,
    exceeded: bool,
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > MAX_OUTPUT_LEN {
            self.exceeded = true;
            return Err(io::Error::other("template output too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// minijinja's message for an error, without its "(in <string>:1)" location suffix.
fn detail(e: &Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

fn render_error(e: &Error, output_exceeded: bool) -> TemplateError {
    if output_exceeded || e.detail() == Some(TOO_LARGE) {
        return TemplateError::OutputTooLarge { max: MAX_OUTPUT_LEN };
    }
    match e.kind() {
        ErrorKind::OutOfFuel => TemplateError::OutOfFuel { fuel: FUEL },
        _ => TemplateError::Render { message: detail(e) },
    }
}

/// Internal filter marking the template's own literal text (re-emitted as a string literal by
/// [`emit_text`]) as safe, so a context never escapes what the user wrote. Users cannot name it:
/// the parser accepts only [`FILTERS`].
const LITERAL_FILTER: &str = "__literal";

/// Escapes one rendered value for the context named by the template (module doc, "Contexts").
fn escape_for(mode: AutoEscape, text: &str) -> Result<std::borrow::Cow<'_, str>, Error> {
    use std::borrow::Cow;
    Ok(match mode {
        AutoEscape::Custom("address") if text.contains([',', ';']) || text.chars().any(char::is_control) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "an ingredient may supply one address, not a list: its value holds a `,`, `;` or line break",
            ));
        }
        AutoEscape::Custom("filename") if text.contains(['/', '\\']) || text.chars().any(char::is_control) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "an ingredient may supply part of a file name, not a path: its value holds a `/`, `\\` or a \
                 control character",
            ));
        }
        AutoEscape::Custom("args") if text.chars().any(|c| c.is_control() && c != '\t') => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "an ingredient may fill one argument, never add one: its value holds a line break or another \
                 control character (send long text as the program's input instead)",
            ));
        }
        AutoEscape::Custom("url") => Cow::Owned(percent_encode(text)),
        AutoEscape::Custom("json") => {
            let quoted = serde_json::Value::from(text).to_string();
            Cow::Owned(quoted[1..quoted.len() - 1].to_owned())
        }
        AutoEscape::Custom("header") if text.chars().any(char::is_control) => {
            Cow::Owned(text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
        }
        _ => Cow::Borrowed(text),
    })
}

/// Percent-encodes every byte but RFC 3986's unreserved characters, so the result is one path
/// segment or one query value whatever the text holds (`/`, `?`, `&`, `#`, `@`, `:` included).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// What a templated URL's literal start pins down: its origin, and the path up to its last `/`.
struct UrlBase {
    origin: url::Origin,
    shown_origin: String,
    path_prefix: String,
}

/// Reads the literal start of a templated URL (the skeleton up to the first placeholder); it must
/// be `http(s)://authority` followed by `/`, `?` or `#`.
fn url_base(skeleton: &str) -> Result<UrlBase, TemplateError> {
    let literal = skeleton.split(SLOT).next().unwrap_or_default().trim_start();
    let refuse = || TemplateError::UrlBase { literal: literal.chars().take(80).collect() };
    let (scheme, rest) = literal.split_once("://").ok_or_else(refuse)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(refuse());
    }
    match rest.find(['/', '?', '#']) {
        Some(end) if end > 0 => {}
        _ => return Err(refuse()),
    }
    let url = url::Url::parse(literal).map_err(|_| refuse())?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse());
    }
    let path = url.path();
    let path_prefix = path[..path.rfind('/').map_or(0, |i| i + 1)].to_owned();
    Ok(UrlBase { origin: url.origin(), shown_origin: url.origin().ascii_serialization(), path_prefix })
}

/// Checks a rendered URL against its template's [`UrlBase`]: same origin, and (after the URL
/// parser resolves `.`/`..` segments) still under the literal path.
fn check_rendered_url(base: &UrlBase, rendered: &str) -> Result<(), TemplateError> {
    let escaped =
        || TemplateError::UrlEscaped { origin: base.shown_origin.clone(), path_prefix: base.path_prefix.clone() };
    let url = url::Url::parse(rendered.trim()).map_err(|_| escaped())?;
    if url.origin() != base.origin || !url.path().starts_with(&base.path_prefix) {
        return Err(escaped());
    }
    Ok(())
}

/// Detail of the error a filter returns when its result would exceed [`MAX_OUTPUT_LEN`].
const TOO_LARGE: &str = "result larger than the output limit";

fn too_large() -> Error {
    Error::new(ErrorKind::InvalidOperation, TOO_LARGE)
}

/// How a value reads as text: empty for missing/null, JSON for lists and objects, natural
/// display otherwise. Used by the output formatter and by every text filter.
fn to_text(value: &Value) -> Result<String, Error> {
    let text = match value.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        // minijinja prints Python's `True`; JSON bodies and humans expect `true`.
        ValueKind::Bool => if value.is_true() { "true" } else { "false" }.to_owned(),
        ValueKind::Seq | ValueKind::Map => serde_json::to_string(value).unwrap_or_else(|_| value.to_string()),
        _ => value.to_string(),
    };
    if text.len() > MAX_OUTPUT_LEN {
        return Err(too_large());
    }
    Ok(text)
}

/// Fails when a filter result would be larger than [`MAX_OUTPUT_LEN`].
fn capped(text: String) -> Result<Value, Error> {
    if text.len() > MAX_OUTPUT_LEN {
        return Err(too_large());
    }
    Ok(Value::from(text))
}

/// The filters a template may use. All take [`Value`]s so that wrong arguments get a message
/// naming the filter rather than a generic type error.
mod filters {
    use super::{capped, to_text, too_large, Error, ErrorKind, Value, ValueKind, MAX_OUTPUT_LEN};

    fn invalid(message: String) -> Error {
        Error::new(ErrorKind::InvalidOperation, message)
    }

    /// A whole number ≥ 0 argument.
    fn count_arg(filter: &str, value: &Value) -> Result<usize, Error> {
        match value.as_i64() {
            Some(n) if n >= 0 && value.is_integer() => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => Err(invalid(format!("{filter} needs a whole number ≥ 0, e.g. {filter}(100), not {value}"))),
        }
    }

    pub fn upper(v: Value) -> Result<Value, Error> {
        capped(to_text(&v)?.to_uppercase())
    }

    pub fn lower(v: Value) -> Result<Value, Error> {
        capped(to_text(&v)?.to_lowercase())
    }

    /// First character upper-cased, the rest lower-cased (Jinja's `capitalize`).
    pub fn capitalize(v: Value) -> Result<Value, Error> {
        let text = to_text(&v)?;
        let mut chars = text.chars();
        let out = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars.as_str().to_lowercase().chars()).collect(),
            None => String::new(),
        };
        capped(out)
    }

    /// Each word's first letter upper-cased, the rest lower-cased.
    pub fn title(v: Value) -> Result<Value, Error> {
        let text = to_text(&v)?;
        let mut out = String::with_capacity(text.len());
        let mut at_word_start = true;
        for c in text.chars() {
            if c.is_alphanumeric() {
                if at_word_start {
                    out.extend(c.to_uppercase());
                } else {
                    out.extend(c.to_lowercase());
                }
                at_word_start = false;
            } else {
                out.push(c);
                at_word_start = true;
            }
        }
        capped(out)
    }

    /// Strips whitespace, or the given characters, from both ends.
    pub fn trim(v: Value, chars: Option<Value>) -> Result<Value, Error> {
        let text = to_text(&v)?;
        let out = match chars {
            None => text.trim().to_owned(),
            Some(chars) => {
                let chars = to_text(&chars)?;
                text.trim_matches(|c| chars.contains(c)).to_owned()
            }
        };
        Ok(Value::from(out))
    }

    /// `replace(old, new)` / `replace(old, new, count)`; the result size is checked before
    /// it is built.
    pub fn replace(v: Value, from: Value, to: Value, count: Option<Value>) -> Result<Value, Error> {
        let text = to_text(&v)?;
        let from = to_text(&from)?;
        let to = to_text(&to)?;
        let limit = match count {
            Some(c) => count_arg("replace", &c)?,
            None => usize::MAX,
        };
        let found = if from.is_empty() { text.chars().count() + 1 } else { text.matches(from.as_str()).count() };
        let n = found.min(limit);
        let new_len = (text.len() as u128) + (n as u128) * (to.len() as u128) - (n as u128) * (from.len() as u128);
        if new_len > MAX_OUTPUT_LEN as u128 {
            return Err(too_large());
        }
        Ok(Value::from(text.replacen(from.as_str(), &to, n)))
    }

    /// At most `length` characters including the ending (default `…`), never splitting a
    /// character; whitespace before the ending is trimmed.
    pub fn truncate(v: Value, length: Value, end: Option<Value>) -> Result<Value, Error> {
        let n = count_arg("truncate", &length)?;
        let text = to_text(&v)?;
        let end = match end {
            Some(e) => to_text(&e)?,
            None => "…".to_owned(),
        };
        if text.chars().count() <= n {
            return Ok(Value::from(text));
        }
        let end_len = end.chars().count();
        if end_len >= n {
            // No room for the ending: a plain cut.
            return Ok(Value::from(text.chars().take(n).collect::<String>()));
        }
        let keep = n - end_len;
        let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
        let mut out = text[..cut].trim_end().to_owned();
        out.push_str(&end);
        Ok(Value::from(out))
    }

    /// The value, or `fallback` when it is missing, `null` or `""` — or, with `boolean` true,
    /// any falsy value.
    pub fn default(v: Value, fallback: Option<Value>, boolean: Option<Value>) -> Value {
        let empty = match v.kind() {
            ValueKind::Undefined | ValueKind::None => true,
            ValueKind::String => v.as_str().is_some_and(str::is_empty),
            _ => false,
        };
        let falsy = boolean.is_some_and(|b| b.is_true()) && !v.is_true();
        if empty || falsy {
            fallback.unwrap_or_else(|| Value::from(""))
        } else {
            v
        }
    }

    /// Characters of a string, items of a list, keys of an object; 0 when missing.
    pub fn length(v: Value) -> Result<Value, Error> {
        let n = match v.kind() {
            ValueKind::Undefined | ValueKind::None => 0,
            ValueKind::String => v.as_str().unwrap_or_default().chars().count(),
            ValueKind::Seq | ValueKind::Map => v.len().unwrap_or(0),
            _ => to_text(&v)?.chars().count(),
        };
        Ok(Value::from(n))
    }

    /// First item of a list or character of a string; missing otherwise.
    pub fn first(v: Value) -> Result<Value, Error> {
        match v.kind() {
            ValueKind::Seq => v.get_item_by_index(0),
            ValueKind::String => {
                Ok(v.as_str().and_then(|s| s.chars().next()).map_or(Value::UNDEFINED, |c| Value::from(c.to_string())))
            }
            _ => Ok(Value::UNDEFINED),
        }
    }

    /// Last item of a list or character of a string; missing otherwise.
    pub fn last(v: Value) -> Result<Value, Error> {
        match v.kind() {
            ValueKind::Seq => match v.len() {
                Some(n) if n > 0 => v.get_item_by_index(n - 1),
                _ => Ok(Value::UNDEFINED),
            },
            ValueKind::String => Ok(v
                .as_str()
                .and_then(|s| s.chars().next_back())
                .map_or(Value::UNDEFINED, |c| Value::from(c.to_string()))),
            _ => Ok(Value::UNDEFINED),
        }
    }

    /// Items of a list (or keys of an object) as text, separated by `sep` (default none).
    pub fn join(v: Value, sep: Option<Value>) -> Result<Value, Error> {
        let sep = match sep {
            Some(s) => to_text(&s)?,
            None => String::new(),
        };
        match v.kind() {
            ValueKind::Seq | ValueKind::Map => {
                let mut out = String::new();
                for (i, item) in v.try_iter()?.enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    out.push_str(&to_text(&item)?);
                    if out.len() > MAX_OUTPUT_LEN {
                        return Err(too_large());
                    }
                }
                Ok(Value::from(out))
            }
            _ => Ok(Value::from(to_text(&v)?)),
        }
    }

    /// Percent-encodes everything but `A-Z a-z 0-9 - . _ ~`, for URLs and form bodies.
    pub fn urlencode(v: Value) -> Result<Value, Error> {
        let out = super::percent_encode(&to_text(&v)?);
        if out.len() > MAX_OUTPUT_LEN {
            return Err(too_large());
        }
        // Already encoded (unreserved characters and %XX only): a URL context must not encode
        // it twice, and no other context needs to escape it.
        Ok(Value::from_safe_string(out))
    }

    /// The value as JSON (`null` when missing), for JSON request bodies.
    pub fn tojson(v: Value) -> Result<Value, Error> {
        let json = if v.is_undefined() {
            "null".to_owned()
        } else {
            serde_json::to_string(&v).map_err(|e| invalid(format!("tojson cannot serialize this value: {e}")))?
        };
        capped(json)
    }
}

// ---------------------------------------------------------------------------------------------
// Parser of the logic-less subset, and its canonical re-emission.

/// An accepted placeholder expression.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Var(String),
    Str(String),
    Int(i64),
    /// Digits, a dot, digits, maybe a leading `-`: emitted as written.
    Float(String),
    Bool(bool),
    None,
    Attr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Filter {
        input: Box<Expr>,
        name: String,
        args: Vec<Expr>,
    },
}

impl Expr {
    fn emit(&self, out: &mut String) {
        match self {
            Expr::Var(name) => out.push_str(name),
            Expr::Str(s) => emit_string(s, out),
            Expr::Int(i) if *i < 0 => out.push_str(&format!("({i})")),
            Expr::Int(i) => out.push_str(&i.to_string()),
            Expr::Float(f) if f.starts_with('-') => out.push_str(&format!("({f})")),
            Expr::Float(f) => out.push_str(f),
            Expr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Expr::None => out.push_str("none"),
            Expr::Attr(base, name) => {
                base.emit_receiver(out);
                out.push('.');
                out.push_str(name);
            }
            Expr::Index(base, index) => {
                base.emit_receiver(out);
                out.push('[');
                index.emit(out);
                out.push(']');
            }
            Expr::Filter { input, name, args } => {
                input.emit(out);
                out.push('|');
                out.push_str(name);
                if !args.is_empty() {
                    out.push('(');
                    for (i, arg) in args.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        arg.emit(out);
                    }
                    out.push(')');
                }
            }
        }
    }

    /// Emits the left side of `.attr` / `[index]`, parenthesising literals (`(5).x`, not `5.x`).
    fn emit_receiver(&self, out: &mut String) {
        match self {
            Expr::Var(_) | Expr::Attr(..) | Expr::Index(..) => self.emit(out),
            _ => {
                out.push('(');
                self.emit(out);
                out.push(')');
            }
        }
    }
}

/// A double-quoted minijinja string literal that reads back as exactly `s`.
fn emit_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Text between placeholders. Text minijinja could misread — `{#` (its comment marker) or a
/// trailing `{` that would merge with the next `{{` — is emitted as a string literal instead.
fn emit_text(text: &str, out: &mut String) {
    if text.is_empty() {
        return;
    }
    if text.contains("{#") || text.contains("{{") || text.contains("{%") || text.ends_with('{') {
        out.push_str("{{ ");
        emit_string(text, out);
        out.push_str(" | ");
        out.push_str(LITERAL_FILTER);
        out.push_str(" }}");
    } else {
        out.push_str(text);
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Validates `source` and returns the canonical text minijinja will compile.
fn translate(source: &str) -> Result<(String, String), TemplateError> {
    let mut out = String::with_capacity(source.len() + 16);
    let mut skeleton = String::with_capacity(source.len());
    let mut text = String::new();
    let mut pos = 0;
    loop {
        let rest = &source[pos..];
        let next = match (rest.find("{{"), rest.find("{%")) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(rel) = next else {
            text.push_str(rest);
            break;
        };
        let start = pos + rel;
        text.push_str(&source[pos..start]);
        if source[start..].starts_with("{%") {
            let (line, column) = position(source, start);
            let keyword: String = source[start + 2..]
                .trim_start_matches(['-', '+'])
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .take(20)
                .collect();
            let keyword = if keyword.is_empty() { "…".to_owned() } else { keyword };
            return Err(TemplateError::Statement { line, column, keyword });
        }
        let mut parser = Parser { src: source, pos: start + 2, steps: 0, start };
        if parser.src[parser.pos..].starts_with('-') {
            parser.pos += 1;
            text.truncate(text.trim_end().len());
        }
        let expr = parser.parse_filtered()?;
        let trim_after = match parser.next_token()? {
            (Tok::End { trim }, _) => trim,
            (tok, at) => return Err(parser.unexpected(&tok, at, "`}}` to close the placeholder")),
        };
        emit_text(&text, &mut out);
        skeleton.push_str(&text);
        skeleton.push(SLOT);
        text.clear();
        out.push_str("{{ ");
        expr.emit(&mut out);
        out.push_str(" }}");
        pos = parser.pos;
        if trim_after {
            pos = source.len() - source[pos..].trim_start().len();
        }
    }
    emit_text(&text, &mut out);
    skeleton.push_str(&text);
    Ok((out, skeleton))
}

/// Tokens inside a placeholder.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(String),
    Dot,
    Pipe,
    Comma,
    Minus,
    LBracket,
    RBracket,
    LParen,
    RParen,
    /// Any other operator or character: always refused.
    Other(String),
    /// `}}`, or `-}}` when `trim` (whitespace control).
    End {
        trim: bool,
    },
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Str(_) => "a string".into(),
        Tok::Int(_) | Tok::Float(_) => "a number".into(),
        Tok::Dot => "`.`".into(),
        Tok::Pipe => "`|`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Minus => "`-`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Other(s) => format!("`{s}`"),
        Tok::End { .. } => "`}}`".into(),
    }
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    /// Steps used by the current placeholder (see [`MAX_PLACEHOLDER_STEPS`]).
    steps: usize,
    /// Offset of the placeholder's `{{`, for "never closed" and "too complex" errors.
    start: usize,
}

impl Parser<'_> {
    fn syntax(&self, at: usize, message: impl Into<String>) -> TemplateError {
        let (line, column) = position(self.src, at);
        TemplateError::Syntax { line, column, message: message.into() }
    }

    fn not_allowed(&self, at: usize, what: impl Into<String>) -> TemplateError {
        let (line, column) = position(self.src, at);
        TemplateError::NotAllowed { line, column, what: what.into() }
    }

    fn unexpected(&self, tok: &Tok, at: usize, expected: &str) -> TemplateError {
        match tok {
            Tok::Other(op) => match op.as_str() {
                "{" => self.not_allowed(at, "a map literal `{…}`"),
                "=" => self.not_allowed(
                    at,
                    "a keyword argument (`name=value`; pass filter arguments by position, e.g. \
                     truncate(100, \"...\"))",
                ),
                _ => self.not_allowed(at, format!("the operator `{op}`")),
            },
            Tok::Ident(word) if RESERVED.contains(&word.as_str()) => {
                self.not_allowed(at, format!("the keyword `{word}` (conditions and operators)"))
            }
            Tok::LParen => self.not_allowed(at, "a function or method call `(…)`"),
            _ => self.syntax(at, format!("expected {expected}, found {}", describe(tok))),
        }
    }

    fn step(&mut self) -> Result<(), TemplateError> {
        self.steps += 1;
        if self.steps > MAX_PLACEHOLDER_STEPS {
            let (line, column) = position(self.src, self.start);
            return Err(TemplateError::TooComplex { line, column, max: MAX_PLACEHOLDER_STEPS });
        }
        Ok(())
    }

    fn peek(&mut self) -> Result<(Tok, usize), TemplateError> {
        let saved = self.pos;
        let tok = self.next_token();
        self.pos = saved;
        tok
    }

    /// Reads the next token and its start offset.
    fn next_token(&mut self) -> Result<(Tok, usize), TemplateError> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let at = self.pos;
        let mut chars = trimmed.chars();
        let Some(c) = chars.next() else {
            let (line, column) = position(self.src, self.start);
            return Err(TemplateError::Syntax { line, column, message: "this `{{` is never closed with `}}`".into() });
        };
        let simple = |tok: Tok, len: usize, p: &mut Self| -> Result<(Tok, usize), TemplateError> {
            p.pos += len;
            Ok((tok, at))
        };
        match c {
            '}' if trimmed.starts_with("}}") => simple(Tok::End { trim: false }, 2, self),
            '-' if trimmed.starts_with("-}}") => simple(Tok::End { trim: true }, 3, self),
            '.' => simple(Tok::Dot, 1, self),
            '|' if !trimmed.starts_with("||") => simple(Tok::Pipe, 1, self),
            ',' => simple(Tok::Comma, 1, self),
            '-' => simple(Tok::Minus, 1, self),
            '[' => simple(Tok::LBracket, 1, self),
            ']' => simple(Tok::RBracket, 1, self),
            '(' => simple(Tok::LParen, 1, self),
            ')' => simple(Tok::RParen, 1, self),
            '"' | '\'' => self.string(c),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = trimmed.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(trimmed.len());
                simple(Tok::Ident(trimmed[..len].to_owned()), len, self)
            }
            c if c.is_ascii_digit() => self.number(),
            _ => {
                let ops = ["==", "!=", "<=", ">=", "//", "**", "||", "&&"];
                let len = ops.iter().find(|op| trimmed.starts_with(*op)).map_or(c.len_utf8(), |op| op.len());
                simple(Tok::Other(trimmed[..len].to_owned()), len, self)
            }
        }
    }

    fn number(&mut self) -> Result<(Tok, usize), TemplateError> {
        let at = self.pos;
        let rest = &self.src[at..];
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let mut len = int_len;
        let after = &rest[int_len..];
        let is_float = after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit());
        if is_float {
            let frac = &after[1..];
            len += 1 + frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        }
        if rest[len..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            return Err(self.syntax(at, "a number must not be followed by letters"));
        }
        self.pos += len;
        let text = &rest[..len];
        if is_float {
            return Ok((Tok::Float(text.to_owned()), at));
        }
        match text.parse::<i64>() {
            Ok(n) => Ok((Tok::Int(n), at)),
            Err(_) => Err(self.syntax(at, "this number is too large")),
        }
    }

    /// A quoted string with JSON-style escapes (`\"`, `\\`, `\n`, `\t`, `\uXXXX`, …).
    fn string(&mut self, quote: char) -> Result<(Tok, usize), TemplateError> {
        let at = self.pos;
        let mut out = String::new();
        let mut chars = self.src[at + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos = at + 1 + i + 1;
                return Ok((Tok::Str(out), at));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                    let code =
                        (hex.len() == 4).then(|| u32::from_str_radix(&hex, 16).ok()).flatten().and_then(char::from_u32);
                    match code {
                        Some(ch) => out.push(ch),
                        None => {
                            return Err(self.syntax(
                                at,
                                "bad \\u escape in string: use four hex digits of a non-surrogate \
                                 code point, or write the character itself",
                            ))
                        }
                    }
                }
                '"' | '\'' | '\\' | '/' => out.push(e),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
        Err(self.syntax(at, "this string is never closed"))
    }

    /// `postfix ( '|' filter )*`
    fn parse_filtered(&mut self) -> Result<Expr, TemplateError> {
        let mut expr = self.parse_postfix()?;
        loop {
            let (tok, _) = self.peek()?;
            if tok != Tok::Pipe {
                return Ok(expr);
            }
            self.next_token()?;
            self.step()?;
            let (tok, at) = self.next_token()?;
            let Tok::Ident(name) = tok else {
                return Err(self.syntax(at, format!("expected a filter name after `|`, found {}", describe(&tok))));
            };
            if !FILTERS.contains(&name.as_str()) {
                let (line, column) = position(self.src, at);
                return Err(TemplateError::UnknownFilter { line, column, name, available: FILTERS.join(", ") });
            }
            let mut args = Vec::new();
            if self.peek()?.0 == Tok::LParen {
                self.next_token()?;
                loop {
                    if self.peek()?.0 == Tok::RParen {
                        self.next_token()?;
                        break;
                    }
                    args.push(self.parse_filtered()?);
                    match self.next_token()? {
                        (Tok::Comma, _) => {}
                        (Tok::RParen, _) => break,
                        (tok, at) => return Err(self.unexpected(&tok, at, "`,` or `)` in the filter's arguments")),
                    }
                }
            }
            expr = Expr::Filter { input: Box::new(expr), name, args };
        }
    }

    /// `primary ( '.' name | '.' digits | '[' filtered ']' )*`
    fn parse_postfix(&mut self) -> Result<Expr, TemplateError> {
        let mut expr = self.parse_primary()?;
        loop {
            let (tok, at) = self.peek()?;
            match tok {
                Tok::Dot => {
                    self.next_token()?;
                    self.step()?;
                    expr = match self.next_token()? {
                        (Tok::Ident(name), _) => Expr::Attr(Box::new(expr), name),
                        (Tok::Int(i), _) => Expr::Index(Box::new(expr), Box::new(Expr::Int(i))),
                        (tok, at) => {
                            return Err(
                                self.syntax(at, format!("expected a field name after `.`, found {}", describe(&tok)))
                            )
                        }
                    };
                }
                Tok::LBracket => {
                    self.next_token()?;
                    self.step()?;
                    let index = self.parse_filtered()?;
                    match self.next_token()? {
                        (Tok::RBracket, _) => {}
                        (Tok::Other(op), at) if op == ":" => return Err(self.not_allowed(at, "slicing `[a:b]`")),
                        (tok, at) => return Err(self.unexpected(&tok, at, "`]`")),
                    }
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
                Tok::LParen => return Err(self.unexpected(&tok, at, "")),
                _ => return Ok(expr),
            }
        }
    }

    fn parse_primary(&mut self) -> Result<Expr, TemplateError> {
        self.step()?;
        let (tok, at) = self.next_token()?;
        match tok {
            Tok::Ident(name) => match name.as_str() {
                "true" | "True" => Ok(Expr::Bool(true)),
                "false" | "False" => Ok(Expr::Bool(false)),
                "none" | "None" => Ok(Expr::None),
                word if RESERVED.contains(&word) => Err(self.unexpected(&Tok::Ident(name.clone()), at, "")),
                _ => {
                    if self.peek()?.0 == Tok::LParen {
                        return Err(self.not_allowed(at, format!("calling `{name}(…)`")));
                    }
                    Ok(Expr::Var(name))
                }
            },
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Int(i) => Ok(Expr::Int(i)),
            Tok::Float(f) => Ok(Expr::Float(f)),
            Tok::Minus => match self.next_token()? {
                (Tok::Int(i), _) => Ok(Expr::Int(-i)),
                (Tok::Float(f), _) => Ok(Expr::Float(format!("-{f}"))),
                (_, _) => Err(self.not_allowed(at, "the operator `-` (only negative numbers like -5 are allowed)")),
            },
            Tok::LBracket => Err(self.not_allowed(at, "a list literal `[…]`")),
            Tok::LParen => Err(self.not_allowed(at, "parentheses `(…)`")),
            Tok::End { .. } => {
                Err(self.syntax(at, "empty placeholder: put an ingredient name inside, e.g. {{ title }}"))
            }
            tok => Err(self.unexpected(&tok, at, "an ingredient name or a literal")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ing(pairs: &[(&str, serde_json::Value)]) -> Ingredients {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn render(src: &str, ingredients: &Ingredients) -> String {
        Template::parse(src).unwrap_or_else(|e| panic!("parse {src:?}: {e}")).render(ingredients).unwrap()
    }

    fn parse_err(src: &str) -> TemplateError {
        Template::parse(src).expect_err(src)
    }

    fn render_in(src: &str, ingredients: &Ingredients, context: TextContext) -> Result<String, TemplateError> {
        Template::parse(src).unwrap_or_else(|e| panic!("parse {src:?}: {e}")).render_in(ingredients, context)
    }

    #[test]
    fn one_template_compiled_once_still_escapes_for_each_context() {
        let t = Template::parse("https://x.example/?q={{ q }}").unwrap();
        let i = ing(&[("q", json!("a b&\"c\""))]);
        // The same text is compiled for each escaping: a URL first must not leak into text or JSON.
        assert_eq!(t.render_in(&i, TextContext::Url).unwrap(), "https://x.example/?q=a%20b%26%22c%22");
        assert_eq!(t.render_in(&i, TextContext::Text).unwrap(), "https://x.example/?q=a b&\"c\"");
        assert_eq!(t.render_in(&i, TextContext::Url).unwrap(), "https://x.example/?q=a%20b%26%22c%22");
        let body = Template::parse("{\"q\": \"{{ q }}\"}").unwrap();
        assert_eq!(body.render_in(&i, TextContext::Text).unwrap(), "{\"q\": \"a b&\"c\"\"}");
        assert_eq!(body.render_in(&i, TextContext::JsonBody).unwrap(), "{\"q\": \"a b&\\\"c\\\"\"}");
    }

    #[test]
    fn more_distinct_templates_than_the_cache_keeps_all_render_right() {
        let i = ing(&[("n", json!("x"))]);
        for n in 0..MAX_COMPILED + 10 {
            let src = format!("{n}:{{{{ n }}}}");
            assert_eq!(render(&src, &i), format!("{n}:x"));
        }
        // An early one, compiled again after the cache started over.
        assert_eq!(render("0:{{ n }}", &i), "0:x");
    }

    #[test]
    fn url_context_encodes_each_value_as_one_component() {
        let i = ing(&[("path", json!("@evil.example:81/stolen?x=1#f")), ("q", json!("a b&c=d"))]);
        assert_eq!(
            render_in("https://api.example.com/items/{{ path }}?q={{ q }}", &i, TextContext::Url).unwrap(),
            "https://api.example.com/items/%40evil.example%3A81%2Fstolen%3Fx%3D1%23f?q=a%20b%26c%3Dd"
        );
        // Already encoded by the user: not encoded twice.
        assert_eq!(
            render_in("https://x.example/?q={{ q | urlencode }}", &i, TextContext::Url).unwrap(),
            "https://x.example/?q=a%20b%26c%3Dd"
        );
        // The user's own literal text (here with `{#`, re-emitted internally as a string) is syntax.
        assert_eq!(
            render_in("https://x.example/{#a}/{{ q }}", &i, TextContext::Url).unwrap(),
            "https://x.example/{#a}/a%20b%26c%3Dd"
        );
        // Without placeholders a URL is left as written.
        assert_eq!(render_in("https://x.example/a b", &i, TextContext::Url).unwrap(), "https://x.example/a b");
    }

    #[test]
    fn url_context_needs_a_literal_origin_and_keeps_the_path() {
        for bad in ["{{ u }}", "https://x.example{{ p }}", "https{{ s }}://x/", "x.example/{{ p }}", "ftp://x/{{ p }}"]
        {
            let t = Template::parse(bad).unwrap();
            assert!(matches!(t.check_context(TextContext::Url), Err(TemplateError::UrlBase { .. })), "{bad}");
        }
        for good in ["https://x.example/{{ p }}", "http://127.0.0.1:8080/a?b={{ p }}", "https://x.example#{{ p }}"] {
            Template::parse(good).unwrap().check_context(TextContext::Url).unwrap();
        }
        let i = ing(&[("p", json!("..")), ("q", json!("."))]);
        let err = render_in("https://x.example/api/items/{{ p }}", &i, TextContext::Url).unwrap_err();
        assert!(matches!(err, TemplateError::UrlEscaped { .. }), "{err}");
        let err = render_in("https://x.example/api/{{ q }}{{ q }}/x", &i, TextContext::Url).unwrap_err();
        assert!(matches!(err, TemplateError::UrlEscaped { .. }), "{err}");
        assert_eq!(
            render_in("https://x.example/api/a{{ p }}", &i, TextContext::Url).unwrap(),
            "https://x.example/api/a.."
        );
    }

    #[test]
    fn json_body_context_escapes_values_as_string_content() {
        let i = ing(&[("t", json!("hi\", \"admin\": true, \"x\": \"\n\\")), ("n", json!(3))]);
        let out = render_in("{\"text\": \"{{ t }}\", \"n\": \"{{ n }}\"}", &i, TextContext::JsonBody).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, json!({"text": "hi\", \"admin\": true, \"x\": \"\n\\", "n": "3"}));
        // A plain-text body is text: values as they are.
        assert_eq!(
            render_in("Title: {{ t }}", &i, TextContext::JsonBody).unwrap(),
            "Title: hi\", \"admin\": true, \"x\": \"\n\\"
        );
        // A JSON body with a placeholder outside quotes is refused before any value is seen.
        for bad in ["{\"n\": {{ n }}}", "[{{ n }}]", "{\"a\": \"{{ n }}\"", "{\"a\": \"x\", {{ n }}}"] {
            let t = Template::parse(bad).unwrap();
            assert!(matches!(t.check_context(TextContext::JsonBody), Err(TemplateError::JsonBody { .. })), "{bad}");
        }
        Template::parse("{\"{{ n }}\": [\"{{ t }}\"]}").unwrap().check_context(TextContext::JsonBody).unwrap();
    }

    #[test]
    fn address_list_context_takes_one_address_per_value() {
        let i = ing(&[("one", json!("Ada <ada@example.com>")), ("two", json!("a@example.com, evil@example.com"))]);
        assert_eq!(
            render_in("boss@example.com, {{ one }}", &i, TextContext::AddressList).unwrap(),
            "boss@example.com, Ada <ada@example.com>"
        );
        assert!(render_in("{{ two }}", &i, TextContext::AddressList).is_err());
    }

    #[test]
    fn file_name_context_takes_a_name_never_a_path() {
        let i = ing(&[
            ("t", json!("Report: Q3")),
            ("up", json!("../../.bashrc")),
            ("win", json!("a\\b")),
            ("nl", json!("a\nb")),
        ]);
        assert_eq!(render_in("notes/{{ t }}.txt", &i, TextContext::FileName).unwrap(), "notes/Report: Q3.txt");
        for bad in ["{{ up }}", "x-{{ win }}", "{{ nl }}.txt"] {
            assert!(render_in(bad, &i, TextContext::FileName).is_err(), "{bad}");
        }
    }

    #[test]
    fn argument_lines_context_fills_an_argument_never_adds_one() {
        let i = ing(&[("t", json!("a b\tc; rm -rf ~")), ("nl", json!("x\n--delete"))]);
        assert_eq!(render_in("--title\n{{ t }}", &i, TextContext::ArgumentLines).unwrap(), "--title\na b\tc; rm -rf ~");
        assert!(render_in("--title\n{{ nl }}", &i, TextContext::ArgumentLines).is_err());
        assert!(render_in("{{ nl }}", &i, TextContext::Text).is_ok());
    }

    #[test]
    fn header_context_turns_line_breaks_into_spaces() {
        let i = ing(&[("t", json!("a\r\nX-Evil: 1\u{0}"))]);
        assert_eq!(render_in("Bearer {{ t }}", &i, TextContext::Header).unwrap(), "Bearer a  X-Evil: 1 ");
        assert_eq!(render_in("{{ t }}", &i, TextContext::Text).unwrap(), "a\r\nX-Evil: 1\u{0}");
    }

    #[test]
    fn renders_ingredients_and_plain_text() {
        let i = ing(&[("title", json!("Bug")), ("n", json!(3))]);
        assert_eq!(render("Hello {{ title }} #{{n}}!", &i), "Hello Bug #3!");
        assert_eq!(render("no markup } { %} #} here\n", &i), "no markup } { %} #} here\n");
        assert_eq!(render("", &i), "");
    }

    #[test]
    fn values_render_naturally_without_escaping() {
        let i = ing(&[
            ("int", json!(100)),
            ("float", json!(1.5)),
            ("yes", json!(true)),
            ("null", json!(null)),
            ("html", json!("<b>&\"'</b>")),
            ("list", json!(["a", 1])),
            ("obj", json!({"k": "v"})),
        ]);
        assert_eq!(render("{{ int }}|{{ float }}|{{ yes }}|{{ null }}", &i), "100|1.5|true|");
        assert_eq!(render("{{ html }}", &i), "<b>&\"'</b>");
        assert_eq!(render("{{ list }} {{ obj }}", &i), r#"["a",1] {"k":"v"}"#);
    }

    #[test]
    fn missing_ingredients_render_empty() {
        let i = Ingredients::new();
        assert_eq!(render("[{{ nope }}][{{ nope.deeper[0] }}][{{ nope | upper }}]", &i), "[][][]");
    }

    #[test]
    fn attribute_and_index_access() {
        let i = ing(&[("issue", json!({"title": "T", "labels": ["x", "y"], "if": 1}))]);
        assert_eq!(render("{{ issue.title }}{{ issue.labels[1] }}{{ issue.labels.0 }}", &i), "Tyx");
        assert_eq!(render(r#"{{ issue["title"] }}{{ issue.if }}"#, &i), "T1");
    }

    #[test]
    fn filters_upper_lower_trim_capitalize_title() {
        let i = ing(&[("t", json!("  hello wORLD  "))]);
        assert_eq!(render("{{ t | upper }}", &i), "  HELLO WORLD  ");
        assert_eq!(render("{{ t | lower }}", &i), "  hello world  ");
        assert_eq!(render("{{ t | trim }}", &i), "hello wORLD");
        assert_eq!(render("{{ t | trim | capitalize }}", &i), "Hello world");
        assert_eq!(render("{{ t | trim | title }}", &i), "Hello World");
        assert_eq!(render(r#"{{ "xxhixx" | trim("x") }}"#, &i), "hi");
    }

    #[test]
    fn filter_default() {
        let i = ing(&[("empty", json!("")), ("null", json!(null)), ("zero", json!(0)), ("a", json!("A"))]);
        assert_eq!(render(r#"{{ author | default("someone") }}"#, &i), "someone");
        assert_eq!(render(r#"{{ empty | d("e") }}{{ null | d("n") }}{{ zero | d("z") }}"#, &i), "en0");
        assert_eq!(render(r#"{{ zero | default("z", true) }}"#, &i), "z");
        assert_eq!(render(r#"{{ a | default("x") }}{{ missing | default(a) }}"#, &i), "AA");
        assert_eq!(render("[{{ missing | default }}]", &i), "[]");
    }

    #[test]
    fn filter_truncate() {
        let i = ing(&[("s", json!("Hello wonderful world")), ("e", json!("héllo😀wörld"))]);
        assert_eq!(render("{{ s | truncate(100) }}", &i), "Hello wonderful world");
        assert_eq!(render("{{ s | truncate(21) }}", &i), "Hello wonderful world");
        assert_eq!(render("{{ s | truncate(7) }}", &i), "Hello…");
        assert_eq!(render(r#"{{ s | truncate(10, "...") }}"#, &i), "Hello w...");
        assert_eq!(render(r#"{{ s | truncate(9, "...") }}"#, &i), "Hello...");
        assert_eq!(render("{{ e | truncate(6) }}", &i), "héllo…");
        assert_eq!(render("{{ e | truncate(7) }}", &i), "héllo😀…");
        assert_eq!(render("[{{ s | truncate(0) }}]", &i), "[]");
        assert_eq!(render("{{ s | truncate(1) }}", &i), "H");
        assert_eq!(render("{{ 12345 | truncate(3) }}", &i), "12…");
        let err = Template::parse("{{ s | truncate(-1) }}").unwrap().render(&i).unwrap_err();
        assert!(matches!(&err, TemplateError::Render { message } if message.contains("truncate")), "{err}");
        let err = Template::parse(r#"{{ s | truncate("x") }}"#).unwrap().render(&i).unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
    }

    #[test]
    fn filter_replace() {
        let i = ing(&[("s", json!("a-b-c"))]);
        assert_eq!(render(r#"{{ s | replace("-", "+") }}"#, &i), "a+b+c");
        assert_eq!(render(r#"{{ s | replace("-", "", 1) }}"#, &i), "ab-c");
        assert_eq!(render(r#"{{ s | replace("", ".") }}"#, &i), ".a.-.b.-.c.");
    }

    #[test]
    fn filters_length_first_last_join_urlencode_tojson() {
        let i = ing(&[("l", json!(["x", "y", "z"])), ("s", json!("héllo wörld")), ("q", json!("a \"q\""))]);
        assert_eq!(render("{{ l | length }} {{ s | length }} {{ nope | length }}", &i), "3 11 0");
        assert_eq!(render("{{ l | first }}{{ l | last }}{{ s | first }}{{ s | last }}", &i), "xzhd");
        assert_eq!(render(r#"{{ l | join(", ") }}|{{ l | join }}"#, &i), "x, y, z|xyz");
        assert_eq!(render("{{ s | urlencode }}", &i), "h%C3%A9llo%20w%C3%B6rld");
        assert_eq!(
            render("{{ q | tojson }} {{ l | tojson }} {{ nope | tojson }}", &i),
            r#""a \"q\"" ["x","y","z"] null"#
        );
    }

    #[test]
    fn literals_and_escapes() {
        let i = Ingredients::new();
        assert_eq!(render(r#"{{ "a\"b\\c\n" }}{{ 'it\'s' }}{{ "\u00e9" }}"#, &i), "a\"b\\c\nit'sé");
        assert_eq!(render("{{ -5 }} {{ 2.50 }} {{ true }} {{ none }}", &i), "-5 2.5 true ");
        // String literals may contain markup; it stays text.
        assert_eq!(render(r#"{{ "{{ x }} {% if %} {# c #}" }}"#, &i), "{{ x }} {% if %} {# c #}");
        assert_eq!(render(r#"{{ "}}" }}"#, &i), "}}");
    }

    #[test]
    fn hash_brace_is_literal_text_and_braces_survive() {
        let i = ing(&[("x", json!("X"))]);
        assert_eq!(render("{#general} {{ x }} #}", &i), "{#general} X #}");
        assert_eq!(render("a{ {{- x }}", &i), "a{X");
        assert_eq!(render("{{ x }}}", &i), "X}");
        assert_eq!(render("{{x}}{#", &i), "X{#");
        assert_eq!(render("{", &i), "{");
    }

    #[test]
    fn whitespace_control() {
        let i = ing(&[("x", json!("X"))]);
        assert_eq!(render("a  \n {{- x -}} \n b", &i), "aXb");
        assert_eq!(render("a {{ x -}}\n\n", &i), "a X");
    }

    #[test]
    fn trailing_newline_kept() {
        assert_eq!(render("line\n", &Ingredients::new()), "line\n");
        assert_eq!(render("{{ 1 }}\n\n", &Ingredients::new()), "1\n\n");
    }

    #[test]
    fn ingredients_lists_top_level_names() {
        let t = Template::parse(r#"{{ issue.title }} {{ author | default(login) }} {{ labels[idx] }} {{ "lit" }}"#)
            .unwrap();
        let names: Vec<String> = t.ingredients().into_iter().collect();
        assert_eq!(names, ["author", "idx", "issue", "labels", "login"]);
        assert!(Template::parse("plain").unwrap().ingredients().is_empty());
    }

    #[test]
    fn statements_are_rejected() {
        for (src, kw) in [
            ("{% for x in items %}{{ x }}{% endfor %}", "for"),
            ("a {%- if x %}b{% endif %}", "if"),
            ("{% set x = 1 %}", "set"),
            ("{% raw %}", "raw"),
            ("{%", "…"),
        ] {
            match parse_err(src) {
                TemplateError::Statement { keyword, line: 1, .. } => assert_eq!(keyword, kw, "{src}"),
                e => panic!("{src}: {e:?}"),
            }
        }
        let e = parse_err("ok\n  {% if x %}");
        assert!(matches!(e, TemplateError::Statement { line: 2, column: 3, .. }), "{e:?}");
        assert!(e.to_string().contains("logic-less"), "{e}");
    }

    #[test]
    fn logic_and_calls_are_rejected() {
        for src in [
            "{{ range(10) }}",
            "{{ x.upper() }}",
            "{{ a + b }}",
            "{{ a ~ b }}",
            "{{ a == b }}",
            "{{ a and b }}",
            "{{ not a }}",
            "{{ a if b else c }}",
            "{{ a is defined }}",
            "{{ a in b }}",
            "{{ [1, 2] }}",
            "{{ {'a': 1} }}",
            "{{ (a) }}",
            "{{ a[1:2] }}",
            "{{ a | truncate(length=5) }}",
            "{{ -a }}",
            "{{ a * 2 }}",
            "{{ a | upper() () }}",
        ] {
            let e = parse_err(src);
            assert!(matches!(e, TemplateError::NotAllowed { .. }), "{src}: {e:?}");
        }
    }

    #[test]
    fn syntax_errors_are_reported_with_position() {
        let e = parse_err("hi\n{{ title ");
        assert!(matches!(e, TemplateError::Syntax { line: 2, column: 1, .. }), "{e:?}");
        assert!(e.to_string().contains("never closed"), "{e}");
        for src in [
            "{{ }}",
            "{{ 'abc }}",
            "{{ a. }}",
            "{{ a | }}",
            "{{ 1abc }}",
            "{{ a b }}",
            r#"{{ "\ud800" }}"#,
            "{{ 99999999999999999999 }}",
            "{{ a | upper(1 }}",
        ] {
            assert!(matches!(parse_err(src), TemplateError::Syntax { .. }), "{src}");
        }
        assert!(parse_err("{{ }}").to_string().contains("templates look like {{ title }}"));
    }

    #[test]
    fn unknown_filters_are_named() {
        let e = parse_err("{{ x | safe }}");
        assert!(matches!(&e, TemplateError::UnknownFilter { name, .. } if name == "safe"), "{e:?}");
        assert!(e.to_string().contains("truncate"), "{e}");
    }

    #[test]
    fn source_length_is_capped() {
        let big = "a".repeat(MAX_SOURCE_LEN + 1);
        assert!(matches!(parse_err(&big), TemplateError::TooLong { .. }));
        assert!(Template::parse(&"a".repeat(MAX_SOURCE_LEN)).is_ok());
    }

    #[test]
    fn placeholder_complexity_is_capped() {
        let chain = format!("{{{{ a{} }}}}", "|upper".repeat(MAX_PLACEHOLDER_STEPS));
        assert!(matches!(parse_err(&chain), TemplateError::TooComplex { .. }));
        let nested = format!("{{{{ {}a{} }}}}", "b[".repeat(200), "]".repeat(200));
        assert!(matches!(parse_err(&nested), TemplateError::TooComplex { .. }));
        let ok = format!("{{{{ a{} }}}}", "|upper".repeat(MAX_PLACEHOLDER_STEPS - 1));
        assert!(Template::parse(&ok).is_ok());
    }

    #[test]
    fn fuel_stops_huge_filter_chains() {
        let one = format!("{{{{ a{} }}}}", "|d".repeat(MAX_PLACEHOLDER_STEPS - 1));
        let src = one.repeat(MAX_SOURCE_LEN / one.len());
        let t = Template::parse(&src).unwrap();
        let err = t.render(&ing(&[("a", json!("x"))])).unwrap_err();
        assert_eq!(err, TemplateError::OutOfFuel { fuel: FUEL });
        // A realistic large template stays well within the budget.
        let body = "{{ title | truncate(80) }} by {{ author | default(\"someone\") }}\n".repeat(100);
        assert!(Template::parse(&body).unwrap().render(&Ingredients::new()).is_ok());
    }

    #[test]
    fn output_is_capped() {
        let i = ing(&[("big", json!("x".repeat(MAX_OUTPUT_LEN / 2 + 1)))]);
        assert_eq!(
            Template::parse("{{ big }}{{ big }}").unwrap().render(&i),
            Err(TemplateError::OutputTooLarge { max: MAX_OUTPUT_LEN })
        );
        assert_eq!(render("{{ big }}", &i).len(), MAX_OUTPUT_LEN / 2 + 1);
        // Exponential growth through chained replace is refused before allocation.
        let i = ing(&[("s", json!("abcdefghij"))]);
        let src = format!("{{{{ s{} }}}}", r#"|replace("", "0123456789")"#.repeat(10));
        assert_eq!(
            Template::parse(&src).unwrap().render(&i),
            Err(TemplateError::OutputTooLarge { max: MAX_OUTPUT_LEN })
        );
        let huge = ing(&[("big", json!("x".repeat(MAX_OUTPUT_LEN + 1)))]);
        assert_eq!(
            Template::parse("{{ big | upper }}").unwrap().render(&huge),
            Err(TemplateError::OutputTooLarge { max: MAX_OUTPUT_LEN })
        );
    }

    #[test]
    fn wrong_filter_arity_is_a_render_error() {
        let e = Template::parse("{{ a | upper(1, 2) }}").unwrap().render(&Ingredients::new()).unwrap_err();
        assert!(matches!(e, TemplateError::Render { .. }), "{e:?}");
    }

    #[test]
    fn is_template_detects_markup() {
        assert!(is_template("Hi {{ name }}"));
        assert!(is_template("{% if x %}"));
        assert!(!is_template("plain {#tag} { } %}"));
    }

    #[test]
    fn display_and_source_are_what_the_user_wrote() {
        let t = Template::parse("A {{- x }}").unwrap();
        assert_eq!(t.source(), "A {{- x }}");
        assert_eq!(t.to_string(), "A {{- x }}");
    }
}
