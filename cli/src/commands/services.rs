//! `area services [ID]` and `area about`: the catalog, for people and for scripts. Neither needs
//! a login: the catalog is the same for everyone on this machine.

use area_core::app::App;
use area_core::catalog::{ActionManifest, Availability, ParamSpec, ParamType, ReactionManifest, ServiceManifest};

use crate::commands::CliError;
use crate::output::Output;

/// The host `about.json` reports for the client: the CLI always runs on the same machine.
const CLIENT_HOST: &str = "127.0.0.1";

/// Lists every service (id, name, auth, status), or details one service.
pub fn services(app: &App, out: Output, id: Option<&str>) -> Result<(), CliError> {
    let Some(id) = id else {
        let manifests: Vec<ServiceManifest> = app.services().into_iter().map(|s| s.manifest).collect();
        out.print(&manifests, || {
            let mut rows = vec![["ID", "NAME", "AUTH", "STATUS"].map(String::from).to_vec()];
            rows.extend(manifests.iter().map(|m| {
                vec![m.id.to_string(), m.name.to_string(), auth_text(m).to_string(), availability_text(&m.availability)]
            }));
            table(&rows)
        });
        return Ok(());
    };
    let m = app.service(id)?;
    out.print(&m, || describe(&m));
    Ok(())
}

/// Prints `about.json` (always JSON: that is the format).
pub fn about(app: &App) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(&app.about(CLIENT_HOST))
        .map_err(|e| CliError::msg(format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

fn auth_text(m: &ServiceManifest) -> &'static str {
    match m.auth {
        area_core::catalog::AuthKind::None => "none",
        area_core::catalog::AuthKind::ApiKey => "api key",
        area_core::catalog::AuthKind::OAuth2 => "oauth2",
        area_core::catalog::AuthKind::MailAccount => "mail account",
        area_core::catalog::AuthKind::ClientKey => "certificate (created by Area)",
    }
}

fn availability_text(a: &Availability) -> String {
    match a {
        Availability::Available => "available".into(),
        Availability::Limited(why) => format!("limited: {why}"),
        Availability::Unofficial(why) => format!("unofficial: {why}"),
        Availability::Unavailable(why) => format!("unavailable: {why}"),
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
                }
            }
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(m: &ServiceManifest) -> String {
    let mut lines = vec![
        format!("{} — {}", m.id, m.name),
        m.description.to_string(),
        format!("auth: {} · status: {}", auth_text(m), availability_text(&m.availability)),
    ];
    match m.auth {
        area_core::catalog::AuthKind::None => {}
        area_core::catalog::AuthKind::MailAccount => {
            lines.push("credential sent only to: the IMAP/SMTP servers of your connection".into())
        }
        _ => lines.push(format!("credential sent only to: {}", m.credential_hosts.join(", "))),
    }
    lines.push(String::new());
    if m.actions.is_empty() {
        lines.push("Actions: none".into());
    } else {
        lines.push("Actions:".into());
        m.actions.iter().for_each(|a| describe_action(a, &mut lines));
    }
    if m.reactions.is_empty() {
        lines.push("Reactions: none".into());
    } else {
        lines.push("Reactions:".into());
        m.reactions.iter().for_each(|r| describe_reaction(r, &mut lines));
    }
    lines.join("\n").trim_end().to_string()
}

fn describe_action(a: &ActionManifest, lines: &mut Vec<String>) {
    let min = a.min_interval_secs.map(|s| format!(" (polled; at most every {s} s)")).unwrap_or_default();
    lines.push(format!("  {} — {}{min}", a.id, a.name));
    lines.push(format!("    {}", a.description));
    describe_params(&a.params, lines);
    let declared: Vec<&str> = a.ingredients.iter().map(|i| i.id).collect();
    let ingredients = match (declared.is_empty(), a.dynamic_ingredients) {
        (true, true) => "any field of the event".to_string(),
        (false, true) => format!("{} and any other field of the event", declared.join(", ")),
        (true, false) => "none".to_string(),
        (false, false) => declared.join(", "),
    };
    lines.push(format!("    ingredients: {ingredients}"));
    for i in &a.ingredients {
        lines.push(format!("      {} — {} (e.g. {})", i.id, i.description, i.example));
    }
    lines.push(String::new());
}

fn describe_reaction(r: &ReactionManifest, lines: &mut Vec<String>) {
    lines.push(format!("  {} — {}", r.id, r.name));
    lines.push(format!("    {}", r.description));
    describe_params(&r.params, lines);
    lines.push(String::new());
}

fn describe_params(params: &[ParamSpec], lines: &mut Vec<String>) {
    if params.is_empty() {
        lines.push("    params: none".into());
        return;
    }
    lines.push("    params:".into());
    for p in params {
        let mut facts = vec![type_text(&p.kind)];
        if p.required {
            facts.push("required".into());
        } else {
            match &p.default {
                Some(d) => facts.push(format!("optional, default {d}")),
                None => facts.push("optional".into()),
            }
        }
        if p.templated {
            facts.push("may use {{ ingredients }}".into());
        }
        lines.push(format!("      {} ({}) — {}", p.id, facts.join(", "), p.help));
    }
}

fn type_text(kind: &ParamType) -> String {
    match kind {
        ParamType::String => "text".into(),
        ParamType::Integer { min, max } => {
            let mut s = "integer".to_string();
            if let Some(min) = min {
                s.push_str(&format!(" ≥ {min}"));
            }
            if let Some(max) = max {
                s.push_str(&format!(" ≤ {max}"));
            }
            s
        }
        ParamType::Number => "number".into(),
        ParamType::Boolean => "true/false".into(),
        ParamType::Enum { choices } => format!("one of {}", choices.join("|")),
        ParamType::Url => "URL".into(),
        ParamType::StringMap => "object of text".into(),
        ParamType::DateTime => "RFC 3339 date-time".into(),
    }
}
