//! `area tray` as a panel sees it: on a private D-Bus session it runs the engine, publishes its
//! status for the window, and exports a StatusNotifierItem whose menu (read and clicked through
//! `com.canonical.dbusmenu`, as a panel does) pauses and resumes every area, starts the window
//! on the same data, and quits, draining the engine.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zbus::zvariant::{Structure, Value};

#[path = "../../core/tests/support/private_bus.rs"]
mod private_bus;
use private_bus::PrivateBus;

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const WAIT: Duration = Duration::from_secs(15);

/// A process killed when the test ends, passed or not (a panicking test must not leave a tray
/// holding the test runner's output open).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn published(data: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read(data.join("engine.status")).ok()?;
    serde_json::from_slice::<serde_json::Value>(&text).ok().map(|v| v["status"].clone())
}

/// The tray's menu as a panel reads it: (id, label) of each item, separators left out.
async fn menu(bus: &zbus::Connection, item: &str) -> Vec<(i32, String)> {
    let reply = bus
        .call_method(
            Some(item),
            "/MenuBar",
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<&str>::new()),
        )
        .await
        .expect("GetLayout");
    let body = reply.body();
    let body: Structure = body.deserialize().expect("(u, (ia{sv}av))");
    let mut items = Vec::new();
    collect(&body.fields()[1], &mut items);
    items
}

fn collect(node: &Value<'_>, items: &mut Vec<(i32, String)>) {
    let node = match node {
        Value::Value(inner) => inner.as_ref(),
        other => other,
    };
    let Value::Structure(fields) = node else { panic!("a menu node is a structure: {node:?}") };
    let [Value::I32(id), Value::Dict(props), Value::Array(children)] = fields.fields() else {
        panic!("(ia{{sv}}av): {fields:?}")
    };
    if let Ok(Some(Value::Str(label))) = props.get::<&str, Value<'_>>(&"label") {
        items.push((*id, label.to_string()));
    }
    for child in children.iter() {
        collect(child, items);
    }
}

/// Clicks the item labelled `label`; returns the call's outcome (a click on Quit may end the
/// tray before its answer).
async fn click(bus: &zbus::Connection, item: &str, label: &str) -> zbus::Result<zbus::Message> {
    let items = menu(bus, item).await;
    let id = items.iter().find(|(_, l)| l == label).unwrap_or_else(|| panic!("{label} in {items:?}")).0;
    bus.call_method(
        Some(item),
        "/MenuBar",
        Some("com.canonical.dbusmenu"),
        "Event",
        &(id, "clicked", Value::I32(0), 0u32),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tray_runs_the_engine_and_its_menu_pauses_opens_the_window_and_quits() {
    let bus = PrivateBus::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let opened = dir.path().join("opened");
    let fake_app = dir.path().join("fake-app");
    std::fs::write(&fake_app, format!("#!/bin/sh\nprintf '%s' \"$AREA_DATA_DIR\" > '{}'\n", opened.display()))
        .expect("fake app");
    std::fs::set_permissions(&fake_app, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");

    let tray = Command::new(env!("CARGO_BIN_EXE_area"))
        .arg("--data-dir")
        .arg(&data)
        .arg("tray")
        .arg("--app")
        .arg(&fake_app)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("AREA_MASTER_KEY", KEY)
        .env("AREA_WEBHOOK_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .spawn()
        .expect("area tray");
    let mut tray = Running(tray);
    wait_until("the engine's published status", async || published(&data).is_some_and(|s| s["running"] == true)).await;

    let conn = zbus::connection::Builder::address(bus.address.as_str()).expect("address").build().await.expect("bus");
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("proxy");
    let prefix = format!("org.kde.StatusNotifierItem-{}-", tray.0.id());
    let mut item = String::new();
    wait_until("the tray's StatusNotifierItem on the bus", async || {
        let names = dbus.list_names().await.expect("names");
        item = names.iter().find(|n| n.starts_with(&prefix)).map(|n| n.to_string()).unwrap_or_default();
        !item.is_empty()
    })
    .await;
    let labels: Vec<String> = menu(&conn, &item).await.into_iter().map(|(_, l)| l).collect();
    assert_eq!(labels, ["Open Area", "Pause all", "Quit"]);

    click(&conn, &item, "Pause all").await.expect("Event");
    wait_until("the engine paused", async || published(&data).is_some_and(|s| s["paused"] == true)).await;
    assert!(data.join("engine.paused").exists(), "remembered across restarts");
    wait_until("the menu offers to resume", async || menu(&conn, &item).await.iter().any(|(_, l)| l == "Resume all"))
        .await;
    click(&conn, &item, "Resume all").await.expect("Event");
    wait_until("the engine running again", async || published(&data).is_some_and(|s| s["running"] == true)).await;
    assert!(!data.join("engine.paused").exists());

    click(&conn, &item, "Open Area").await.expect("Event");
    wait_until("the window started on the tray's data", async || {
        std::fs::read_to_string(&opened).is_ok_and(|d| Path::new(&d) == data)
    })
    .await;

    let _ = click(&conn, &item, "Quit").await;
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = tray.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the tray did not quit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    assert!(!data.join("engine.status").exists(), "a quit engine publishes nothing");
}

/// A second tray on the same data stops at once and says why, leaving the first one's engine.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_tray_on_the_same_data_refuses_to_start() {
    let bus = PrivateBus::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_area"));
        command
            .arg("--data-dir")
            .arg(&data)
            .arg("tray")
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("AREA_MASTER_KEY", KEY)
            .env("AREA_WEBHOOK_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    let mut first = Running(start().spawn().expect("first tray"));
    wait_until("the first engine", async || published(&data).is_some_and(|s| s["running"] == true)).await;
    let second = start().output().expect("second tray");
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("tray did not start") && said.contains("already"), "{said}");
    assert!(published(&data).is_some_and(|s| s["running"] == true), "the first engine's status stays");
    let _ = Command::new("kill").arg(first.0.id().to_string()).status();
    assert!(first.0.wait().expect("wait").success(), "SIGTERM drains and exits 0");
    assert!(!data.join("engine.status").exists());
}
