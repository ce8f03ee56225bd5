//! `vinted`: new items of a Vinted saved search, read from Vinted's own alert e-mails.
//!
//! Vinted has no public API for normal users (its only official API, Vinted Pro Integrations,
//! is for allow-listed business sellers), and its website's internal JSON is behind anti-bot
//! protection and against its terms. What Vinted does offer everyone is saved-search alerts
//! ("Nouveaux articles pour votre recherche"), which it can send by e-mail. This service reads
//! those e-mails from the user's mailbox over IMAP, like `mail.new_message`, and turns each item
//! listed in them into an event. Nothing is scraped.
//!
//! Decisions:
//! - Connection: a mail account like `mail`'s — user name, IMAP server and the mailbox password
//!   (or app password), all entered with `area connect vinted --imap-host …`; areas name only the
//!   folder, never a server, and the password goes only to the recorded server. The catalog gives
//!   every service with its own credential its own connection id, so Vinted has its own.
//! - Mail handling, cursor, bounds, UIDVALIDITY and error mapping are the `mail` service's
//!   ([`super::mail::check_folder`]); each alert is fetched up to [`ALERT_FETCH_BYTES`].
//! - Only messages from a Vinted domain are read: the sender's domain must be `vinted.<tld>`,
//!   `vinted.co.<tld>` / `vinted.com.<tld>` or a subdomain of one (no-reply@vinted.fr,
//!   notifications@email.vinted.co.uk…).
//! - The parser is tolerant, since Vinted's template is not documented and changes: every link to
//!   `https://www.vinted.<tld>/items/<id>[-slug]` is an item; the stretch of HTML from that link to
//!   the next item's link gives the photo (first `<img src>`), the title (the image's `alt`, else
//!   the first line of text that is not a price) and the price (the first amount with a currency).
//!   Without HTML the plain-text part is read the same way, line by line. Links hidden behind an
//!   e-mail click-tracking redirect are not recognised.
//! - Event key = the item id, so an item listed in two alerts fires once. At most
//!   [`MAX_ITEMS`] items per check.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;

use super::{check_folder, idle_wait, imap_param_specs, parse_mail};
use crate::services::kit::prelude::*;

/// The service id, as used in area files.
pub const ID: &str = "vinted";
/// Bytes of each alert e-mail fetched (alert HTML is large).
pub const ALERT_FETCH_BYTES: usize = 256 * 1024;
/// Most items returned per check.
pub const MAX_ITEMS: usize = 200;

/// The `vinted` service: one fetched action.
pub fn service() -> Service {
    let mut actions = BTreeMap::new();
    actions.insert("new_alert_item", ActionKind::Fetched(Arc::new(NewAlertItem) as Arc<dyn FetchedAction>));
    Service::new(manifest(), actions, BTreeMap::new())
}

fn manifest() -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Vinted",
        description: "New items of your Vinted saved searches, read from the alert e-mails Vinted sends you. Turn \
                      on e-mail alerts for a saved search in Vinted, then connect the mailbox that receives them \
                      (IMAP server, user name and password or app password, as for Mail (IMAP/SMTP)).",
        auth: AuthKind::MailAccount,
        credential_hosts: vec![],
        oauth: None,
        availability: Availability::Unofficial(
            "Vinted has no public API for normal users; this reads Vinted's own saved-search alert e-mails from \
             your mailbox"
                .into(),
        ),
        actions: vec![ActionManifest {
            id: "new_alert_item",
            name: "New item from a saved-search alert",
            description: "Fires for each item listed in a Vinted saved-search alert e-mail arriving in your \
                          mailbox. The folder is checked every area interval.",
            params: imap_param_specs(false),
            ingredients: vec![
                ingredient("title", "The item's title.", "Robe Zara fleurie"),
                ingredient("price", "The price as shown in the alert.", "12,00 €"),
                ingredient(
                    "link",
                    "Link to the item on Vinted.",
                    "https://www.vinted.fr/items/4567891234-robe-zara-fleurie",
                ),
                ingredient(
                    "photo",
                    "Link to the item's photo (may be empty).",
                    "https://images1.vinted.net/t/01_00a/f800/1700000000.jpeg",
                ),
                ingredient("item_id", "Vinted's item id.", "4567891234"),
                ingredient("search", "The saved search, from the alert's subject.", "robe zara"),
                ingredient("received_at", "When the alert was sent (RFC 3339).", "2026-11-28T10:30:00+01:00"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: None,
        }],
        reactions: Vec::new(),
    }
}

/// Whether an address is one of Vinted's (see the module doc).
pub fn is_vinted_sender(address: &str) -> bool {
    let Some((_, domain)) =
        address.trim().to_ascii_lowercase().rsplit_once('@').map(|(a, d)| (a.to_string(), d.to_string()))
    else {
        return false;
    };
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    let Some(i) = labels.iter().rposition(|l| *l == "vinted") else { return false };
    match &labels[i + 1..] {
        [tld] => !tld.is_empty(),
        [second, tld] => matches!(*second, "co" | "com") && !tld.is_empty(),
        _ => false,
    }
}

/// One item listed in an alert.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertItem {
    pub item_id: String,
    pub title: String,
    pub price: String,
    pub link: String,
    pub photo: String,
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

fn item_url_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"(?i)https?://(?:www\.)?vinted\.[a-z]{2,3}(?:\.[a-z]{2})?/items/(\d{1,20})(?:-[A-Za-z0-9_%\-]*)?")
}

fn price_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"(?i)(?:[€£$]\s?\d[\d\s.,]*\d|[€£$]\s?\d|\d(?:[\d\s.,]*\d)?\s?(?:€|£|\$|eur\b|zł|kč|czk|kr|ft|lei|ron|sek|dkk|huf|pln))",
    )
}

fn img_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r#"(?is)<img\b[^>]*>"#)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    static R: OnceLock<Regex> = OnceLock::new();
    let attrs = re(&R, r#"(?is)([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')"#);
    attrs
        .captures_iter(tag)
        .find(|c| c[1].eq_ignore_ascii_case(name))
        .map(|c| decode_entities(c.get(2).or_else(|| c.get(3)).map_or("", |m| m.as_str())).trim().to_string())
}

/// Decodes the HTML entities alert e-mails use (named basics and numeric ones).
pub fn decode_entities(s: &str) -> String {
    static R: OnceLock<Regex> = OnceLock::new();
    let entity = re(&R, r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});");
    entity
        .replace_all(s, |c: &regex::Captures<'_>| {
            let name = &c[1];
            let decoded = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).map(String::from)
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok().and_then(char::from_u32).map(String::from)
            } else {
                match name {
                    "amp" => Some("&".into()),
                    "lt" => Some("<".into()),
                    "gt" => Some(">".into()),
                    "quot" => Some("\"".into()),
                    "apos" => Some("'".into()),
                    "nbsp" => Some(" ".into()),
                    "euro" => Some("€".into()),
                    "pound" => Some("£".into()),
                    "laquo" => Some("«".into()),
                    "raquo" => Some("»".into()),
                    "middot" => Some("·".into()),
                    "hellip" => Some("…".into()),
                    "ndash" => Some("–".into()),
                    "mdash" => Some("—".into()),
                    "lsquo" => Some("‘".into()),
                    "rsquo" => Some("’".into()),
                    "ldquo" => Some("“".into()),
                    "rdquo" => Some("”".into()),
                    "eacute" => Some("é".into()),
                    "egrave" => Some("è".into()),
                    "agrave" => Some("à".into()),
                    "ccedil" => Some("ç".into()),
                    _ => None,
                }
            };
            decoded.unwrap_or_else(|| c[0].to_string())
        })
        .into_owned()
}

/// The visible text lines of an HTML fragment.
fn text_lines(html: &str) -> Vec<String> {
    static TAG: OnceLock<Regex> = OnceLock::new();
    static DROP: OnceLock<Regex> = OnceLock::new();
    let dropped = re(&DROP, r"(?is)<(style|script|head)\b.*?</(style|script|head)\s*>").replace_all(html, " ");
    let text = re(&TAG, r"(?s)<[^>]*>").replace_all(&dropped, "\n");
    decode_entities(&text)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

fn find_price(lines: &[String]) -> String {
    lines.iter().find_map(|l| price_re().find(l).map(|m| m.as_str().trim().to_string())).unwrap_or_default()
}

fn is_noise(line: &str) -> bool {
    price_re().find(line).is_some_and(|m| m.as_str().len() + 2 >= line.len()) || line.contains("://") || line.len() < 2
}

fn canonical_link(m: &str) -> String {
    format!("https://{}", m.split_once("://").map_or(m, |(_, rest)| rest))
}

/// The items of an alert, from its HTML part (or its text part when it has no HTML).
pub fn parse_alert(html: &str, text: &str) -> Vec<AlertItem> {
    let mut items: Vec<AlertItem> = Vec::new();
    if !html.trim().is_empty() {
        // Decode `&amp;` etc. only inside URLs later; the item regex stops at `?`/`&`/quotes anyway.
        let mut starts: Vec<(usize, String, String)> = Vec::new(); // (segment start, id, link)
        for m in item_url_re().captures_iter(html) {
            let id = m[1].to_string();
            if starts.iter().any(|(_, seen, _)| *seen == id) {
                continue;
            }
            let at = m.get(0).map_or(0, |x| x.start());
            // Start the segment at the enclosing `<a` (within 1 KiB before the URL) so the photo
            // and title inside the link belong to this item.
            let window_start = at.saturating_sub(1024);
            let window_start = (window_start..=at).find(|i| html.is_char_boundary(*i)).unwrap_or(at);
            let seg_start = html[window_start..at].rfind("<a").map_or(at, |i| window_start + i);
            let seg_start = seg_start.max(starts.last().map_or(0, |(s, _, _)| *s));
            starts.push((seg_start, id, canonical_link(m.get(0).map_or("", |x| x.as_str()))));
        }
        for (i, (start, id, link)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(html.len(), |(s, _, _)| *s).min(start + 16 * 1024);
            let end = (end..=html.len()).find(|e| html.is_char_boundary(*e)).unwrap_or(html.len());
            let segment = &html[*start..end];
            let img = img_re().find(segment).map(|m| m.as_str().to_string()).unwrap_or_default();
            let photo = attr(&img, "src").unwrap_or_default();
            let alt = attr(&img, "alt").unwrap_or_default();
            let lines = text_lines(segment);
            let title =
                if alt.is_empty() { lines.iter().find(|l| !is_noise(l)).cloned().unwrap_or_default() } else { alt };
            items.push(AlertItem {
                item_id: id.clone(),
                title: truncate_chars(&title, 200),
                price: find_price(&lines),
                link: link.clone(),
                photo,
            });
        }
        if !items.is_empty() {
            return items;
        }
    }
    let lines: Vec<String> =
        text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(m) = item_url_re().captures(line) else { continue };
        let id = m[1].to_string();
        if items.iter().any(|it| it.item_id == id) {
            continue;
        }
        // Look back at most 3 lines, never past the previous item's link.
        let floor = lines[..i].iter().rposition(|l| item_url_re().is_match(l)).map_or(0, |p| p + 1);
        let before = &lines[i.saturating_sub(3).max(floor)..i];
        let title = before.iter().rev().find(|l| !is_noise(l) && item_url_re().find(l).is_none()).cloned();
        let mut around: Vec<String> = before.to_vec();
        around.extend(lines[i + 1..(i + 3).min(lines.len())].iter().cloned());
        items.push(AlertItem {
            item_id: id,
            title: truncate_chars(&title.unwrap_or_default(), 200),
            price: find_price(&around),
            link: canonical_link(m.get(0).map_or("", |x| x.as_str())),
            photo: String::new(),
        });
    }
    items
}

/// The saved search's name, from the alert subject's quotes (or the whole subject).
pub fn search_name(subject: &str) -> String {
    static R: OnceLock<Regex> = OnceLock::new();
    let quoted = re(&R, r#"[«“"„]\s*([^«»“”"„]+?)\s*[»”"“]"#);
    quoted.captures(subject).map_or_else(|| subject.trim().to_string(), |c| c[1].to_string())
}

/// The events of one raw alert e-mail (pure, for tests on saved e-mails); nothing when the
/// sender is not Vinted.
pub fn alert_events(raw: &[u8]) -> Vec<Event> {
    let mail = parse_mail(raw);
    if !is_vinted_sender(&mail.from_address) {
        return Vec::new();
    }
    let search = search_name(&mail.subject);
    parse_alert(&mail.html, &mail.text)
        .into_iter()
        .map(|item| {
            let mut ing = Ingredients::new();
            ing.insert("title".into(), Value::String(item.title));
            ing.insert("price".into(), Value::String(item.price));
            ing.insert("link".into(), Value::String(item.link));
            ing.insert("photo".into(), Value::String(item.photo));
            ing.insert("item_id".into(), Value::String(item.item_id.clone()));
            ing.insert("search".into(), Value::String(search.clone()));
            ing.insert("received_at".into(), Value::String(mail.date.clone()));
            Event { key: item.item_id, ingredients: ing }
        })
        .collect()
}

/// `vinted.new_alert_item`.
pub struct NewAlertItem;

#[async_trait]
impl FetchedAction for NewAlertItem {
    async fn wait_for_change(
        &self,
        ctx: &FetchContext<'_>,
        max_wait: std::time::Duration,
    ) -> Result<SourceWait, ConnectorError> {
        idle_wait(ctx, ID, max_wait).await
    }

    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError> {
        let check = check_folder(ctx, ID, ALERT_FETCH_BYTES).await?;
        let mut events: Vec<Event> = Vec::new();
        for message in &check.messages {
            for event in alert_events(&message.raw) {
                if !events.iter().any(|e| e.key == event.key) {
                    events.push(event);
                }
            }
        }
        if events.len() > MAX_ITEMS {
            events.drain(..events.len() - MAX_ITEMS);
        }
        Ok(PollOutput { events, cursor: Some(check.cursor) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vinted_senders() {
        for ok in
            ["no-reply@vinted.fr", "No-Reply@Vinted.CO.UK", "a@email.vinted.com", "x@vinted.de", "x@vinted.com.br"]
        {
            assert!(is_vinted_sender(ok), "{ok}");
        }
        for bad in ["x@evilvinted.fr", "x@vinted.fr.evil.com", "vinted.fr", "x@example.com", "x@vinted"] {
            assert!(!is_vinted_sender(bad), "{bad}");
        }
    }

    #[test]
    fn search_names() {
        assert_eq!(search_name("Nouveaux articles pour « robe zara »"), "robe zara");
        assert_eq!(search_name("New items for “nike air max 90”"), "nike air max 90");
        assert_eq!(search_name("New items"), "New items");
    }

    #[test]
    fn entities() {
        assert_eq!(decode_entities("12,00&nbsp;&euro; &amp; &#8364; &#x20AC; &bogus;"), "12,00 € & € € &bogus;");
    }
}
