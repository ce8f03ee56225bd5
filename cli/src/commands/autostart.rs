//! `area autostart [on|off]`: start Area's engine when the user logs in to their desktop (an
//! XDG autostart entry; see `area_core::autostart`), stop doing so, or show what is set.

use area_core::app::App;
use area_core::autostart::{self, Launch};

use super::CliError;
use crate::output::Output;

/// Turns starting at login on or off (`None`: shows the current entry).
pub fn run(app: &App, out: Output, on: Option<bool>) -> Result<(), CliError> {
    let dir = autostart::default_dir().map_err(|e| CliError::msg(e.to_string()))?;
    match on {
        Some(true) => {
            let program = std::env::current_exe()
                .map_err(|e| CliError::msg(format!("cannot tell where this `area` program is: {e}")))?;
            let data_dir = app.data_dir().to_string_lossy().into_owned();
            let launch = Launch { program, args: vec!["--data-dir".into(), data_dir, "daemon".into()] };
            let path = autostart::enable(&dir, &launch).map_err(|e| CliError::msg(e.to_string()))?;
            out.print(&serde_json::json!({ "autostart": true, "entry": path }), || {
                format!("Area's engine now starts when you log in ({}).", path.display())
            });
        }
        Some(false) => {
            let removed = autostart::disable(&dir).map_err(|e| CliError::msg(e.to_string()))?;
            out.print(&serde_json::json!({ "autostart": false, "removed": removed }), || {
                if removed { "Area no longer starts when you log in." } else { "Area was not set to start at login." }
                    .to_string()
            });
        }
        None => {
            let command = autostart::current(&dir).map_err(|e| CliError::msg(e.to_string()))?;
            out.print(&serde_json::json!({ "autostart": command.is_some(), "command": command }), || match &command {
                Some(words) => format!("Area starts when you log in: {}", words.join(" ")),
                None => "Area does not start at login (turn it on with `area autostart on`).".to_string(),
            });
        }
    }
    Ok(())
}
