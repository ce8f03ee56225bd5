//! OAuth2 in the app: one authorization at a time, finished either by the loopback redirect
//! (RFC 8252, what most providers accept) or by an `area://oauth/callback` deep link (mobile,
//! providers that allow custom schemes). Links are checked before anything else happens: only
//! that scheme, host and path, carrying the `state` of the authorization now waiting, are
//! accepted — a stray or forged link finishes nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::{oneshot, Notify};

use crate::oauth::{self, LoopbackListener, OAuthClientConfig, OAuthTokens};

use super::{ApiError, ErrorCode, UrlOpener};

/// The redirect URI registered with providers for deep-link callbacks.
pub const DEEP_LINK_REDIRECT: &str = "area://oauth/callback";
/// How long an authorization waits for the browser.
const WAIT: Duration = Duration::from_secs(300);

/// How the browser comes back to Area after the user approves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthVia {
    /// `http://127.0.0.1:<port>/callback`, a one-shot listener.
    #[default]
    Loopback,
    /// `area://oauth/callback`, delivered by the OS to the app.
    DeepLink,
}

/// The `state` of a well-formed `area://oauth/callback?…` link; anything else is an error that
/// says what was wrong with the link.
pub fn parse_deep_link(link: &str) -> Result<String, ApiError> {
    let bad = |why: &str| {
        ApiError::new(ErrorCode::Oauth, format!("ignored a link that is not an Area sign-in callback: {why}"))
    };
    let url = url::Url::parse(link).map_err(|_| bad("it is not a URL"))?;
    if url.scheme() != "area" {
        return Err(bad("unknown scheme"));
    }
    if url.host_str() != Some("oauth") {
        return Err(bad("unknown host"));
    }
    if url.path() != "/callback" {
        return Err(bad("unknown path"));
    }
    let states: Vec<String> = url.query_pairs().filter(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).collect();
    match states.as_slice() {
        [state] if !state.is_empty() => Ok(state.clone()),
        [] => Err(bad("it carries no state")),
        _ => Err(bad("it carries several states")),
    }
}

struct Active {
    id: u64,
    state: String,
    /// Set for deep-link flows: where the callback URL goes.
    deliver: Option<oneshot::Sender<String>>,
    cancel: Arc<Notify>,
}

/// The authorization in progress, if any.
#[derive(Default)]
pub(super) struct Flows {
    current: Mutex<Option<Active>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Flows {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Active>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Abandons the waiting authorization.
    pub(super) fn cancel(&self) {
        if let Some(active) = self.lock().take() {
            active.cancel.notify_one();
        }
    }

    fn register(&self, state: &str, deliver: Option<oneshot::Sender<String>>) -> (u64, Arc<Notify>) {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancel = Arc::new(Notify::new());
        // Starting a new authorization abandons the previous one.
        if let Some(old) = self.lock().replace(Active { id, state: state.to_owned(), deliver, cancel: cancel.clone() })
        {
            old.cancel.notify_one();
        }
        (id, cancel)
    }

    fn finish(&self, id: u64) {
        let mut current = self.lock();
        if current.as_ref().is_some_and(|a| a.id == id) {
            *current = None;
        }
    }

    /// Hands a deep link to the authorization waiting for it.
    pub(super) fn deliver_deep_link(&self, link: &str) -> Result<(), ApiError> {
        let state = parse_deep_link(link)?;
        let mut current = self.lock();
        let waiting =
            current.as_mut().filter(|a| a.deliver.is_some() && bool::from(a.state.as_bytes().ct_eq(state.as_bytes())));
        let Some(active) = waiting else {
            return Err(ApiError::new(
                ErrorCode::Oauth,
                "no connection is waiting for this link (it expired, was cancelled or was already used): start again",
            ));
        };
        let deliver = active.deliver.take();
        if let Some(tx) = deliver {
            let _ = tx.send(link.to_owned());
        }
        Ok(())
    }

    /// Runs one authorization: opens the browser, waits for the redirect (on `port` for a
    /// loopback listener, any free one when `None`), exchanges the code.
    pub(super) async fn run(
        &self,
        client: &OAuthClientConfig,
        via: OAuthVia,
        port: Option<u16>,
        opener: UrlOpener,
    ) -> Result<OAuthTokens, ApiError> {
        let cancelled = || ApiError::new(ErrorCode::Cancelled, "the connection was cancelled");
        let timed_out =
            || ApiError::new(ErrorCode::Oauth, "nothing came back from the browser within 5 minutes: start again");
        match via {
            OAuthVia::Loopback => {
                let listener = LoopbackListener::bind_port(port.unwrap_or(0)).await?;
                let (url, pending) = oauth::start(client, &listener.redirect_uri_for(client.loopback_host))?;
                let (id, cancel) = self.register(&pending.state, None);
                opener(&url);
                let result = tokio::select! {
                    callback = listener.wait(&pending, WAIT) => match callback {
                        Ok(callback) => oauth::finish(client, &pending, &callback).await.map_err(ApiError::from),
                        Err(e) => Err(e.into()),
                    },
                    _ = cancel.notified() => Err(cancelled()),
                };
                self.finish(id);
                result
            }
            OAuthVia::DeepLink => {
                let (url, pending) = oauth::start(client, DEEP_LINK_REDIRECT)?;
                let (tx, rx) = oneshot::channel();
                let (id, cancel) = self.register(&pending.state, Some(tx));
                opener(&url);
                let result = tokio::select! {
                    callback = tokio::time::timeout(WAIT, rx) => match callback {
                        Ok(Ok(callback)) => oauth::finish(client, &pending, &callback).await.map_err(ApiError::from),
                        Ok(Err(_)) => Err(cancelled()),
                        Err(_) => Err(timed_out()),
                    },
                    _ = cancel.notified() => Err(cancelled()),
                };
                self.finish(id);
                result
            }
        }
    }
}

/// Setting naming the program that opens authorization pages (a browser, or a script in
/// tests); otherwise the desktop's default opener is used.
pub const BROWSER_ENV: &str = crate::settings::BROWSER;

/// Opens an authorization page in `browser` (the `AREA_BROWSER` setting), else the desktop's
/// opener. Best effort: with no browser (a server), the user is told to open the page by hand.
pub fn open_in_browser(url: &str, browser: Option<&str>) {
    let opener = browser.unwrap_or(if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    });
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        // Reap the opener when it exits so no zombie is left behind.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => {
            tracing::warn!(opener, "no browser could be opened ({e}); set {BROWSER_ENV} to your browser's command")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_links_are_checked_before_use() {
        assert_eq!(parse_deep_link("area://oauth/callback?code=c&state=s1").map_err(|e| e.message), Ok("s1".into()));
        for bad in [
            "https://oauth/callback?code=c&state=s",
            "areas://oauth/callback?code=c&state=s",
            "area://evil/callback?code=c&state=s",
            "area://oauth/other?code=c&state=s",
            "area://oauth/callback?code=c",
            "area://oauth/callback?code=c&state=",
            "area://oauth/callback?state=a&state=b",
            "not a url",
        ] {
            assert!(parse_deep_link(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn a_link_with_an_unknown_state_finishes_nothing() {
        let flows = Flows::default();
        let (tx, mut rx) = oneshot::channel();
        flows.register("expected", Some(tx));
        let err = flows.deliver_deep_link("area://oauth/callback?code=c&state=other").expect_err("unknown state");
        assert_eq!(err.code, "oauth");
        assert!(rx.try_recv().is_err(), "nothing was delivered");
        flows.deliver_deep_link("area://oauth/callback?code=c&state=expected").expect("the waiting state");
        assert_eq!(rx.try_recv().ok().as_deref(), Some("area://oauth/callback?code=c&state=expected"));
        // A second link with the same state is refused: the flow took its one callback.
        assert!(flows.deliver_deep_link("area://oauth/callback?code=c&state=expected").is_err());
    }
}
