//! `rss` service: the poll request, and reading saved RSS 2.0, Atom, RSS 1.0 and JSON feeds.

use std::sync::Arc;

use area_core::catalog::ActionKind;
use area_core::connector::{ConnectorError, HttpResponseData, Params, PollContext, PolledAction};
use area_core::services::rss;
use serde_json::json;

const RSS2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Example &amp; Co. Blog</title>
    <link>https://example.com/</link>
    <description>Posts</description>
    <atom:link href="https://example.com/feed.xml" rel="self" type="application/rss+xml"/>
    <item>
      <title>Café ☕ and 日本語 — unicode post</title>
      <link>https://example.com/posts/cafe</link>
      <guid isPermaLink="false">post-42</guid>
      <pubDate>Tue, 05 Mar 2024 10:30:00 +0100</pubDate>
      <description><![CDATA[<p>Hello <b>world</b> &amp; friends.</p><script>evil()</script><p>Second&nbsp;paragraph.</p>]]></description>
      <category>news</category>
    </item>
    <item>
      <title>No guid, only a link</title>
      <link>https://example.com/posts/link-only</link>
      <pubDate>Mon, 04 Mar 2024 08:00:00 GMT</pubDate>
      <description>&lt;i&gt;Escaped&lt;/i&gt; HTML</description>
    </item>
    <item>
      <title>Neither guid nor link</title>
      <pubDate>Sun, 03 Mar 2024 08:00:00 GMT</pubDate>
      <content:encoded><![CDATA[<div>Only <em>content</em> here</div>]]></content:encoded>
    </item>
    <item>
      <title>Bare</title>
    </item>
  </channel>
</rss>"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="text">Atom Example</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-03-05T18:30:02Z</updated>
  <link href="https://atom.example.org/"/>
  <entry>
    <title type="html">Atom &lt;em&gt;powered&lt;/em&gt; robots run amok</title>
    <link rel="alternate" type="text/html" href="https://atom.example.org/2024/03/05/atom03"/>
    <link rel="enclosure" type="audio/mpeg" length="1337" href="https://atom.example.org/audio.mp3"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <published>2024-03-05T18:30:02+01:00</published>
    <updated>2024-03-06T09:00:00Z</updated>
    <summary type="html">&lt;p&gt;Some &lt;strong&gt;text&lt;/strong&gt;.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <title>Only updated</title>
    <id>tag:atom.example.org,2024:2</id>
    <updated>2024-03-04T10:00:00Z</updated>
  </entry>
</feed>"#;

const JSON_FEED: &str = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "JSON Example",
  "items": [
    {"id": "j1", "url": "https://json.example.net/1", "title": "First", "content_html": "<p>Hi</p>", "date_published": "2024-03-01T12:00:00Z"},
    {"id": "j2", "content_text": "untitled"}
  ]
}"#;

const RSS1: &str = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
  <channel rdf:about="https://rdf.example.com/">
    <title>RDF Example</title>
    <link>https://rdf.example.com/</link>
    <description>d</description>
  </channel>
  <item rdf:about="https://rdf.example.com/a">
    <title>RDF item</title>
    <link>https://rdf.example.com/a</link>
  </item>
</rdf:RDF>"#;

fn action() -> Arc<dyn PolledAction> {
    match rss::service().actions.get("new_item") {
        Some(ActionKind::Polled(a)) => a.clone(),
        _ => panic!("rss.new_item is not polled"),
    }
}

fn params(url: &str) -> Params {
    json!({ "url": url }).as_object().unwrap().clone()
}

fn read(body: &str) -> Result<Vec<area_core::connector::Event>, ConnectorError> {
    let p = params("https://example.com/feed.xml");
    let ctx = PollContext { params: &p, cursor: None, credential: None };
    let resp = HttpResponseData {
        status: 200,
        headers: vec![("content-type".into(), "application/rss+xml".into())],
        body: body.as_bytes().to_vec(),
    };
    action().read(&ctx, &resp).map(|o| o.events)
}

#[test]
fn request_is_a_get_with_feed_accept_header() {
    let p = params("https://example.com/feed.xml?lang=fr");
    let req = action().request(&PollContext { params: &p, cursor: None, credential: None }).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, "https://example.com/feed.xml?lang=fr");
    assert_eq!(
        req.headers,
        vec![(
            "Accept".to_string(),
            "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8".to_string()
        )]
    );
    assert!(req.body.is_none());
}

#[test]
fn request_rejects_bad_urls() {
    for bad in ["not a url", "ftp://example.com/feed", ""] {
        let p = params(bad);
        match action().request(&PollContext { params: &p, cursor: None, credential: None }) {
            Err(ConnectorError::BadParams { param, .. }) => assert_eq!(param, "url"),
            other => panic!("{bad:?}: expected BadParams, got {other:?}"),
        }
    }
}

#[test]
fn reads_rss2_items_with_all_ingredients() {
    let events = read(RSS2).unwrap();
    assert_eq!(events.len(), 4);
    let first = &events[0];
    assert_eq!(first.key, "post-42");
    let ing = &first.ingredients;
    let keys: Vec<_> = ing.keys().map(String::as_str).collect();
    assert_eq!(keys, ["feed_title", "id", "link", "published", "summary", "title"]);
    assert_eq!(ing["title"], json!("Café ☕ and 日本語 — unicode post"));
    assert_eq!(ing["link"], json!("https://example.com/posts/cafe"));
    assert_eq!(ing["id"], json!("post-42"));
    assert_eq!(ing["published"], json!("2024-03-05T09:30:00Z"));
    assert_eq!(ing["summary"], json!("Hello world & friends. Second paragraph."));
    assert_eq!(ing["feed_title"], json!("Example & Co. Blog"));

    // Without guid the link is the key; the escaped HTML description is stripped.
    assert_eq!(events[1].key, "https://example.com/posts/link-only");
    assert_eq!(events[1].ingredients["summary"], json!("Escaped HTML"));
    // Without guid or link: a hash; content:encoded stands in for the missing description.
    assert!(events[2].key.starts_with("sha256:"), "{}", events[2].key);
    assert_eq!(events[2].ingredients["summary"], json!("Only content here"));
    assert_eq!(events[2].ingredients["link"], json!(""));
}

#[test]
fn missing_optional_fields_are_empty_strings() {
    let events = read(RSS2).unwrap();
    let bare = &events[3].ingredients;
    assert_eq!(bare["title"], json!("Bare"));
    assert_eq!(bare["link"], json!(""));
    assert_eq!(bare["published"], json!(""));
    assert_eq!(bare["summary"], json!(""));
    assert_eq!(bare["id"], json!(events[3].key));
}

#[test]
fn keys_are_stable_across_polls() {
    let a: Vec<_> = read(RSS2).unwrap().into_iter().map(|e| e.key).collect();
    let b: Vec<_> = read(RSS2).unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(a, b);
    let unique: std::collections::HashSet<_> = a.iter().collect();
    assert_eq!(unique.len(), a.len(), "distinct items get distinct keys");
    let atom_a: Vec<_> = read(ATOM).unwrap().into_iter().map(|e| e.key).collect();
    let atom_b: Vec<_> = read(ATOM).unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(atom_a, atom_b);
}

#[test]
fn reads_atom_entries() {
    let events = read(ATOM).unwrap();
    assert_eq!(events.len(), 2);
    let ing = &events[0].ingredients;
    assert_eq!(events[0].key, "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a");
    assert_eq!(ing["title"], json!("Atom powered robots run amok"));
    assert_eq!(ing["link"], json!("https://atom.example.org/2024/03/05/atom03"), "alternate link, not the enclosure");
    assert_eq!(ing["published"], json!("2024-03-05T17:30:02Z"));
    assert_eq!(ing["summary"], json!("Some text."));
    assert_eq!(ing["feed_title"], json!("Atom Example"));
    // Atom only requires <updated>: it stands in for the publication date.
    assert_eq!(events[1].ingredients["published"], json!("2024-03-04T10:00:00Z"));
}

#[test]
fn reads_json_feed_and_rss1() {
    let events = read(JSON_FEED).unwrap();
    assert_eq!(events.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["j1", "j2"]);
    assert_eq!(events[0].ingredients["link"], json!("https://json.example.net/1"));
    assert_eq!(events[0].ingredients["summary"], json!("Hi"));
    assert_eq!(events[0].ingredients["feed_title"], json!("JSON Example"));

    let events = read(RSS1).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].ingredients["title"], json!("RDF item"));
    assert_eq!(events[0].ingredients["link"], json!("https://rdf.example.com/a"));
}

#[test]
fn long_summaries_are_truncated() {
    let long = "word ".repeat(1000);
    let feed = format!(
        r#"<rss version="2.0"><channel><title>t</title><item><guid>x</guid><description>{long}</description></item></channel></rss>"#
    );
    let events = read(&feed).unwrap();
    let summary = events[0].ingredients["summary"].as_str().unwrap();
    assert!(summary.chars().count() <= rss::SUMMARY_MAX_CHARS + 1, "{}", summary.len());
    assert!(summary.ends_with('…'));
}

#[test]
fn malformed_or_non_feed_bodies_are_bad_responses() {
    let cases = [
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>broken</item></channel></rss>"#,
        "<html><body><h1>Not a feed</h1></body></html>",
        "",
        "just some text",
        "{ not json",
    ];
    for body in cases {
        match read(body) {
            Err(ConnectorError::BadResponse { service, message }) => {
                assert_eq!(service, "rss");
                assert!(message.contains("feed"), "{message}");
            }
            other => panic!("{body:?}: expected BadResponse, got {other:?}"),
        }
    }
}

#[test]
fn manifest_has_min_interval_and_documented_ingredients() {
    let m = rss::service().manifest;
    let a = &m.actions[0];
    assert_eq!(a.id, "new_item");
    assert_eq!(a.min_interval_secs, Some(60));
    let ids: Vec<_> = a.ingredients.iter().map(|i| i.id).collect();
    assert_eq!(ids, ["title", "link", "id", "published", "summary", "feed_title"]);
}
