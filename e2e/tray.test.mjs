// The app in the tray and on the device: the window is a process beside the tray process
// (`area tray`), so closing it ends that process, WebKit and all, while the tray's engine keeps
// firing; the tray's menu, clicked over D-Bus as a panel does, pauses and resumes; a window
// opened again shows the run. A folder trigger built in the wizard shows one notification per
// new file through the desktop's notification service (a mock on the run's private session bus).
// "Start at login" writes a desktop entry whose command, run as a session runs it, becomes the
// tray process.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";

import { withApp, launchApp } from "./lib/app.mjs";
import { startSink, postJson } from "./lib/fakes.mjs";
import { click, fill, waitText, signUp, wizardWebhookToHttp, advanceUntil, onlyAreaId, nav, pickIngredient, sel } from "./lib/ui.mjs";
import { waitFor, sleep, pidsWithArgument } from "./lib/util.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const servers = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** The app process whose data directory is `dataDir`. */
function appPid(dataDir) {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (comm.startsWith("area-app") && environ.includes(`AREA_DATA_DIR=${dataDir}`)) return Number(entry);
    } catch {
      // gone, or not ours
    }
  }
  return null;
}

/** The names of `pid`'s child processes. */
function children(pid) {
  try {
    return execFileSync("ps", ["-o", "comm=", "--ppid", String(pid)], { encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    return []; // ps exits 1 when there are none
  }
}


/** The tray process of `dataDir`: `area --data-dir <dataDir> tray`. */
function trayPid(dataDir) {
  return (
    pidsWithArgument(dataDir).find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("tray");
      } catch {
        return false;
      }
    }) ?? null
  );
}

/** Reads the tray's menu labels, or clicks `label`, as a panel does over D-Bus. */
function trayMenu(app, pid, label) {
  const args = [join(here, "lib/tray_menu.py"), String(pid), ...(label ? [label] : [])];
  return execFileSync("/usr/bin/python3", args, { env: app.env, encoding: "utf8" });
}
const menuLabels = (app, pid) => JSON.parse(trayMenu(app, pid));

test("closing the window ends the app's process while the tray's engine fires; Pause all in the tray stops it; reopening shows the run", async () => {
  const sink = await startSink();
  servers.push(sink);
  await withApp("tray", async (app) => {
    const { browser } = app;
    await signUp(browser, "e2e-tray@example.com", "correct horse battery staple");
    await wizardWebhookToHttp(browser);
    await fill(browser, "param-url", `${sink.url}/tray-hook`);
    await advanceUntil(browser, "area-name");
    await fill(browser, "area-name", "E2E tray webhook");
    await click(browser, "wizard-save");
    await nav(browser, "dashboard");
    const areaId = await onlyAreaId(browser);
    await click(browser, `area-open-${areaId}`);
    const hookUrl = await waitText(browser, "webhook-url", (t) => /\/hooks\/\S+$/.test(t), { message: "the webhook URL" });

    const pid = appPid(app.dataDir);
    assert.ok(pid, "the app process");
    assert.ok(children(pid).some((c) => c.startsWith("WebKitWebProces")), `a web process: ${children(pid)}`);
    const tray = await waitFor(() => trayPid(app.dataDir), { timeout: 15000, message: "the tray process (area tray)" });
    assert.deepEqual(menuLabels(app, tray), ["Open Area", "Pause all", "Quit"]);

    // Close it as a window manager's close button does: the app's process ends, WebKit with it.
    execFileSync("python3", [join(here, "../bench/x11_close.py"), "Area"], { env: app.env });
    await waitFor(() => appPid(app.dataDir) === null, { timeout: 15000, message: "the window's process to end" });
    assert.equal(trayPid(app.dataDir), tray, "the tray process keeps running");

    const fired = await postJson(hookUrl, { msg: "closed" }, { "Idempotency-Key": `e2e-${randomUUID()}` });
    assert.ok(fired.status >= 200 && fired.status < 300, `webhook answered ${fired.status}`);
    await waitFor(() => sink.requests.length === 1, { timeout: 10000, message: "the area to fire with the window closed" });

    // "Pause all" in the tray stops the engine (its webhook listener closes); "Resume all" restarts it.
    trayMenu(app, tray, "Pause all");
    await waitFor(() => menuLabels(app, tray).includes("Resume all"), { timeout: 10000, message: "the tray to say paused" });
    assert.ok(existsSync(join(app.dataDir, "engine.paused")), "the pause is remembered");
    await assert.rejects(postJson(hookUrl, { msg: "paused" }, { "Idempotency-Key": `e2e-${randomUUID()}` }));
    trayMenu(app, tray, "Resume all");
    await waitFor(() => menuLabels(app, tray).includes("Pause all"), { timeout: 10000, message: "the tray to say running" });

    // Opening Area again starts a window beside the same tray, and it shows the run.
    const again = await launchApp("reopened", { reuse: app });
    try {
      await waitFor(
        async () => {
          await nav(again.browser, "activity");
          const row = await again.browser.$(`${sel("run-row")}[data-status="succeeded"][data-area-id="${areaId}"]`);
          return row.waitForExist({ timeout: 3000 }).then(
            () => true,
            () => false,
          );
        },
        { timeout: 20000, interval: 500, message: "the run fired while closed, in Activity" },
      );
      assert.equal(trayPid(app.dataDir), tray, "no second tray process");
    } finally {
      await again.close();
    }
  });
});

/** Starts the mock notification service on the app's session bus; resolves { notifications(), stop() }. */
async function startNotificationService(app) {
  const record = join(app.dir, "notifications.jsonl");
  const child = spawn("/usr/bin/python3", [join(here, "lib/mock_notifications.py"), record], {
    env: app.env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (c) => String(c).includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`the mock notification service exited (${code})`)));
  });
  return {
    notifications: () =>
      existsSync(record) ? readFileSync(record, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [],
    stop: () => child.kill(),
  };
}

test("a 'file appears in a folder → notification' area built in the wizard shows exactly one notification per file", async () => {
  await withApp("folder", async (app) => {
    const { browser } = app;
    const service = await startNotificationService(app);
    try {
      const folder = join(app.dir, "inbox");
      mkdirSync(folder);
      writeFileSync(join(folder, "before.pdf"), "already here");
      await signUp(browser, "e2e-folder@example.com", "correct horse battery staple");
      await nav(browser, "dashboard");
      await click(browser, "new-area");
      await fill(browser, "service-search", "files");
      await click(browser, "pick-service-files");
      await fill(browser, "param-folder", folder);
      await fill(browser, "param-pattern", "*.pdf");
      await advanceUntil(browser, "pick-service-notify");
      await click(browser, "pick-service-notify");
      await fill(browser, "param-title", "New file: ");
      await pickIngredient(browser, "title", "name");
      await advanceUntil(browser, "area-name");
      await fill(browser, "area-name", "E2E folder to notification");
      await click(browser, "wizard-save");
      await waitText(browser, "area-watching", (t) => /Watching/.test(t), { timeout: 20000, message: "the baseline" });

      // A finished download: written, then left alone (its modification time in the past).
      const file = join(folder, "invoice.pdf");
      writeFileSync(file, "%PDF-1.7 e2e");
      const past = new Date(Date.now() - 60_000);
      utimesSync(file, past, past);
      writeFileSync(join(folder, "notes.txt"), "not a pdf");
      await waitFor(() => service.notifications().length >= 1, { timeout: 20000, message: "a notification" });
      await sleep(3000); // a second one would show up here
      const shown = service.notifications();
      assert.equal(shown.length, 1, JSON.stringify(shown));
      assert.equal(shown[0].summary, "New file: invoice.pdf");
    } finally {
      service.stop();
    }
  });
});

test("'Start at login' in Settings writes a login item that, run as a session runs it, starts Area in the tray", async () => {
  await withApp("login", async (app) => {
    const { browser } = app;
    await signUp(browser, "e2e-login@example.com", "correct horse battery staple");
    await nav(browser, "settings");
    await click(browser, "autostart-toggle");
    const shown = await waitText(browser, "autostart-command", (t) => t.includes("--background"), {
      message: "the login command shown",
    });

    // The entry desktop sessions read at login, as the app wrote it.
    const entry = readFileSync(join(app.env.XDG_CONFIG_HOME, "autostart", "area.desktop"), "utf8");
    assert.match(entry, /^\[Desktop Entry\]\n/);
    assert.match(entry, /\nType=Application\n/);
    const exec = entry.split("\n").find((l) => l.startsWith("Exec="))?.slice("Exec=".length);
    assert.ok(exec, entry);
    // The test's paths hold no character the Exec quoting would change: split on spaces.
    const words = exec.split(" ");
    assert.equal(words.length, 2, exec);
    assert.equal(words[1], "--background");
    assert.ok(words[0].endsWith("/area-app") && existsSync(words[0]), `the app itself: ${words[0]}`);
    assert.equal(shown, exec, "the setting shows exactly what the session runs");

    // Log out: the window and the tray end. Log in: the session runs the entry.
    const tray = await waitFor(() => trayPid(app.dataDir), { timeout: 15000, message: "the tray process" });
    execFileSync("python3", [join(here, "../bench/x11_close.py"), "Area"], { env: app.env });
    await waitFor(() => appPid(app.dataDir) === null, { timeout: 15000, message: "the window's process to end" });
    process.kill(tray, "SIGTERM");
    await waitFor(() => trayPid(app.dataDir) === null, { timeout: 15000, message: "the tray to stop" });
    const addrFile = join(app.dataDir, "webhook.addr");
    await waitFor(() => !existsSync(addrFile), { timeout: 5000, message: "the engine's listener to close" });

    const login = spawn(words[0], words.slice(1), { env: app.env, stdio: "ignore", detached: true });
    login.unref();
    const started = await waitFor(() => trayPid(app.dataDir), { timeout: 15000, message: "the login item to start the tray" });
    assert.equal(started, login.pid, "the app became the tray process (no window, no second process)");
    assert.equal(appPid(app.dataDir), null, "no window at login");
    await waitFor(() => existsSync(addrFile), { timeout: 15000, message: "the engine to listen" });
    const answered = await fetch(`http://${readFileSync(addrFile, "utf8").trim()}/hooks/no-such-token`, { method: "POST" });
    assert.equal(answered.status, 404, "the engine answers webhooks");
  });
});
