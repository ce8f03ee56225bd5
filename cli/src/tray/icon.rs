//! The tray icon: a StatusNotifierItem with its menu (ksni), which panels show and which tests
//! reach over D-Bus like a panel does. Menu choices arrive as [`TrayAction`]s.

use ksni::menu::{MenuItem, StandardItem};
use ksni::TrayMethods;
use tokio::sync::mpsc;

/// What the user chose in the tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    OpenWindow,
    TogglePause,
    Quit,
}

/// The item's state: whether the engine is paused (the menu's label follows it).
struct AreaItem {
    paused: bool,
    actions: mpsc::UnboundedSender<TrayAction>,
}

impl AreaItem {
    fn send(&self, action: TrayAction) {
        // The receiver lives as long as the tray runs.
        let _ = self.actions.send(action);
    }
}

/// The app's icon as the specification's ARGB32 pixels, decoded from the PNG the app ships.
fn icon_pixels() -> Option<ksni::Icon> {
    let decoder = png::Decoder::new(std::io::Cursor::new(include_bytes!("../../../src-tauri/icons/32x32.png")));
    let mut reader = decoder.read_info().ok()?;
    let mut rgba = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut rgba).ok()?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    let data = rgba[..info.buffer_size()].chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect();
    Some(ksni::Icon { width: i32::try_from(info.width).ok()?, height: i32::try_from(info.height).ok()?, data })
}

impl ksni::Tray for AreaItem {
    fn id(&self) -> String {
        "area".into()
    }

    fn title(&self) -> String {
        "Area".into()
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        static PIXELS: std::sync::OnceLock<Option<ksni::Icon>> = std::sync::OnceLock::new();
        PIXELS.get_or_init(icon_pixels).iter().cloned().collect()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        let state = if self.paused { "paused" } else { "running" };
        ksni::ToolTip { title: format!("Area ({state})"), ..Default::default() }
    }

    /// A click on the icon opens the window; the menu is on the other button.
    fn activate(&mut self, _x: i32, _y: i32) {
        self.send(TrayAction::OpenWindow);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        let item = |label: &str, action: TrayAction| {
            StandardItem {
                label: label.into(),
                activate: Box::new(move |me: &mut Self| me.send(action)),
                ..Default::default()
            }
            .into()
        };
        vec![
            item("Open Area", TrayAction::OpenWindow),
            MenuItem::Separator,
            item(if self.paused { "Resume all" } else { "Pause all" }, TrayAction::TogglePause),
            MenuItem::Separator,
            item("Quit", TrayAction::Quit),
        ]
    }

    /// No panel yet (the session is still starting, or it has none): keep the item; a panel
    /// that appears later shows it.
    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        tracing::info!("no tray host yet ({reason:?}); the icon appears when one does");
        true
    }
}

/// The running tray icon, or nothing when the session has no D-Bus: the engine runs either way.
pub struct TrayIcon {
    handle: Option<ksni::Handle<AreaItem>>,
    /// Keeps the channel open when there is no icon, so "no icon" never reads as "Quit".
    _open: mpsc::UnboundedSender<TrayAction>,
}

impl TrayIcon {
    /// Shows the icon; the receiver yields the user's choices.
    pub async fn spawn(paused: bool) -> (TrayIcon, mpsc::UnboundedReceiver<TrayAction>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let item = AreaItem { paused, actions: tx.clone() };
        let handle = match item.assume_sni_available(true).spawn().await {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!("no tray icon: {e}; the engine runs without one (SIGTERM stops it)");
                None
            }
        };
        (TrayIcon { handle, _open: tx }, rx)
    }

    /// Makes the menu say "Resume all" while paused, "Pause all" otherwise.
    pub async fn show_paused(&self, paused: bool) {
        if let Some(handle) = &self.handle {
            handle.update(|item| item.paused = paused).await;
        }
    }

    /// Takes the icon off the panel.
    pub async fn remove(self) {
        if let Some(handle) = self.handle {
            handle.shutdown().await;
        }
    }
}
