//! Triggers on the device's own state: the network goes online or offline (NetworkManager), the
//! battery falls below a level and the charger is plugged or unplugged (UPower), the session is
//! unlocked (logind), and the computer wakes from sleep (the kernel's clocks).
//!
//! Decisions:
//! - Each trigger is a state read on demand ([`FetchedAction::fetch`]) and compared with the
//!   state the cursor remembers: entering a state the area fires on is one event, whose key
//!   counts the transitions, so each transition fires once and a repeated read fires nothing.
//!   The first read only records the state (nothing fires for how things were before).
//! - Between checks the watcher waits for the service's `PropertiesChanged` signal, so a change
//!   fires within a second instead of at the area's interval.
//! - "Online" is NetworkManager's `CONNECTED_GLOBAL` (full connectivity); connected to a local
//!   network only counts as offline. Without NetworkManager, online is a default route through
//!   an interface that is up ([`super::kernel_net`]), looked at every second.
//! - The battery is "low" only while on battery and below the level: plugging in ends it, and
//!   unplugging while below it fires again.
//! - Waking from sleep needs no service: the time the kernel's boot clock gained over its
//!   monotonic clock (which stops during sleep) is the time slept, so a wake-up is noticed at the
//!   next check even when it happened while Area was not looking.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::bus::{Bus, Source};
use super::kernel_net::KernelNet;
use crate::services::kit::prelude::*;

/// NetworkManager's main object.
pub const NETWORK_MANAGER: Source = Source {
    name: "NetworkManager",
    destination: "org.freedesktop.NetworkManager",
    path: "/org/freedesktop/NetworkManager",
    interface: "org.freedesktop.NetworkManager",
};
/// UPower's main object (`OnBattery`).
pub const UPOWER: Source = Source {
    name: "UPower",
    destination: "org.freedesktop.UPower",
    path: "/org/freedesktop/UPower",
    interface: "org.freedesktop.UPower",
};
/// UPower's composite battery (`Percentage`).
pub const DISPLAY_DEVICE: Source = Source {
    name: "UPower",
    destination: "org.freedesktop.UPower",
    path: "/org/freedesktop/UPower/devices/DisplayDevice",
    interface: "org.freedesktop.UPower.Device",
};
/// logind's session of the calling process (`auto`: the caller's, or the user's graphical one).
pub const SESSION: Source = Source {
    name: "logind",
    destination: "org.freedesktop.login1",
    path: "/org/freedesktop/login1/session/auto",
    interface: "org.freedesktop.login1.Session",
};

/// NetworkManager's `NM_STATE_CONNECTED_GLOBAL`.
pub const NM_CONNECTED_GLOBAL: u32 = 70;

/// How often the network state is read from the kernel when NetworkManager is not running.
const KERNEL_LOOK_EVERY: Duration = Duration::from_secs(1);

/// Sleep shorter than this is clock noise, not a suspend.
const MIN_SLEEP: Duration = Duration::from_secs(2);

/// Which state a [`DeviceState`] trigger watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Network,
    BatteryLow,
    Charger,
    Unlocked,
}

/// A trigger on one of the device's states; see the module doc.
pub struct DeviceState {
    pub watched: Watched,
    pub bus: Arc<Bus>,
    pub access: DeviceAccess,
    /// Where "online" is read when NetworkManager is not running.
    pub kernel: KernelNet,
}

/// What one read found.
struct Reading {
    /// The state's name, remembered in the cursor.
    state: &'static str,
    /// Whether this area fires on entering it.
    fires: bool,
    ingredients: Ingredients,
}

fn when(params: &Params) -> &str {
    opt_str(params, "when").unwrap_or("either")
}

impl DeviceState {
    fn source(&self) -> &'static Source {
        match self.watched {
            Watched::Network => &NETWORK_MANAGER,
            Watched::BatteryLow => &DISPLAY_DEVICE,
            Watched::Charger => &UPOWER,
            Watched::Unlocked => &SESSION,
        }
    }

    async fn read(&self, params: &Params) -> Result<Reading, ConnectorError> {
        let mut ingredients = Ingredients::new();
        let (state, fires) = match self.watched {
            Watched::Network => {
                let (state, detail) = match self.bus.property(&NETWORK_MANAGER, "State").await {
                    Ok(code) => {
                        let code = code.number() as u32;
                        let state = if code >= NM_CONNECTED_GLOBAL { "online" } else { "offline" };
                        (state, nm_state_name(code).to_string())
                    }
                    // No NetworkManager: the kernel's routes say it (or the error names both).
                    Err(missing) => match self.kernel.default_route() {
                        Ok(Some(interface)) => ("online", format!("a default route through {interface}")),
                        Ok(None) => ("offline", "no default route".to_string()),
                        Err(e) => {
                            tracing::debug!("no kernel fallback for the network state: {e}");
                            return Err(missing);
                        }
                    },
                };
                ingredients.insert("detail".into(), json!(detail));
                (state, matches!(when(params), "either") || when(params) == state)
            }
            Watched::BatteryLow => {
                let below = number_param(params, "below").unwrap_or(20.0);
                let on_battery = self.bus.property(&UPOWER, "OnBattery").await?.number() != 0.0;
                let percentage = self.bus.property(&DISPLAY_DEVICE, "Percentage").await?.number();
                ingredients.insert("percentage".into(), json!(format!("{}", percentage.round())));
                let state = if on_battery && percentage < below { "low" } else { "ok" };
                (state, state == "low")
            }
            Watched::Charger => {
                let on_battery = self.bus.property(&UPOWER, "OnBattery").await?.number() != 0.0;
                let percentage = match self.bus.property(&DISPLAY_DEVICE, "Percentage").await {
                    Ok(p) => format!("{}", p.number().round()),
                    Err(_) => String::new(),
                };
                ingredients.insert("percentage".into(), json!(percentage));
                let state = if on_battery { "unplugged" } else { "plugged" };
                (state, matches!(when(params), "either") || when(params) == state)
            }
            Watched::Unlocked => {
                let locked = self.bus.property(&SESSION, "LockedHint").await?.number() != 0.0;
                let state = if locked { "locked" } else { "unlocked" };
                (state, state == "unlocked")
            }
        };
        ingredients.insert("state".into(), json!(state));
        ingredients.insert("at".into(), json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        Ok(Reading { state, fires, ingredients })
    }
}

/// The state and transition count a cursor remembers.
fn remembered(cursor: Option<&Value>) -> Option<(String, u64)> {
    let cursor = cursor?;
    Some((cursor.get("state")?.as_str()?.to_string(), cursor.get("transitions")?.as_u64()?))
}

/// The events and next cursor of a reading (see the module doc).
fn state_output(reading: Reading, cursor: Option<&Value>) -> PollOutput {
    let (transitions, events) = match remembered(cursor) {
        None => (0, Vec::new()),
        Some((state, n)) if state == reading.state => (n, Vec::new()),
        Some((_, n)) => {
            let key = format!("{}#{}", reading.state, n + 1);
            let events = if reading.fires { vec![Event { key, ingredients: reading.ingredients }] } else { Vec::new() };
            (n + 1, events)
        }
    };
    PollOutput { events, cursor: Some(json!({ "state": reading.state, "transitions": transitions })) }
}

fn nm_state_name(code: u32) -> &'static str {
    match code {
        10 => "asleep",
        20 => "disconnected",
        30 => "disconnecting",
        40 => "connecting",
        50 => "connected to the local network only",
        60 => "connected to a site only",
        70 => "connected",
        _ => "unknown",
    }
}

#[async_trait]
impl FetchedAction for DeviceState {
    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError> {
        self.access.check(super::ID)?;
        let reading = self.read(ctx.params).await?;
        Ok(state_output(reading, ctx.cursor))
    }

    async fn wait_for_change(&self, ctx: &FetchContext<'_>, max_wait: Duration) -> Result<SourceWait, ConnectorError> {
        self.access.check(super::ID)?;
        let Some((known, _)) = remembered(ctx.cursor) else {
            // Nothing to compare with before the first check: come back once it has recorded
            // the state (the scheduler asks again with the new cursor). Not `Unsupported`, which
            // would end the watch for good.
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(SourceWait::Quiet);
        };
        if self.watched == Watched::Network && self.bus.property(&NETWORK_MANAGER, "State").await.is_err() {
            // Read from the kernel: no change signal to wait for, so look every second.
            let deadline = std::time::Instant::now() + max_wait;
            while std::time::Instant::now() < deadline {
                tokio::time::sleep(KERNEL_LOOK_EVERY.min(deadline - std::time::Instant::now())).await;
                if self.read(ctx.params).await?.state != known {
                    return Ok(SourceWait::Changed);
                }
            }
            return Ok(SourceWait::Quiet);
        }
        self.bus
            .wait_for_change(self.source(), max_wait, || async { Ok(self.read(ctx.params).await?.state != known) })
            .await
    }
}

/// The parameters and ingredients of each state trigger's manifest.
pub fn manifests() -> Vec<ActionManifest> {
    let when = |a: &str, b: &str, default: &str| {
        ParamSpec::new(
            "when",
            "When",
            "Which change fires the area.",
            ParamType::Enum { choices: vec![a.into(), b.into(), "either".into()] },
        )
        .optional(Some(json!(default)))
    };
    let state = |example: &'static str| ingredient("state", "The new state.", example);
    let at = ingredient("at", "When the change was noticed (RFC 3339).", "2026-12-05T08:15:00Z");
    let action = |id, name, description, params, ingredients| ActionManifest {
        id,
        name,
        description,
        params,
        ingredients,
        dynamic_ingredients: false,
        min_interval_secs: None,
    };
    vec![
        action(
            "network",
            "The network goes online or offline",
            "Fires when this computer gains or loses its connection to the internet (NetworkManager, else \
             the kernel's routes; Linux).",
            vec![when("online", "offline", "either")],
            vec![
                state("online"),
                ingredient("detail", "The state in words (NetworkManager's, or the route used).", "connected"),
                at.clone(),
            ],
        ),
        action(
            "battery_low",
            "The battery falls below a level",
            "Fires when the computer runs on battery and its charge falls below the level (UPower, Linux).",
            vec![ParamSpec::new(
                "below",
                "Below (%)",
                "The charge level, in percent.",
                ParamType::Integer { min: Some(1), max: Some(100) },
            )
            .optional(Some(json!(20)))],
            vec![state("low"), ingredient("percentage", "The charge, in percent.", "19"), at.clone()],
        ),
        action(
            "charger",
            "The charger is plugged or unplugged",
            "Fires when the computer starts or stops running on battery (UPower, Linux).",
            vec![when("plugged", "unplugged", "either")],
            vec![
                state("unplugged"),
                ingredient("percentage", "The charge, in percent (may be empty).", "87"),
                at.clone(),
            ],
        ),
        action(
            "unlocked",
            "The session is unlocked",
            "Fires when you unlock your session (logind, Linux).",
            vec![],
            vec![state("unlocked"), at.clone()],
        ),
        action(
            "resumed",
            "The computer wakes from sleep",
            "Fires after the computer wakes from sleep or hibernation, at the area's next check (Linux).",
            vec![],
            vec![ingredient("slept_secs", "How long it slept, in seconds.", "3600"), at],
        ),
    ]
}

/// `resumed`: see the module doc.
pub struct Resumed {
    pub access: DeviceAccess,
}

/// The time the computer has slept since it booted: boot clock minus monotonic clock.
pub fn time_slept() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let read = |clock| {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes one timespec into the valid pointer it is given.
            let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
            (rc == 0).then(|| Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32))
        };
        Some(read(libc::CLOCK_BOOTTIME)?.saturating_sub(read(libc::CLOCK_MONOTONIC)?))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The events and cursor of a check that finds the computer has slept `slept` in all.
pub fn resumed_output(slept: Duration, cursor: Option<&Value>) -> PollOutput {
    let before = cursor.and_then(|c| c.get("slept_ms")).and_then(Value::as_u64).map(Duration::from_millis);
    let slept_ms = slept.as_millis() as u64;
    let mut events = Vec::new();
    if let Some(before) = before {
        let gained = slept.saturating_sub(before);
        if gained >= MIN_SLEEP {
            let mut ingredients = Ingredients::new();
            ingredients.insert("slept_secs".into(), json!(gained.as_secs().to_string()));
            ingredients
                .insert("at".into(), json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
            events.push(Event { key: format!("resumed#{slept_ms}"), ingredients });
        }
    }
    PollOutput { events, cursor: Some(json!({ "slept_ms": slept_ms })) }
}

#[async_trait]
impl FetchedAction for Resumed {
    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError> {
        self.access.check(super::ID)?;
        let slept = time_slept().ok_or_else(|| ConnectorError::BadResponse {
            service: super::ID.into(),
            message: "noticing a wake-up needs Linux's boot clock".into(),
        })?;
        Ok(resumed_output(slept, ctx.cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(state: &'static str, fires: bool) -> Reading {
        Reading { state, fires, ingredients: Ingredients::new() }
    }

    #[test]
    fn each_transition_into_a_firing_state_is_one_event() {
        let first = state_output(reading("online", true), None);
        assert!(first.events.is_empty(), "the first read only records the state");
        let same = state_output(reading("online", true), first.cursor.as_ref());
        assert!(same.events.is_empty());
        let off = state_output(reading("offline", false), same.cursor.as_ref());
        assert!(off.events.is_empty(), "not a state this area fires on");
        let on = state_output(reading("online", true), off.cursor.as_ref());
        assert_eq!(on.events.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["online#2"]);
    }

    #[test]
    fn a_wake_up_is_noticed_from_the_time_slept() {
        let first = resumed_output(Duration::from_secs(10), None);
        assert!(first.events.is_empty());
        let noise = resumed_output(Duration::from_millis(10_500), first.cursor.as_ref());
        assert!(noise.events.is_empty());
        let woke = resumed_output(Duration::from_secs(3610), noise.cursor.as_ref());
        assert_eq!(woke.events.len(), 1);
        assert_eq!(woke.events[0].ingredients["slept_secs"], json!("3599"));
        assert!(time_slept().is_some());
    }
}
