//! `area areas add|list|show|enable|disable|rm|export|edit`: the logged-in user's areas.

use std::io::Read;
use std::path::Path;

use area_core::areas::{parse_area_file, AreaDetail, AreaSummary, MAX_AREA_FILE_BYTES};
use serde_json::json;

use crate::cli::AreasCommand;
use crate::commands::services::table;
use crate::commands::CliError;
use crate::context::Context;
use crate::output::Output;

/// Runs one `area areas` subcommand as the logged-in user.
pub async fn run(ctx: &Context, out: Output, cmd: AreasCommand) -> Result<(), CliError> {
    let (_, user) = ctx.current_user().await?;
    match cmd {
        AreasCommand::Add { file } => {
            let text = read_area_file(&file)?;
            let specs = parse_area_file(&text)?;
            // A list file reports errors as `[i].field`; a single area as `field`.
            let added = if text.trim_start().starts_with('[') {
                ctx.areas.add_many(user.id, specs).await?
            } else {
                let mut added = Vec::with_capacity(1);
                for spec in specs {
                    added.push(ctx.areas.add(user.id, spec).await?);
                }
                added
            };
            out.print(&added, || {
                added.iter().map(|a| format!("added area {}: {}", a.id, a.name)).collect::<Vec<_>>().join("\n")
            });
        }
        AreasCommand::List => {
            let areas = ctx.areas.list(user.id).await?;
            out.print(&areas, || {
                if areas.is_empty() {
                    return "no areas yet: add one with `area areas add --file AREA.json`".into();
                }
                let mut rows = vec![["ID", "STATUS", "NAME", "WHAT IT DOES"].map(String::from).to_vec()];
                rows.extend(
                    areas.iter().map(|a| {
                        vec![a.id.to_string(), a.status.as_str().to_string(), a.name.clone(), a.summary.clone()]
                    }),
                );
                table(&rows)
            });
        }
        AreasCommand::Show { id } => {
            let detail = ctx.areas.get(user.id, id).await?;
            out.print(&detail, || describe(&detail));
        }
        AreasCommand::Enable { id } => {
            let area = ctx.areas.set_enabled(user.id, id, true).await?;
            out.print(&area, || state_line(&area));
        }
        AreasCommand::Disable { id } => {
            let area = ctx.areas.set_enabled(user.id, id, false).await?;
            out.print(&area, || state_line(&area));
        }
        AreasCommand::Rm { id } => {
            ctx.areas.remove(user.id, id).await?;
            out.print(&json!({ "removed": id }), || format!("removed area {id} and its run history"));
        }
        AreasCommand::Export { id } => {
            // Always JSON: the output is an area file.
            let spec = ctx.areas.export(user.id, id).await?;
            let text =
                serde_json::to_string_pretty(&spec).map_err(|e| CliError::msg(format!("cannot encode JSON: {e}")))?;
            println!("{text}");
        }
        AreasCommand::Edit { id, file } => {
            let text = read_area_file(&file)?;
            let mut specs = parse_area_file(&text)?;
            if specs.len() != 1 {
                return Err(CliError::msg(format!(
                    "`areas edit` takes a file with one area, {} holds {}",
                    file.display(),
                    specs.len()
                )));
            }
            let spec = specs.remove(0);
            let area = ctx.areas.update(user.id, id, spec).await?;
            out.print(&area, || format!("updated area {}: {} ({})", area.id, area.name, area.status.as_str()));
        }
    }
    Ok(())
}

/// Reads an area file, or standard input for `-`, refusing oversized input.
fn read_area_file(path: &Path) -> Result<String, CliError> {
    let limit = MAX_AREA_FILE_BYTES as u64 + 1;
    let mut text = String::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(limit).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_string(&mut text))
    };
    let shown = if path.as_os_str() == "-" { "standard input".to_string() } else { path.display().to_string() };
    result.map_err(|e| CliError::msg(format!("cannot read the area file {shown}: {e}")))?;
    if text.trim().is_empty() {
        return Err(CliError::msg(format!("the area file {shown} is empty")));
    }
    Ok(text)
}

fn state_line(area: &AreaSummary) -> String {
    let state = match area.status {
        area_core::areas::AreaStatus::On => "on".to_string(),
        area_core::areas::AreaStatus::Off => "off".to_string(),
        area_core::areas::AreaStatus::Paused => {
            format!("paused: {}", area.paused_reason.as_deref().unwrap_or("no reason recorded"))
        }
    };
    format!("area {} ({}) is {state}", area.id, area.name)
}

fn describe(d: &AreaDetail) -> String {
    let s = &d.summary;
    let mut lines =
        vec![format!("area {}: {}", s.id, s.name), format!("status: {}", s.status.as_str()), s.summary.clone()];
    if let Some(reason) = &s.paused_reason {
        lines.push(format!("paused because: {reason}"));
    }
    if s.action.service != area_core::services::webhook::ID {
        lines.push(format!("poll interval: {} s", s.interval_secs));
    }
    if let Some(url) = &d.webhook_url {
        lines.push(format!("webhook URL: {url}"));
    }
    if let Some(error) = &d.last_error {
        lines.push(format!("last error: {error} ({} consecutive failures)", d.consecutive_failures));
    }
    let r = &d.runs;
    lines.push(format!(
        "runs: {} total — {} succeeded, {} failed, {} skipped, {} queued, {} running, {} unknown outcome",
        r.total, r.succeeded, r.failed, r.skipped, r.queued, r.running, r.unknown_outcome
    ));
    lines.push(format!("created: {} · updated: {}", time_text(s.created_at), time_text(s.updated_at)));
    lines.push("definition (as `area areas export` prints it):".into());
    lines.push(serde_json::to_string_pretty(&d.spec).unwrap_or_default());
    lines.join("\n")
}

fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}
