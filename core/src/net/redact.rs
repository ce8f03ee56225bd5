//! Origins only: every URL an error text carries is cut to `scheme://host[:port]` before it is
//! kept in history or logged, because Discord webhook tokens live in a URL's path and keys such
//! as NASA's `api_key` in its query. The net layer builds its own messages from origins; this is
//! for texts it does not write — an upstream's error body, a library error's `Display`.

/// `text` with every `http://` or `https://` URL in it replaced by its origin.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_scheme(rest) {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let len = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\'))
            .unwrap_or(candidate.len());
        // Closing punctuation right after a URL belongs to the sentence, not the URL.
        let url_text = candidate[..len].trim_end_matches([')', ']', '}', '.', ',', ';', ':', '!', '?']);
        out.push_str(&origin_of(url_text));
        rest = &candidate[url_text.len()..];
    }
    out.push_str(rest);
    out
}

/// Byte offset of the next `http://` or `https://` (any case).
fn find_scheme(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")].into_iter().flatten().min()
}

/// The origin of a URL text; when it does not parse, everything after the authority is dropped
/// (and any `user:password@`).
fn origin_of(url_text: &str) -> String {
    if let Ok(url) = url::Url::parse(url_text) {
        if url.host().is_some() {
            return url.origin().ascii_serialization();
        }
    }
    let (scheme, after) = url_text.split_once("://").unwrap_or(("http", url_text));
    let authority = after.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    format!("{}://{host}", scheme.to_ascii_lowercase())
}

/// A library error and its causes as one line, URLs cut to origins: for errors whose `Display`
/// embeds the request URL (reqwest's does).
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    redact_urls(&parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASA: &str = "https://api.nasa.gov/planetary/apod?api_key=SECRET";

    #[test]
    fn urls_keep_their_origin_only() {
        assert_eq!(redact_urls(&format!("failed for {NASA}.")), "failed for https://api.nasa.gov.");
        assert_eq!(
            redact_urls("(see http://user:pw@127.0.0.1:8080/api/webhooks/1/TOKEN#x) and HTTPS://Example.com/p"),
            "(see http://127.0.0.1:8080) and https://example.com"
        );
        assert_eq!(redact_urls("\"https://h.example/a?b=SECRET\""), "\"https://h.example\"");
        assert_eq!(redact_urls("https://[bad/SECRET"), "https://[bad");
        assert_eq!(redact_urls("no url here"), "no url here");
    }

    /// reqwest's own message embeds the full URL; the texts Area keeps do not.
    #[tokio::test]
    async fn a_reqwest_error_for_a_url_with_a_key_displays_without_it() {
        let client = reqwest::Client::builder()
            .resolve("api.nasa.gov", "127.0.0.1:1".parse().expect("address"))
            .build()
            .expect("client");
        let err = client.get(NASA).send().await.expect_err("nothing listens on port 1");
        assert!(err.to_string().contains("SECRET"), "reqwest's Display holds the URL: {err}");
        let text = error_text(&err);
        assert!(!text.contains("SECRET") && !text.contains("planetary"), "{text}");
        assert!(text.contains("https://api.nasa.gov"), "{text}");
    }
}
