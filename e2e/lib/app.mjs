// Starts the real Area desktop binary under tauri-driver (→ WebKitWebDriver → area-app) with a
// private temporary environment, and tears everything down again.
//
// One tauri-driver per app session: the app inherits its environment from tauri-driver (via
// WebKitWebDriver), so that is where each test's AREA_DATA_DIR etc. are set.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { remote } from "webdriverio";

import { freePort, waitFor, waitForPort, tailFile, killTree, killTreeSync, killByArgument, pidsWithArgument } from "./util.mjs";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A fixed test master key: 32 bytes as 64 hex digits (core/src/connections/crypto.rs). */
export const TEST_MASTER_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/** `$APP_BIN`, else `${CARGO_TARGET_DIR:-target}/debug/area-app` (relative to the repo root). */
export function appBinary() {
  if (process.env.APP_BIN) return resolve(process.env.APP_BIN);
  const target = process.env.CARGO_TARGET_DIR || "target";
  return join(isAbsolute(target) ? target : join(REPO_ROOT, target), "debug", "area-app");
}

/** `$TAURI_DRIVER`, else tauri-driver on PATH, else ~/.cargo/bin/tauri-driver. */
export function tauriDriverBinary() {
  if (process.env.TAURI_DRIVER) return process.env.TAURI_DRIVER;
  try {
    return execFileSync("sh", ["-c", "command -v tauri-driver"], { encoding: "utf8" }).trim();
  } catch {
    const home = process.env.HOME ?? "";
    return join(home, ".cargo", "bin", "tauri-driver");
  }
}

// Every driver we started, so an interrupted run (global timeout → SIGTERM) leaves nothing behind.
// On a signal, each still-running app's log tail is printed and its temp dir kept.
const running = new Map(); // driver pid → app
function cleanupAll() {
  for (const [pid, app] of running) {
    killTreeSync(pid);
    for (const tray of pidsWithArgument(app.dataDir)) killTreeSync(tray);
  }
  running.clear();
}
process.once("exit", cleanupAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    console.error(`# e2e: ${sig}: stopping ${running.size} running app(s)`);
    for (const app of running.values()) app.dumpLogs();
    cleanupAll();
    process.exit(130);
  });
}

/**
 * Launches a fresh app: temp data dir, test master key, no scheme registration, private network
 * allowed (the local fake upstreams), isolated XDG dirs, webhook listener on a free port.
 * Returns { browser, dir, dataDir, webhookPort, logPath, env, dumpLogs(), close() }; `env` is the
 * exact environment the app runs with (tauri-driver → WebKitWebDriver → app inherit it), e.g. to
 * start a second instance that single-instance hands over to this one.
 */
export async function launchApp(name, { extraEnv = {}, reuse = null } = {}) {
  const bin = appBinary();
  if (!existsSync(bin)) {
    throw new Error(`app binary ${bin} not found: build it with \`npx tauri build --debug --no-bundle\` or set APP_BIN`);
  }
  const dir = reuse ? reuse.dir : mkdtempSync(join(process.env.E2E_TMPDIR || tmpdir(), `area-e2e-${name}-`));
  const dataDir = join(dir, "data");
  if (!reuse) {
    for (const sub of ["data", "xdg-data", "xdg-config", "xdg-cache", "xdg-runtime"]) mkdirSync(join(dir, sub), { mode: 0o700 });
  }
  const webhookPort = reuse ? reuse.webhookPort : await freePort();
  const port = await freePort();
  let nativePort = await freePort();
  while (nativePort === port) nativePort = await freePort();
  const env = reuse ? { ...reuse.env } : {
    ...process.env,
    AREA_DATA_DIR: dataDir,
    AREA_MASTER_KEY: TEST_MASTER_KEY,
    AREA_NO_REGISTER_SCHEME: "1",
    AREA_ALLOW_PRIVATE_NETWORK: "1",
    AREA_WEBHOOK_LISTEN: `127.0.0.1:${webhookPort}`,
    XDG_DATA_HOME: join(dir, "xdg-data"),
    XDG_CONFIG_HOME: join(dir, "xdg-config"),
    XDG_CACHE_HOME: join(dir, "xdg-cache"),
    NO_AT_BRIDGE: "1",
    // Mesa's shader disk cache writes from a background thread: it raced the clean-up below
    // (ENOTEMPTY) and a second instance's exit (SIGSEGV in the handed-over launch). Tests need
    // no cache across runs.
    MESA_SHADER_CACHE_DISABLE: "true",
    NO_COLOR: "1",
    RUST_BACKTRACE: "1",
    RUST_LOG: process.env.RUST_LOG || "info",
    ...extraEnv,
  };
  // XDG_RUNTIME_DIR only when the host has none (WebKit wants one); keep the host's otherwise so
  // the private D-Bus session from run.sh stays reachable.
  if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = join(dir, "xdg-runtime");

  const logPath = join(dir, reuse ? `app-${name}.log` : "app.log");
  const logFd = openSync(logPath, "a");
  const driver = spawn(tauriDriverBinary(), ["--port", String(port), "--native-port", String(nativePort)], {
    env,
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  let driverExited = false;
  driver.once("exit", () => {
    driverExited = true;
    running.delete(driver.pid);
  });
  driver.once("error", () => {
    driverExited = true;
  });

  const app = {
    name,
    dir,
    dataDir,
    webhookPort,
    logPath,
    env,
    browser: null,
    failed: false,
    /**
     * With E2E_SCREENSHOTS set to a folder (docs/screenshots), saves the app's window as
     * `<name>.png` there: an X-level capture cropped to the window (WebDriver's are stale).
     */
    async screenshot(name) {
      const out = process.env.E2E_SCREENSHOTS;
      if (!out || !app.browser) return;
      mkdirSync(out, { recursive: true });
      await new Promise((r) => setTimeout(r, 1500)); // the X framebuffer trails WebKit's last paint
      const { x, y, width, height } = await app.browser.getWindowRect();
      try {
        execFileSync("import", ["-window", "root", "-crop", `${width}x${height}+${x}+${y}`, "+repage", join(out, `${name}.png`)], {
          stdio: "ignore",
          timeout: 10000,
        });
      } catch {
        console.error(`screenshot ${name}: ImageMagick's import could not capture the display`);
      }
    },
    /** Prints the tail of the app/driver log and takes an X-level screenshot (WebDriver's are stale). */
    dumpLogs() {
      const shot = join(dir, "screen.png");
      try {
        execFileSync("import", ["-window", "root", shot], { stdio: "ignore", timeout: 10000 });
      } catch {
        // no ImageMagick or no display: the log is what matters
      }
      console.error(`\n----- ${name}: last lines of ${logPath} -----\n${tailFile(logPath, 80)}\n----- end (kept ${dir}) -----`);
    },
    async close() {
      if (app.browser) {
        try {
          await Promise.race([app.browser.deleteSession(), new Promise((r) => setTimeout(r, 10000))]);
        } catch {
          // the app may already be gone
        }
        app.browser = null;
      }
      // The app keeps running in the tray when its window closes, and single-instance would make
      // the next test's app exit at once: end the whole tree we started, and the tray process
      // (`area --data-dir <dataDir> tray`), which outlives a closed window.
      await killTree(driver.pid);
      running.delete(driver.pid);
      if (reuse) return; // the app whose data this is cleans up
      await killByArgument(dataDir);
      if (!app.failed && !process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };

  running.set(driver.pid, app);
  try {
    // tauri-driver listens at once but starts WebKitWebDriver (native port) in the background; a
    // session requested before that one listens fails with "connection refused".
    await waitForPort(port, { timeout: 15000, alive: () => !driverExited });
    await waitForPort(nativePort, { timeout: 15000, alive: () => !driverExited });
    app.browser = await remote({
      hostname: "127.0.0.1",
      port,
      logLevel: process.env.E2E_WDIO_LOG || "silent",
      waitforTimeout: 15000,
      connectionRetryCount: 0,
      connectionRetryTimeout: 60000,
      capabilities: { "tauri:options": { application: bin } },
    });
    // A binary from plain `cargo build` loads the dev server (devUrl, http://localhost:1420) and
    // shows "Could not connect"; the embedded UI is served as tauri://localhost.
    const url = await waitFor(
      async () => {
        const u = await app.browser.getUrl();
        return u && u !== "about:blank" ? u : false;
      },
      { timeout: 10000, message: "the app window to load a page" },
    ).catch(() => "");
    if (/^https?:\/\/(localhost|127\.0\.0\.1)/.test(url)) {
      throw new Error(
        `${bin} loads ${url} (the dev server): it was built by plain cargo, without the embedded UI. ` +
          "Rebuild it with `npx tauri build --debug --no-bundle` (and don't run cargo build/test -p area-app before the E2E run).",
      );
    }
  } catch (e) {
    app.failed = true;
    app.dumpLogs();
    await app.close();
    throw e;
  }
  return app;
}

/**
 * Runs `fn(app)` against a fresh app and always tears it down; on failure prints the app's log
 * tail and keeps its temp dir.
 */
export async function withApp(name, fn, options) {
  const app = await launchApp(name, options);
  try {
    return await fn(app);
  } catch (e) {
    app.failed = true;
    app.dumpLogs();
    throw e;
  } finally {
    await app.close();
  }
}

/**
 * Starts a second app process with `args` and exactly `app`'s environment (same D-Bus session,
 * display, XDG and data dirs), as the OS does when it opens an `area://` link. Single-instance
 * hands its arguments to the running app and the process exits. Resolves
 * { code, signal, stdout, stderr, ms }; throws if it is still running after `timeout` ms (then
 * it is killed: it did not find the running instance).
 */
export function launchSecondInstance(app, args, { timeout = 20000 } = {}) {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(appBinary(), args, { env: app.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => {
      killTree(child.pid, { grace: 1000 }).then(() =>
        reject(
          new Error(
            `the second instance (${args.join(" ")}) was still running after ${timeout} ms: single-instance did not ` +
              `hand over to the running app.\nits stderr:\n${stderr.slice(-4000)}\nits stdout:\n${stdout.slice(-2000)}`,
          ),
        ),
      );
    }, timeout);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
