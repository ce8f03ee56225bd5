//! The `computer` service's device triggers against mock NetworkManager, UPower and logind
//! services on a private D-Bus bus (a real `dbus-daemon`): the baseline, exactly one event per
//! transition into the state an area fires on, the ingredients, the watcher woken by
//! `PropertiesChanged`, and a clear error when a service is missing.
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use area_core::catalog::ActionKind;
use area_core::connector::{FetchContext, FetchedAction, Params, SourceWait};
use area_core::engine::Engine;
use area_core::settings::Settings;
use serde_json::json;
use support::private_bus::PrivateBus;
use support::*;

/// What the device tests need of the private bus.
trait DeviceBus {
    /// Its address, and no kernel tables (the network trigger's fallback finds nothing there).
    fn settings(&self) -> Settings;
    /// Serves `object` at `path` under the well-known `name`.
    async fn serve<I: zbus::object_server::Interface>(&self, name: &str, path: &str, object: I) -> zbus::Connection;
}

impl DeviceBus for PrivateBus {
    fn settings(&self) -> Settings {
        Settings::from_env()
            .with("AREA_COMPUTER_SYSTEM_BUS", self.address.as_str())
            .with("AREA_COMPUTER_PROC_DIR", "/nonexistent")
            .with("AREA_COMPUTER_SYS_DIR", "/nonexistent")
    }

    async fn serve<I: zbus::object_server::Interface>(&self, name: &str, path: &str, object: I) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .unwrap()
            .name(name.to_string())
            .unwrap()
            .serve_at(path.to_string(), object)
            .unwrap()
            .build()
            .await
            .unwrap()
    }
}

struct NetworkManager {
    state: u32,
}

#[zbus::interface(name = "org.freedesktop.NetworkManager")]
impl NetworkManager {
    #[zbus(property)]
    fn state(&self) -> u32 {
        self.state
    }
}

struct UPower {
    on_battery: bool,
}

#[zbus::interface(name = "org.freedesktop.UPower")]
impl UPower {
    #[zbus(property)]
    fn on_battery(&self) -> bool {
        self.on_battery
    }
}

struct DisplayDevice {
    percentage: f64,
}

#[zbus::interface(name = "org.freedesktop.UPower.Device")]
impl DisplayDevice {
    #[zbus(property)]
    fn percentage(&self) -> f64 {
        self.percentage
    }
}

struct Session {
    locked: bool,
}

#[zbus::interface(name = "org.freedesktop.login1.Session")]
impl Session {
    #[zbus(property)]
    fn locked_hint(&self) -> bool {
        self.locked
    }
}

const NM_PATH: &str = "/org/freedesktop/NetworkManager";
const UPOWER_PATH: &str = "/org/freedesktop/UPower";
const DISPLAY_PATH: &str = "/org/freedesktop/UPower/devices/DisplayDevice";
const SESSION_PATH: &str = "/org/freedesktop/login1/session/auto";

async fn set_network(conn: &zbus::Connection, state: u32) {
    let iface = conn.object_server().interface::<_, NetworkManager>(NM_PATH).await.unwrap();
    iface.get_mut().await.state = state;
    iface.get().await.state_changed(iface.signal_emitter()).await.unwrap();
}

async fn set_on_battery(conn: &zbus::Connection, on_battery: bool) {
    let iface = conn.object_server().interface::<_, UPower>(UPOWER_PATH).await.unwrap();
    iface.get_mut().await.on_battery = on_battery;
    iface.get().await.on_battery_changed(iface.signal_emitter()).await.unwrap();
}

async fn set_percentage(conn: &zbus::Connection, percentage: f64) {
    let iface = conn.object_server().interface::<_, DisplayDevice>(DISPLAY_PATH).await.unwrap();
    iface.get_mut().await.percentage = percentage;
    iface.get().await.percentage_changed(iface.signal_emitter()).await.unwrap();
}

async fn set_locked(conn: &zbus::Connection, locked: bool) {
    let iface = conn.object_server().interface::<_, Session>(SESSION_PATH).await.unwrap();
    iface.get_mut().await.locked = locked;
    iface.get().await.locked_hint_changed(iface.signal_emitter()).await.unwrap();
}

fn device_area(action: &str, params: serde_json::Value, body: &str) -> serde_json::Value {
    json!({
        "name": format!("on {action}"),
        "action": {"service": "computer", "id": action, "params": params},
        "reactions": [{"service": "notify", "id": "send",
                       "params": {"title": format!("{action}: {{{{ state }}}}"),
                                  "body": body}}]
    })
}

fn shown(recorder: &RecordingNotifier) -> Vec<(String, String)> {
    recorder.shown.lock().unwrap().clone()
}

fn pair(title: &str, body: &str) -> (String, String) {
    (title.to_string(), body.to_string())
}

#[tokio::test]
async fn the_network_trigger_fires_once_per_transition_it_asks_for() {
    let bus = PrivateBus::start();
    let nm = bus.serve("org.freedesktop.NetworkManager", NM_PATH, NetworkManager { state: 70 }).await;
    let settings = bus.settings();
    let env = Env::new().await;
    let areas = area_core::areas::Areas::new(env.store.clone(), area_core::services::catalog(&settings));
    areas.add(env.user_id, spec(device_area("network", json!({"when": "online"}), "{{ detail }}"))).await.unwrap();
    let recorder = RecordingNotifier::new();
    let run = || Engine::run_once(&env.store, config_with(false, &settings), recorder.clone());

    run().await.unwrap();
    assert!(shown(&recorder).is_empty(), "the first check only records the state");
    set_network(&nm, 20).await;
    run().await.unwrap();
    assert!(shown(&recorder).is_empty(), "offline: this area fires on online only");
    set_network(&nm, 60).await;
    run().await.unwrap();
    assert!(shown(&recorder).is_empty(), "connected to a site only is not online");
    set_network(&nm, 70).await;
    run().await.unwrap();
    run().await.unwrap();
    assert_eq!(shown(&recorder), [pair("network: online", "connected")]);
}

#[tokio::test]
async fn battery_and_charger_fire_on_their_transitions() {
    let bus = PrivateBus::start();
    let upower = bus.serve("org.freedesktop.UPower", UPOWER_PATH, UPower { on_battery: true }).await;
    upower.object_server().at(DISPLAY_PATH, DisplayDevice { percentage: 50.0 }).await.unwrap();
    let settings = bus.settings();
    let env = Env::new().await;
    let areas = area_core::areas::Areas::new(env.store.clone(), area_core::services::catalog(&settings));
    areas.add(env.user_id, spec(device_area("battery_low", json!({"below": 20}), "{{ percentage }}"))).await.unwrap();
    areas.add(env.user_id, spec(device_area("charger", json!({}), "{{ percentage }}"))).await.unwrap();
    let recorder = RecordingNotifier::new();
    let run = || Engine::run_once(&env.store, config_with(false, &settings), recorder.clone());

    run().await.unwrap();
    set_percentage(&upower, 19.4).await;
    run().await.unwrap();
    set_percentage(&upower, 12.0).await;
    run().await.unwrap();
    assert_eq!(shown(&recorder), [pair("battery_low: low", "19")], "below the level: once");

    set_on_battery(&upower, false).await;
    run().await.unwrap();
    set_on_battery(&upower, true).await;
    run().await.unwrap();
    let mut all = shown(&recorder);
    all.sort();
    assert_eq!(
        all,
        [
            pair("battery_low: low", "12"),
            pair("battery_low: low", "19"),
            pair("charger: plugged", "12"),
            pair("charger: unplugged", "12"),
        ],
        "plugging in ends the low state; unplugging while low fires it again"
    );
}

#[tokio::test]
async fn unlocking_the_session_fires_each_time() {
    let bus = PrivateBus::start();
    let logind = bus.serve("org.freedesktop.login1", SESSION_PATH, Session { locked: true }).await;
    let settings = bus.settings();
    let env = Env::new().await;
    let areas = area_core::areas::Areas::new(env.store.clone(), area_core::services::catalog(&settings));
    areas.add(env.user_id, spec(device_area("unlocked", json!({}), ""))).await.unwrap();
    let recorder = RecordingNotifier::new();
    let run = || Engine::run_once(&env.store, config_with(false, &settings), recorder.clone());

    run().await.unwrap();
    for locked in [false, false, true, false] {
        set_locked(&logind, locked).await;
        run().await.unwrap();
    }
    assert_eq!(shown(&recorder), [pair("unlocked: unlocked", ""), pair("unlocked: unlocked", "")]);
}

fn network_action(settings: &Settings) -> std::sync::Arc<dyn FetchedAction> {
    let catalog = area_core::services::catalog(settings);
    match catalog.action("computer", "network") {
        Some((_, _, ActionKind::Fetched(action))) => action.clone(),
        _ => panic!("computer.network is a fetched action"),
    }
}

#[tokio::test]
async fn the_watcher_wakes_on_the_change_signal_and_a_missing_service_is_named() {
    let bus = PrivateBus::start();
    let settings = bus.settings();
    let action = network_action(&settings);
    let params = Params::new();
    let ctx = FetchContext { params: &params, cursor: None, credential: None, allow_private_network: false };
    let err = action.fetch(&ctx).await.unwrap_err().to_string();
    assert!(err.contains("NetworkManager cannot be read: it is not running on this computer"), "{err}");

    let nm = bus.serve("org.freedesktop.NetworkManager", NM_PATH, NetworkManager { state: 70 }).await;
    // Before the first check: not "unsupported" (that would end the watch for good), just quiet.
    assert_eq!(action.wait_for_change(&ctx, Duration::from_secs(20)).await.unwrap(), SourceWait::Quiet);
    let cursor = action.fetch(&ctx).await.unwrap().cursor;
    let ctx = FetchContext { cursor: cursor.as_ref(), ..ctx };
    assert_eq!(action.wait_for_change(&ctx, Duration::from_millis(300)).await.unwrap(), SourceWait::Quiet);
    let changer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        set_network(&nm, 20).await;
        nm
    });
    let started = std::time::Instant::now();
    assert_eq!(action.wait_for_change(&ctx, Duration::from_secs(20)).await.unwrap(), SourceWait::Changed);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let _nm = changer.await.unwrap();
}

/// Without NetworkManager the network trigger reads the kernel's routes: the first read records
/// the state, a default route appearing wakes the watcher within seconds and fires once, with
/// the route's interface in the detail.
#[tokio::test]
async fn without_network_manager_the_kernel_routes_say_online() {
    let bus = PrivateBus::start();
    let kernel = tempfile::tempdir().unwrap();
    let (proc_dir, sys_dir) = (kernel.path().join("proc"), kernel.path().join("sys"));
    std::fs::create_dir_all(proc_dir.join("net")).unwrap();
    std::fs::create_dir_all(sys_dir.join("class/net/eth0")).unwrap();
    std::fs::write(sys_dir.join("class/net/eth0/operstate"), "up\n").unwrap();
    let header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
    std::fs::write(proc_dir.join("net/route"), header).unwrap();
    let settings = bus
        .settings()
        .with("AREA_COMPUTER_PROC_DIR", proc_dir.to_str().unwrap())
        .with("AREA_COMPUTER_SYS_DIR", sys_dir.to_str().unwrap());
    let action = network_action(&settings);
    let params = Params::new();
    let ctx = FetchContext { params: &params, cursor: None, credential: None, allow_private_network: false };
    let first = action.fetch(&ctx).await.unwrap();
    assert!(first.events.is_empty(), "the first read only records the state");
    let ctx = FetchContext { cursor: first.cursor.as_ref(), ..ctx };
    assert_eq!(action.wait_for_change(&ctx, Duration::from_millis(1500)).await.unwrap(), SourceWait::Quiet);

    let route = format!("{header}eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
    std::fs::write(proc_dir.join("net/route"), route).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(action.wait_for_change(&ctx, Duration::from_secs(20)).await.unwrap(), SourceWait::Changed);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let next = action.fetch(&ctx).await.unwrap();
    assert_eq!(next.events.len(), 1);
    assert_eq!(next.events[0].ingredients["state"], json!("online"));
    assert_eq!(next.events[0].ingredients["detail"], json!("a default route through eth0"));
    let ctx = FetchContext { cursor: next.cursor.as_ref(), ..ctx };
    assert!(action.fetch(&ctx).await.unwrap().events.is_empty(), "once per change");
}
