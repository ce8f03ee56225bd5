//! Recipes: ready-made areas across the services, so a first area takes a minute — pick one, fill
//! the few fields it leaves open (a repository, a channel's webhook), connect what it needs, save.
//! The gallery of an empty dashboard and `area recipes` both list these.
//!
//! A recipe is an [`AreaForm`] with its open fields empty; [`RecipeAsk`] names each one (as the
//! form's field path, the same the core's errors use) with an example of what goes there. Every
//! recipe, filled with its examples, passes the same validation as a saved area (tested).

use std::collections::BTreeMap;

use serde::Serialize;

use super::form::{AreaForm, FormStep};

/// A field a recipe leaves open for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct RecipeAsk {
    /// The form field (`action.params.repo`, `reactions[0].params.webhook_url`).
    pub field: String,
    /// What a value looks like, shown as the field's placeholder.
    pub example: String,
}

/// A ready-made area.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, schemars::JsonSchema)]
pub struct Recipe {
    /// Stable id (`github-release-to-discord`), for `area recipes show ID` and links.
    pub id: String,
    /// "New GitHub release → Discord message".
    pub title: String,
    /// One sentence on what it does.
    pub description: String,
    /// The area, its open fields empty.
    pub form: AreaForm,
    /// The fields to fill before it can be saved, in form order.
    pub asks: Vec<RecipeAsk>,
    /// Every service it uses (trigger first), for logos and the connections it needs.
    pub services: Vec<String>,
}

/// One step of a recipe: service, action or reaction id, and its parameters (an empty value is a
/// field to ask, with the example after `|`: `"repo" => "|rust-lang/rust"`).
type Step<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// Builds a recipe from its steps; parameters written `|example` become asks.
fn recipe(id: &str, title: &str, description: &str, action: Step<'_>, reactions: &[Step<'_>]) -> Recipe {
    let mut asks = Vec::new();
    let mut step = |prefix: String, (service, id, params): Step<'_>| {
        let mut values = BTreeMap::new();
        for (key, value) in params {
            match value.strip_prefix('|') {
                Some(example) => {
                    asks.push(RecipeAsk { field: format!("{prefix}.params.{key}"), example: example.to_string() });
                    values.insert((*key).to_string(), String::new());
                }
                None => {
                    values.insert((*key).to_string(), (*value).to_string());
                }
            }
        }
        FormStep { service: service.into(), id: id.into(), params: values }
    };
    let action_step = step("action".into(), action);
    let reaction_steps: Vec<FormStep> =
        reactions.iter().enumerate().map(|(i, r)| step(format!("reactions[{i}]"), *r)).collect();
    let mut services = vec![action.0.to_string()];
    for r in reactions {
        if !services.iter().any(|s| s == r.0) {
            services.push(r.0.to_string());
        }
    }
    Recipe {
        id: id.into(),
        title: title.into(),
        description: description.into(),
        form: AreaForm {
            name: title.into(),
            action: action_step,
            reactions: reaction_steps,
            condition: None,
            enabled: true,
            interval_secs: None,
            allow_private_network: false,
        },
        asks,
        services,
    }
}

const DISCORD_HOOK: &str = "|https://discord.com/api/webhooks/123456789012345678/your-webhook-token";
const NTFY_TOPIC: &str = "|my-alerts-7f3k";

/// Every recipe, most common first.
fn all() -> Vec<Recipe> {
    vec![
        recipe(
            "rss-to-notification",
            "New blog post → notification",
            "A desktop notification for each new post of a blog or news feed.",
            ("rss", "new_item", &[("url", "|https://blog.rust-lang.org/feed.xml")]),
            &[("notify", "send", &[("title", "{{ title }}"), ("body", "{{ feed_title }}")])],
        ),
        recipe(
            "github-release-to-discord",
            "New GitHub release → Discord message",
            "Tells a Discord channel when a repository publishes a release.",
            ("github", "new_release", &[("repo", "|rust-lang/rust")]),
            &[(
                "discord",
                "send_webhook",
                &[("webhook_url", DISCORD_HOOK), ("content", "{{ name }} is out: {{ url }}")],
            )],
        ),
        recipe(
            "github-issue-to-notification",
            "New GitHub issue → notification",
            "A notification for each issue opened in a repository you look after.",
            ("github", "new_issue", &[("repo", "|octocat/hello-world")]),
            &[("notify", "send", &[("title", "New issue: {{ title }}"), ("body", "{{ author }} — {{ url }}")])],
        ),
        recipe(
            "github-star-to-ntfy",
            "New GitHub star → phone push",
            "A push to your phone (ntfy) when someone stars your repository.",
            ("github", "new_star", &[("repo", "|octocat/hello-world")]),
            &[("ntfy", "publish", &[("topic", NTFY_TOPIC), ("message", "{{ user }} starred your repository")])],
        ),
        recipe(
            "rss-to-github-issue",
            "New feed item → GitHub issue",
            "Opens an issue for each new item of a feed (security advisories, upstream releases).",
            ("rss", "new_item", &[("url", "|https://github.com/rust-lang/rust/releases.atom")]),
            &[(
                "github",
                "create_issue",
                &[("repo", "|octocat/hello-world"), ("title", "{{ title }}"), ("body", "{{ link }}")],
            )],
        ),
        recipe(
            "rain-to-notification",
            "Rain starting → notification",
            "Warns you when rain starts where you are (Open-Meteo, no account).",
            ("weather", "rain_starts", &[("latitude", "|48.85"), ("longitude", "|2.35")]),
            &[(
                "notify",
                "send",
                &[("title", "Rain is starting"), ("body", "{{ conditions }}, {{ precipitation }} mm")],
            )],
        ),
        recipe(
            "frost-to-ntfy",
            "Below zero → phone push",
            "A push when the temperature drops below 0 °C: cover the plants.",
            ("weather", "temperature_below", &[("latitude", "|48.85"), ("longitude", "|2.35"), ("threshold", "0")]),
            &[("ntfy", "publish", &[("topic", NTFY_TOPIC), ("message", "It is {{ temperature }} °C outside")])],
        ),
        recipe(
            "bitcoin-above-to-notification",
            "Bitcoin above a price → notification",
            "A notification when Bitcoin crosses the price you set (CoinGecko, no account).",
            ("coingecko", "price_above", &[("coin", "bitcoin"), ("currency", "usd"), ("threshold", "|100000")]),
            &[(
                "notify",
                "send",
                &[("title", "Bitcoin is at {{ price }} {{ currency }}"), ("body", "24 h: {{ change_24h }} %")],
            )],
        ),
        recipe(
            "crypto-swing-to-discord",
            "Big crypto move → Discord message",
            "Posts to Discord when a coin moves more than a percentage in 24 hours.",
            ("coingecko", "change_24h", &[("coin", "|ethereum"), ("percent", "10")]),
            &[(
                "discord",
                "send_webhook",
                &[
                    ("webhook_url", DISCORD_HOOK),
                    (
                        "content",
                        "{{ coin }} is {{ direction }} {{ change_24h }} % in 24 h ({{ price }} {{ currency }})",
                    ),
                ],
            )],
        ),
        recipe(
            "nasa-apod-to-discord",
            "NASA picture of the day → Discord message",
            "Shares NASA's Astronomy Picture of the Day in a Discord channel.",
            ("nasa", "new_apod", &[]),
            &[("discord", "send_webhook", &[("webhook_url", DISCORD_HOOK), ("content", "{{ title }} — {{ url }}")])],
        ),
        recipe(
            "youtube-video-to-notification",
            "New YouTube video → notification",
            "A notification when a channel you follow publishes a video.",
            ("youtube", "new_video", &[("channel_id", "|UC_x5XG1OV2P6uZZ5FSM9Ttw")]),
            &[("notify", "send", &[("title", "{{ channel_title }}: {{ title }}"), ("body", "{{ url }}")])],
        ),
        recipe(
            "mail-from-to-ntfy",
            "Mail from someone → phone push",
            "A push to your phone when a mail from a given sender arrives (any IMAP mailbox).",
            ("mail", "new_message", &[("from_contains", "|boss@example.com")]),
            &[(
                "ntfy",
                "publish",
                &[("topic", NTFY_TOPIC), ("title", "Mail from {{ from }}"), ("message", "{{ subject }}")],
            )],
        ),
        recipe(
            "gmail-important-to-discord",
            "Important Gmail → Discord message",
            "Posts a link to Discord for each mail Gmail marks important.",
            ("gmail", "new_mail", &[("query", "is:important")]),
            &[(
                "discord",
                "send_webhook",
                &[("webhook_url", DISCORD_HOOK), ("content", "New important mail: {{ url }}")],
            )],
        ),
        recipe(
            "weekday-reminder",
            "Every weekday at 9:00 → reminder",
            "A notification every working day at 9:00 (edit the time in the schedule).",
            ("timer", "cron", &[("expression", "0 9 * * 1-5"), ("timezone", "|Europe/Paris")]),
            &[("notify", "send", &[("title", "Stand-up in 5 minutes")])],
        ),
        recipe(
            "hourly-health-check",
            "Every hour → call a URL",
            "Calls a health-check or heartbeat URL every hour.",
            ("timer", "every", &[("minutes", "60")]),
            &[("http", "request", &[("method", "GET"), ("url", "|https://hc-ping.com/your-check-id")])],
        ),
        recipe(
            "webhook-to-discord",
            "Webhook → Discord message",
            "Forwards what any tool POSTs to your area's webhook address to Discord.",
            ("webhook", "received", &[]),
            &[("discord", "send_webhook", &[("webhook_url", DISCORD_HOOK), ("content", "{{ message }}")])],
        ),
        recipe(
            "webhook-to-notification",
            "Webhook → notification",
            "Shows a notification for whatever a script POSTs to the area's webhook address.",
            ("webhook", "received", &[]),
            &[("notify", "send", &[("title", "{{ title }}"), ("body", "{{ message }}")])],
        ),
        recipe(
            "ntfy-to-notification",
            "ntfy message → desktop notification",
            "Brings the messages of an ntfy topic to this computer's notifications.",
            ("ntfy", "new_message", &[("topic", NTFY_TOPIC)]),
            &[("notify", "send", &[("title", "{{ title }}"), ("body", "{{ message }}")])],
        ),
        recipe(
            "postman-monitor-to-discord",
            "Postman monitor failed → Discord message",
            "Tells your team's channel when a Postman monitor run fails.",
            ("postman", "monitor_run_failed", &[("monitor_id", "|1e6b6dfd-7ba4-4590-9ee1-5948102d7797")]),
            &[(
                "discord",
                "send_webhook",
                &[
                    ("webhook_url", DISCORD_HOOK),
                    ("content", "Monitor {{ monitor }} failed ({{ failed_count }} failures): {{ url }}"),
                ],
            )],
        ),
        recipe(
            "ratp-disruption-to-notification",
            "Metro line disrupted → notification",
            "A notification when your RATP line (Paris) reports a disruption.",
            ("ratp", "disruption", &[("line", "|M1")]),
            &[("notify", "send", &[("title", "{{ line }}: {{ title }}"), ("body", "{{ message }}")])],
        ),
        recipe(
            "pokemongo-event-to-notification",
            "New Pokémon GO event → notification",
            "A notification when a new Pokémon GO event is announced.",
            ("pokemongo", "new_event", &[]),
            &[("notify", "send", &[("title", "{{ name }}"), ("body", "{{ heading }}, from {{ start }}")])],
        ),
        recipe(
            "netflix-number-one-to-notification",
            "New Netflix #1 → notification",
            "A notification when a new film tops Netflix's weekly Top 10.",
            ("netflix", "new_top10_number_one", &[("category", "Films (English)")]),
            &[(
                "notify",
                "send",
                &[("title", "Netflix #1: {{ title }}"), ("body", "{{ weekly_views }} views this week")],
            )],
        ),
        recipe(
            "drive-file-to-notification",
            "New file in a Drive folder → notification",
            "A notification when a file lands in a Google Drive folder.",
            ("google_drive", "new_file", &[("folder_id", "|1A2b3C4d5E6f7G8h9I0j")]),
            &[("notify", "send", &[("title", "New file: {{ name }}"), ("body", "{{ url }}")])],
        ),
        recipe(
            "game-patch-notes-to-notification",
            "Game patch notes → notification",
            "A notification when a Ubisoft game on Steam publishes patch notes.",
            ("ubisoft", "new_game_news", &[("appid", "|2225070"), ("patch_notes_only", "true")]),
            &[("notify", "send", &[("title", "{{ title }}"), ("body", "{{ url }}")])],
        ),
    ]
}

impl super::App {
    /// The recipes this install can run (every service they use is in its catalog).
    pub fn recipes(&self) -> Vec<Recipe> {
        all().into_iter().filter(|r| r.services.iter().all(|s| self.inner.catalog.service(s).is_some())).collect()
    }

    /// A recipe's form with `values` filling its open fields in order, ready for
    /// [`super::App::create_area`]; an unknown recipe or a missing value is an error that names
    /// what to give.
    pub fn recipe_form(&self, id: &str, values: &[String]) -> Result<AreaForm, super::ApiError> {
        let recipe = self.recipes().into_iter().find(|r| r.id == id).ok_or_else(|| {
            super::ApiError::new(super::ErrorCode::NotFound, format!("no recipe {id:?}: `area recipes` lists them"))
        })?;
        if values.len() != recipe.asks.len() {
            let wanted: Vec<String> = recipe.asks.iter().map(|a| format!("{} (e.g. {})", a.field, a.example)).collect();
            return Err(super::ApiError::invalid(
                recipe.asks.get(values.len()).map_or("values", |a| a.field.as_str()),
                format!("{} needs {} value(s), in order: {}", recipe.title, recipe.asks.len(), wanted.join(", ")),
            ));
        }
        let mut form = recipe.form;
        for (ask, value) in recipe.asks.iter().zip(values) {
            set_field(&mut form, &ask.field, value);
        }
        Ok(form)
    }
}

/// Sets `field` (`action.params.x`, `reactions[i].params.x`) of `form` to `value`.
fn set_field(form: &mut AreaForm, field: &str, value: &str) {
    let (step, key) = field.split_once(".params.").unwrap_or((field, ""));
    let target = match step.strip_prefix("reactions[").and_then(|s| s.strip_suffix(']')) {
        Some(i) => i.parse::<usize>().ok().and_then(|i| form.reactions.get_mut(i)),
        None => Some(&mut form.action),
    };
    if let Some(target) = target {
        target.params.insert(key.to_string(), value.to_string());
    }
}
