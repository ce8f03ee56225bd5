//! Quotas planned, not discovered: what a user's enabled areas will spend of each service's
//! documented limit ([`crate::catalog::Quota`]), and the refusal of an area that would exceed it,
//! on its interval field and with the figures — instead of an area that works for a day and then
//! meets 429s.
//!
//! A poll is counted once per poll group: areas with the same action and parameters share one
//! request (the engine's shared polls), at the shortest of their intervals. Calls per window are
//! `ceil(window / interval) × cost`. A service's limit is per credential, and each user has one
//! connection per service, so a user's areas of one service are counted together.

use std::collections::BTreeMap;

use super::AreaError;
use crate::catalog::{Catalog, Quota, Service};

/// The limits a user's own connections have, by connection id, where connecting learned the
/// account's plan (see `AccountCheck::plan_limit`); other services use their documented default.
pub type PlanLimits = BTreeMap<String, u64>;

/// The limit that applies to `service`'s quota for this user.
fn limit_of(service: &Service, quota: &Quota, plans: &PlanLimits) -> u64 {
    service.manifest.connection_id().and_then(|c| plans.get(c)).copied().unwrap_or(quota.limit)
}

/// One enabled area's polls, as the planner needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPoll {
    pub service: String,
    pub action: String,
    /// The action's fingerprint (service, action, parameters): equal ones share a poll.
    pub fingerprint: String,
    pub interval_secs: u32,
}

/// What the areas plan to spend of one service's quota.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type, schemars::JsonSchema)]
pub struct QuotaUse {
    /// The service (its connection).
    pub service: String,
    /// Calls (or units) the enabled areas plan per window.
    pub planned: u64,
    /// The documented limit per window.
    pub limit: u64,
    /// `hour`, `day` or `month`.
    pub window: crate::catalog::QuotaWindow,
    /// What the limit is counted against ("per PRIM token").
    pub counted_per: String,
    /// Enabled areas counted.
    pub areas: u32,
}

fn calls(window_secs: u64, interval_secs: u32, cost: u64) -> u64 {
    window_secs.div_ceil(u64::from(interval_secs.max(1))) * cost
}

/// Each poll group's cost per window, the shortest interval of its areas deciding.
fn groups<'a>(quota: &Quota, polls: impl Iterator<Item = &'a PlannedPoll>) -> (u64, u32) {
    let mut shortest: BTreeMap<(&str, &str), (u32, u64)> = BTreeMap::new();
    let mut areas = 0;
    for poll in polls {
        let cost = quota.cost(&poll.action);
        if cost == 0 {
            continue;
        }
        areas += 1;
        let entry = shortest.entry((&poll.fingerprint, &poll.action)).or_insert((poll.interval_secs, cost));
        entry.0 = entry.0.min(poll.interval_secs);
    }
    let planned = shortest.values().map(|(interval, cost)| calls(quota.window.secs(), *interval, *cost)).sum();
    (planned, areas)
}

/// What `polls` (a user's enabled areas) plan to spend, per service with a quota.
pub fn usage(catalog: &Catalog, polls: &[PlannedPoll], plans: &PlanLimits) -> Vec<QuotaUse> {
    let mut out = Vec::new();
    for service in catalog.services() {
        let Some(quota) = &service.quota else { continue };
        let (planned, areas) = groups(quota, polls.iter().filter(|p| p.service == service.manifest.id));
        if areas == 0 {
            continue;
        }
        out.push(QuotaUse {
            service: service.manifest.id.to_string(),
            planned,
            limit: limit_of(service, quota, plans),
            window: quota.window,
            counted_per: quota.counted_per.to_string(),
            areas,
        });
    }
    out
}

/// Refuses `candidate` (an area being added, changed or switched on) when it and the user's
/// other enabled areas (`others`) would plan more than its service's quota; the error is on
/// `interval_secs`, with the figures and the shortest interval that would fit.
pub fn check(
    catalog: &Catalog,
    others: &[PlannedPoll],
    candidate: &PlannedPoll,
    plans: &PlanLimits,
) -> Result<(), AreaError> {
    let Some(service) = catalog.service(&candidate.service) else { return Ok(()) };
    let Some(quota) = &service.quota else { return Ok(()) };
    let limit = limit_of(service, quota, plans);
    let cost = quota.cost(&candidate.action);
    if cost == 0 {
        return Ok(());
    }
    let same = |p: &&PlannedPoll| p.service == candidate.service;
    let (planned, areas) = groups(quota, others.iter().filter(same).chain(std::iter::once(candidate)));
    if planned <= limit {
        return Ok(());
    }
    let name = service.manifest.name;
    let per = quota.window.per();
    // What the others spend without the candidate's poll group, and what remains for it.
    let (without, _) = groups(
        quota,
        others
            .iter()
            .filter(same)
            .filter(|p| !(p.fingerprint == candidate.fingerprint && p.action == candidate.action)),
    );
    let room = limit.saturating_sub(without) / cost;
    let advice = if room == 0 {
        format!("the other {name} areas already plan {without} of them: turn one off or lengthen its interval")
    } else {
        let shortest = quota.window.secs().div_ceil(room);
        format!("use an interval of at least {} (or lengthen another {name} area's)", plain_duration(shortest))
    };
    Err(AreaError::invalid(
        "interval_secs",
        format!(
            "{areas} {name} area{} would make {planned} calls {per}, over the {} allowed {per} {}; {advice}",
            if areas == 1 { "" } else { "s" },
            limit,
            quota.counted_per,
        ),
    ))
}

/// "90 seconds", "2 minutes", "3 hours" — rounded up to a whole unit the editor offers.
fn plain_duration(secs: u64) -> String {
    let (value, unit) = match secs {
        s if s < 120 => (s, "second"),
        s if s < 2 * 3_600 => (s.div_ceil(60), "minute"),
        s => (s.div_ceil(3_600), "hour"),
    };
    format!("{value} {unit}{}", if value == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::QuotaWindow;

    fn quota(limit: u64) -> Quota {
        Quota { limit, window: QuotaWindow::Day, counted_per: "per token", costs: vec![("watch", 1), ("search", 5)] }
    }

    fn poll(action: &str, fingerprint: &str, interval_secs: u32) -> PlannedPoll {
        PlannedPoll { service: "svc".into(), action: action.into(), fingerprint: fingerprint.into(), interval_secs }
    }

    #[test]
    fn shared_polls_count_once_at_their_shortest_interval_and_costs_multiply() {
        let q = quota(10_000);
        let (planned, areas) = groups(&q, [poll("watch", "a", 120), poll("watch", "a", 60)].iter());
        assert_eq!((planned, areas), (1_440, 2));
        let (planned, _) = groups(&q, [poll("watch", "a", 120), poll("watch", "b", 120)].iter());
        assert_eq!(planned, 1_440);
        let (planned, _) = groups(&q, [poll("search", "c", 3_600), poll("other", "d", 1)].iter());
        assert_eq!(planned, 24 * 5);
    }

    #[test]
    fn durations_read_as_the_editor_offers_them() {
        assert_eq!(plain_duration(90), "90 seconds");
        assert_eq!(plain_duration(260), "5 minutes");
        assert_eq!(plain_duration(3_600), "60 minutes");
        assert_eq!(plain_duration(7_201), "3 hours");
    }
}
