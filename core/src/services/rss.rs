//! `rss`: a new item appears in an RSS (0.9x, 1.0, 2.0), Atom or JSON Feed.
//!
//! A polled action: [`PolledAction::request`] is a GET of the feed and [`PolledAction::read`]
//! parses the raw bytes with `feed-rs` (raw bytes so the XML prolog's encoding is honoured).
//!
//! Decisions:
//! - Event key: the entry's own id (RSS `guid`, Atom `id`, JSON Feed `id`) when present, else its
//!   link, else `sha256:` + a hash of title and date. `feed-rs` would otherwise invent an id
//!   (sometimes a random UUID), which would re-fire the item on every poll, so its generator is
//!   replaced by one that leaves the id empty and this module picks the fallback.
//! - `published` is the entry's publication date, or its update date when it has none (Atom
//!   only requires `updated`), as RFC 3339 UTC; empty when the feed gives neither.
//! - `summary` is the entry's summary (or content when there is no summary) with HTML tags
//!   removed, entities decoded and whitespace collapsed, cut to [`SUMMARY_MAX_CHARS`].
//! - No cursor: every visible entry is returned and the engine dedupes by key.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use chrono::SecondsFormat;
use regex::Regex;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "rss";

/// Accept header sent with every feed request: feed types first, anything as a last resort
/// (many servers label feeds `text/xml` or `text/html`).
pub const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8";

/// Longest `summary` ingredient, in characters: enough for a notification or a chat message.
pub const SUMMARY_MAX_CHARS: usize = 500;

/// The `rss` service: manifest plus its polled `new_item` action.
pub fn service() -> Service {
    let mut actions = BTreeMap::new();
    actions.insert("new_item", ActionKind::Polled(Arc::new(NewItem) as Arc<dyn PolledAction>));
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "RSS & Atom feeds",
        description: "Watch any RSS, Atom or JSON Feed: blogs, news sites, podcasts, release notes.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Available,
        actions: vec![ActionManifest {
            id: "new_item",
            name: "New feed item",
            description: "Fires when a new entry appears in the feed.",
            params: vec![ParamSpec::new(
                "url",
                "Feed URL",
                "Address of the RSS, Atom or JSON feed (not the web page), e.g. https://blog.rust-lang.org/feed.xml.",
                ParamType::Url,
            )],
            ingredients: vec![
                IngredientSpec { id: "title", description: "The entry's title", example: "Announcing Rust 1.85.0" },
                IngredientSpec {
                    id: "link",
                    description: "Link to the entry's web page",
                    example: "https://blog.rust-lang.org/2025/02/20/Rust-1.85.0.html",
                },
                IngredientSpec {
                    id: "id",
                    description: "The entry's unique id (guid), or its link when it has none",
                    example: "https://blog.rust-lang.org/2025/02/20/Rust-1.85.0.html",
                },
                IngredientSpec {
                    id: "published",
                    description: "When the entry was published (RFC 3339, UTC), or empty if the feed does not say",
                    example: "2025-02-20T00:00:00Z",
                },
                IngredientSpec {
                    id: "summary",
                    description: "The entry's summary as plain text (HTML removed, at most 500 characters)",
                    example: "The Rust team is happy to announce a new version of Rust, 1.85.0…",
                },
                IngredientSpec { id: "feed_title", description: "The feed's own title", example: "Rust Blog" },
            ],
            dynamic_ingredients: false,
            min_interval_secs: Some(60),
        }],
        reactions: vec![],
    }
}

/// `new_item`: GET the feed, one event per entry.
struct NewItem;

impl PolledAction for NewItem {
    fn request(&self, ctx: &PollContext<'_>) -> Result<HttpRequestSpec, ConnectorError> {
        let url = http_url_param(ctx.params, "url")?;
        let mut req = HttpRequestSpec::get(url.as_str());
        req.headers.push(("Accept".into(), ACCEPT.into()));
        Ok(req)
    }

    fn read(&self, ctx: &PollContext<'_>, response: &HttpResponseData) -> Result<PollOutput, ConnectorError> {
        let base = http_url_param(ctx.params, "url").ok();
        let events = parse_feed(&response.body, base.as_ref().map(url::Url::as_str))?;
        Ok(PollOutput { events, cursor: None })
    }
}

/// Parses a feed document into events (pure: used by `read` and by tests on saved feeds).
/// `base_url` resolves relative links. Fails with [`ConnectorError::BadResponse`] saying why
/// the body is not a feed.
pub fn parse_feed(body: &[u8], base_url: Option<&str>) -> Result<Vec<Event>, ConnectorError> {
    let parser =
        feed_rs::parser::Builder::new().base_uri(base_url).id_generator(|_links, _title, _uri| String::new()).build();
    let feed = parser.parse(body).map_err(|e| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("not a readable RSS, Atom or JSON feed: {e}"),
    })?;
    let feed_title = feed.title.as_ref().map(text_to_plain).unwrap_or_default();

    let events = feed
        .entries
        .iter()
        .map(|entry| {
            let title = entry.title.as_ref().map(text_to_plain).unwrap_or_default();
            let link = pick_link(&entry.links).unwrap_or_default();
            let published = entry
                .published
                .or(entry.updated)
                .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default();
            let summary_html = entry
                .summary
                .as_ref()
                .map(|t| t.content.clone())
                .filter(|s| !s.trim().is_empty())
                .or_else(|| entry.content.as_ref().and_then(|c| c.body.clone()))
                .unwrap_or_default();
            let summary = truncate_chars(&html_to_text(&summary_html), SUMMARY_MAX_CHARS);

            let key = if !entry.id.trim().is_empty() {
                entry.id.trim().to_string()
            } else if !link.is_empty() {
                link.clone()
            } else {
                let digest = Sha256::digest(format!("{title}\n{published}").as_bytes());
                format!("sha256:{}", hex::encode(digest))
            };

            let mut ingredients = Ingredients::new();
            ingredients.insert("title".into(), json!(title));
            ingredients.insert("link".into(), json!(link));
            ingredients.insert("id".into(), json!(key));
            ingredients.insert("published".into(), json!(published));
            ingredients.insert("summary".into(), json!(summary));
            ingredients.insert("feed_title".into(), json!(feed_title));
            Event { key, ingredients }
        })
        .collect();
    Ok(events)
}

/// The entry's page: the first link without `rel` or with `rel="alternate"`, else the first.
fn pick_link(links: &[feed_rs::model::Link]) -> Option<String> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| links.first())
        .map(|l| l.href.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// A feed text field as plain text: HTML-typed texts are stripped, all are whitespace-collapsed.
fn text_to_plain(text: &feed_rs::model::Text) -> String {
    if text.content_type.to_string().contains("html") {
        html_to_text(&text.content)
    } else {
        collapse_whitespace(&text.content)
    }
}

static DROPPED_BLOCKS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<!--.*?-->|<script\b.*?</script\s*>|<style\b.*?</style\s*>").expect("static regex")
});
static BLOCK_TAGS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)</?\s*(br|p|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|hr|section|article|header|footer|figure|figcaption)\b[^>]*>",
    )
    .expect("static regex")
});
static ANY_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[/!?]?[A-Za-z][^>]*>").expect("static regex"));
static ENTITY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});").expect("static regex"));

/// Turns an HTML fragment into plain text: drops comments, scripts and styles, turns block tags
/// into spaces and removes the others, decodes entities, collapses whitespace. A lone `<` (as in
/// `a < b`) is kept.
pub fn html_to_text(html: &str) -> String {
    let s = DROPPED_BLOCKS.replace_all(html, " ");
    let s = BLOCK_TAGS.replace_all(&s, " ");
    let s = ANY_TAG.replace_all(&s, "");
    let s = ENTITY.replace_all(&s, |caps: &regex::Captures<'_>| {
        decode_entity(&caps[1]).map(String::from).unwrap_or_else(|| caps[0].to_string())
    });
    collapse_whitespace(&s)
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "middot" => '·',
        "bull" => '•',
        _ => return None,
    })
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_html() {
        assert_eq!(
            html_to_text("<p>Hello&nbsp;<b>wor</b>ld &amp; <a href='x'>friends</a></p><p>Bye&#33; &#x263A;</p>"),
            "Hello world & friends Bye! ☺"
        );
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(html_to_text("<script>alert(1)</script>ok<!-- hidden -->"), "ok");
        assert_eq!(html_to_text("line<br/>break"), "line break");
        assert_eq!(html_to_text("&unknown; stays"), "&unknown; stays");
    }
}
