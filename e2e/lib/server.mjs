// Starts the real `area serve` on a temporary data directory and Debian's Chromium (headless,
// through chromedriver) pointed at it: the browser half of the end-to-end suite. The screens
// are the desktop app's, so the helpers in ui.mjs drive both.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, isAbsolute } from "node:path";
import { remote } from "webdriverio";

import { REPO_ROOT, TEST_MASTER_KEY } from "./app.mjs";
import { freePort, waitForPort, tailFile, killTree } from "./util.mjs";

/** `$AREA_BIN`, else `${CARGO_TARGET_DIR:-target}/debug/area`. */
export function areaBinary() {
  if (process.env.AREA_BIN) return resolve(process.env.AREA_BIN);
  const target = process.env.CARGO_TARGET_DIR || "target";
  return join(isAbsolute(target) ? target : join(REPO_ROOT, target), "debug", "area");
}

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMEDRIVER = process.env.CHROMEDRIVER || "/usr/bin/chromedriver";

/**
 * Runs `fn({ browser, base, dir })` against a fresh `area serve` and a fresh headless Chromium.
 * `viewport` ({ width, height }) emulates a phone (touch, device pixels) when given; `signUp` is
 * the server's sign-up policy (open, invite, closed).
 */
export async function withServer(name, fn, { extraEnv = {}, viewport = null, signUp = "open" } = {}) {
  for (const [what, path] of [["area", areaBinary()], ["chromium", CHROMIUM], ["chromedriver", CHROMEDRIVER]]) {
    if (!existsSync(path)) throw new Error(`${what} not found at ${path}: run scripts/setup.sh (or build the area binary)`);
  }
  const dir = mkdtempSync(join(process.env.E2E_TMPDIR || tmpdir(), `area-web-${name}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logPath = join(dir, "server.log");
  const log = openSync(logPath, "a");
  const server = spawn(areaBinary(), ["--data-dir", join(dir, "data"), "serve", "--listen", `127.0.0.1:${port}`, "--sign-up", signUp], {
    env: { ...process.env, AREA_MASTER_KEY: TEST_MASTER_KEY, AREA_ALLOW_PRIVATE_NETWORK: "1", RUST_LOG: "info", ...extraEnv },
    stdio: ["ignore", log, log],
  });
  const driverPort = await freePort();
  const driver = spawn(CHROMEDRIVER, [`--port=${driverPort}`], { stdio: ["ignore", log, log] });
  closeSync(log);
  let browser = null;
  let failed = false;
  try {
    await waitForPort(port, { timeout: 15000, alive: () => server.exitCode === null });
    await waitForPort(driverPort, { timeout: 15000, alive: () => driver.exitCode === null });
    const chromeOptions = {
      binary: CHROMIUM,
      // The flags a sandboxed, offline machine needs (no background calls to Google's hosts).
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${join(dir, "chromium")}`,
        "--window-size=1280,900",
      ],
    };
    if (viewport) {
      chromeOptions.mobileEmulation = { deviceMetrics: { ...viewport, pixelRatio: 2, touch: true } };
    }
    browser = await remote({
      hostname: "127.0.0.1",
      port: driverPort,
      logLevel: process.env.E2E_WDIO_LOG || "silent",
      waitforTimeout: 15000,
      connectionRetryCount: 0,
      capabilities: { browserName: "chrome", "goog:chromeOptions": chromeOptions },
    });
    await browser.url(`${base}/`);
    await fn({ browser, base, dir });
  } catch (e) {
    failed = true;
    console.error(`\n----- ${name}: last lines of ${logPath} -----\n${tailFile(logPath, 60)}\n----- end (kept ${dir}) -----`);
    throw e;
  } finally {
    if (browser) await Promise.race([browser.deleteSession().catch(() => {}), new Promise((r) => setTimeout(r, 10000))]);
    await killTree(driver.pid);
    server.kill("SIGTERM");
    await new Promise((r) => (server.exitCode !== null ? r() : server.once("exit", r)));
    if (!failed && !process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}
