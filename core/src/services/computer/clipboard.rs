//! `copy`: puts text on the desktop's clipboard, as a person's Ctrl+C does.
//!
//! On Linux the clipboard belongs to whichever program last copied, and that program hands the
//! text to whoever pastes: Area keeps one clipboard handle for the life of the process (the tray
//! process lives all session), so what it copied stays pasteable until something else is copied.
//! It talks X11 (on Wayland, through XWayland, which most desktops keep in step with the Wayland
//! clipboard); without a display it says there is no desktop session to copy to.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::services::kit::prelude::*;

/// The largest text copied (1 MiB): a clipboard is for a snippet, not a download.
const MAX_BYTES: usize = 1 << 20;

/// `copy`: see the module doc.
pub struct Copy {
    pub access: DeviceAccess,
}

#[cfg(target_os = "linux")]
static CLIPBOARD: Mutex<Option<arboard::Clipboard>> = Mutex::new(None);

/// Puts `text` on the clipboard through the process's one handle (opened on first use, and
/// again after a failure).
#[cfg(target_os = "linux")]
fn set_clipboard(text: &str) -> Result<(), String> {
    let mut slot = CLIPBOARD.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        let opened = arboard::Clipboard::new()
            .map_err(|e| format!("there is no desktop session to copy to ({e}): Area must run in your session"))?;
        *slot = Some(opened);
    }
    let result = slot.as_mut().map(|clipboard| clipboard.set_text(text.to_owned()));
    match result {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => {
            *slot = None;
            Err(format!("the clipboard refused the text ({e})"))
        }
        None => Err("the clipboard could not be opened".into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn set_clipboard(_text: &str) -> Result<(), String> {
    Err("copying to the clipboard is available on Linux desktops only".into())
}

/// What the clipboard holds now, as another program pasting would get it (tests).
#[cfg(target_os = "linux")]
pub fn clipboard_text() -> Result<String, String> {
    arboard::Clipboard::new().and_then(|mut c| c.get_text()).map_err(|e| e.to_string())
}

#[async_trait]
impl Reaction for Copy {
    /// Copying the same text again changes nothing.
    fn idempotent(&self) -> bool {
        true
    }

    async fn run(&self, _ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        self.access.check(super::ID)?;
        let text = req_str(params, "text")?;
        if text.len() > MAX_BYTES {
            return Err(super::failed(format!(
                "the text is {} bytes; Area copies at most {MAX_BYTES} bytes to the clipboard",
                text.len()
            )));
        }
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || set_clipboard(&text))
            .await
            .map_err(|e| super::failed(format!("copying stopped ({e})")))?
            .map_err(super::failed)?;
        Ok(ReactionOutput { summary: "copied to the clipboard".into() })
    }
}
