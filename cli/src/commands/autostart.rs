//! `area autostart [on|off]`: start Area when the user logs in to their desktop (an XDG
//! autostart entry; see `area_core::autostart`), stop doing so, or show what is set — through the
//! same API as the desktop app's setting. The entry starts `area tray`, the engine with its icon:
//! what the app's switch starts too, so whichever wrote the entry, login brings the same Area.

use area_core::app::App;
use area_core::autostart::{self, Launch};

use super::CliError;
use crate::output::Output;

/// Turns starting at login on or off (`None`: shows the current entry).
pub async fn run(app: &App, out: Output, on: Option<bool>) -> Result<(), CliError> {
    let dir = autostart::default_dir().map_err(|e| CliError::msg(e.to_string()))?;
    let status = match on {
        Some(true) => {
            let program = std::env::current_exe()
                .map_err(|e| CliError::msg(format!("cannot tell where this `area` program is: {e}")))?;
            let data_dir = app.data_dir().to_string_lossy().into_owned();
            let launch = Launch { program, args: vec!["--data-dir".into(), data_dir, "tray".into()] };
            app.set_autostart(Some(&dir), Some(&launch)).await?
        }
        Some(false) => app.set_autostart(Some(&dir), None).await?,
        None => app.autostart_status(Some(&dir)).await?,
    };
    out.print(&serde_json::json!({ "autostart": status.enabled, "command": status.command }), || {
        match (&status.command, on) {
            (Some(words), _) => format!("Area starts when you log in: {}", words.join(" ")),
            (None, Some(false)) => "Area no longer starts when you log in.".to_string(),
            (None, _) => "Area does not start at login (turn it on with `area autostart on`).".to_string(),
        }
    });
    Ok(())
}
