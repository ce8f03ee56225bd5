//! `area areas add|list|show|enable|disable|rm|export|edit`: the logged-in user's areas.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::Path;

use area_core::app::{ApiError, App, ErrorCode};
use area_core::areas::{
    AreaDetail, AreaStatus, AreaSummary, ImportOptions, ImportedArea, TrustSummary, MAX_AREA_FILE_BYTES,
};
use serde_json::json;

use crate::cli::AreasCommand;
use crate::commands::services::table;
use crate::commands::CliError;
use crate::output::Output;

/// Runs one `area areas` subcommand as the logged-in user.
pub async fn run(app: &App, out: Output, cmd: AreasCommand) -> Result<(), CliError> {
    match cmd {
        AreasCommand::Add { file, enable, allow_private_network, allow_programs, secrets_stdin } => {
            let mut source = SecretSource::new(&file, secrets_stdin)?;
            let text = read_area_file(&file)?;
            let options = ImportOptions { enable, allow_private_network, allow_programs };
            let mut secrets = BTreeMap::new();
            let added = loop {
                match app.import_area_file(&text, options, &secrets).await {
                    Err(e) if secrets.is_empty() && needed(&e).is_some() => {
                        secrets = source.values(needed(&e).unwrap_or_default())?;
                    }
                    other => break other?,
                }
            };
            out.print(&added, || added.iter().map(added_text).collect::<Vec<_>>().join("\n"));
        }
        AreasCommand::List => {
            let areas = app.list_areas().await?;
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
            let report = app.describe_area(id).await?;
            out.print(&report.detail, || describe(&report.detail, &report.review));
        }
        AreasCommand::Enable { id } => {
            // An area that was off says what it will do before it runs.
            let on = app.enable_area(id).await?;
            out.print(&on.area, || match &on.review {
                Some(review) => format!("{}\n{}", review_text(review), state_line(&on.area)),
                None => state_line(&on.area),
            });
        }
        AreasCommand::Disable { id } => {
            let area = app.set_area_enabled(id, false).await?;
            out.print(&area, || state_line(&area));
        }
        AreasCommand::Rm { id } => {
            app.delete_area(id).await?;
            out.print(&json!({ "removed": id }), || format!("removed area {id} and its run history"));
        }
        AreasCommand::Export { id } => {
            // Always JSON: the output is an area file.
            println!("{}", app.export_area(id).await?);
        }
        AreasCommand::Edit { id, file, secrets_stdin, allow_private_network } => {
            let mut source = SecretSource::new(&file, secrets_stdin)?;
            let text = read_area_file(&file)?;
            // Placeholders keep the stored secrets; only those with nothing stored are asked for.
            let mut secrets = BTreeMap::new();
            let area = loop {
                match app.edit_area_from_file(id, &text, allow_private_network, &secrets).await {
                    Err(e) if secrets.is_empty() && needed(&e).is_some() => {
                        secrets = source.values(needed(&e).unwrap_or_default())?;
                    }
                    other => break other?,
                }
            };
            out.print(&area, || format!("updated area {}: {} ({})", area.id, area.name, area.status.as_str()));
        }
    }
    Ok(())
}

/// The secret fields a `secrets_needed` error names, in file order.
fn needed(e: &ApiError) -> Option<Vec<String>> {
    (e.code == ErrorCode::SecretsNeeded).then(|| e.field.iter().flat_map(|f| f.split(',')).map(str::to_owned).collect())
}

/// Where the values of `<secret: …>` placeholders come from: a no-echo prompt on the terminal,
/// or standard input (one per line) with `--secrets-stdin`. Never from arguments.
struct SecretSource {
    stdin: bool,
}

impl SecretSource {
    fn new(file: &Path, stdin: bool) -> Result<SecretSource, CliError> {
        if stdin && file.as_os_str() == "-" {
            return Err(CliError::msg(
                "--secrets-stdin cannot be used with --file -: standard input cannot hold both; give the file by name",
            ));
        }
        Ok(SecretSource { stdin })
    }

    /// A value for each of `paths`, keyed by path.
    fn values(&mut self, paths: Vec<String>) -> Result<BTreeMap<String, String>, CliError> {
        if !self.stdin && !std::io::stderr().is_terminal() {
            return Err(CliError::msg(format!(
                "the file holds secret placeholders ({}): run this in a terminal to be asked for them, or give them \
                 with --secrets-stdin, one per line",
                paths.join(", ")
            )));
        }
        paths.into_iter().map(|path| Ok((path.clone(), self.value(&path)?))).collect()
    }

    /// The value of one secret field.
    fn value(&mut self, path: &str) -> Result<String, CliError> {
        let value = if self.stdin {
            crate::secrets::stdin_lines(&[&format!("secret {path}")])?.remove(0)
        } else {
            rpassword::prompt_password(format!("Secret {path}: ")).map_err(|e| {
                CliError::msg(format!("cannot read {path} from the terminal ({e}): use --secrets-stdin"))
            })?
        };
        if value.trim().is_empty() {
            return Err(CliError::msg(format!("the secret {path} is empty: nothing was changed")));
        }
        Ok(value)
    }
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

/// "added area 1: Name (off …)" and what the area will do, indented.
fn added_text(added: &ImportedArea) -> String {
    let a = &added.area;
    let state = match a.status {
        AreaStatus::Off => format!("off — read what it does, then `area areas enable {}`", a.id),
        other => other.as_str().to_string(),
    };
    format!("added area {}: {} ({state})\n{}", a.id, a.name, review_text(&added.review))
}

/// The plain-words summary, one indented line per sentence.
fn review_text(review: &TrustSummary) -> String {
    review.lines.iter().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
}

fn state_line(area: &AreaSummary) -> String {
    let state = match area.status {
        AreaStatus::On => "on".to_string(),
        AreaStatus::Off => "off".to_string(),
        AreaStatus::Paused => {
            format!("paused: {}", area.paused_reason.as_deref().unwrap_or("no reason recorded"))
        }
    };
    format!("area {} ({}) is {state}", area.id, area.name)
}

fn describe(d: &AreaDetail, review: &TrustSummary) -> String {
    let s = &d.summary;
    let mut lines =
        vec![format!("area {}: {}", s.id, s.name), format!("status: {}", s.status.as_str()), s.summary.clone()];
    lines.push("what it does with your accounts and network:".into());
    lines.push(review_text(review));
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
