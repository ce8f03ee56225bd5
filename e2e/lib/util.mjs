// Small process/network helpers for the E2E suite (no dependencies beyond node).
import net from "node:net";
import { existsSync, readFileSync, readdirSync } from "node:fs";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port, or throws after `timeout` ms. */
export async function waitForPort(port, { host = "127.0.0.1", timeout = 15000, alive = () => true } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ host, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`the process meant to listen on ${host}:${port} exited`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeout} ms`);
    await sleep(100);
  }
}

/**
 * Polls `fn` until it returns a truthy value (returned) or `timeout` ms pass (throws with
 * `message`, plus the last error `fn` threw if any).
 */
export async function waitFor(fn, { timeout = 15000, interval = 200, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError ? ` (last error: ${lastError.message ?? lastError})` : "";
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${why}`);
    }
    await sleep(interval);
  }
}

/** The last `lines` lines of a text file ("" when it does not exist). */
export function tailFile(path, lines = 60) {
  if (!existsSync(path)) return "";
  // eslint-disable-next-line no-control-regex
  const text = readFileSync(path, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
  return text.split("\n").slice(-lines).join("\n");
}

/** Pids of all live descendants of `pid` (children first, then theirs), from /proc. */
export function descendants(pid) {
  const children = new Map();
  let entries = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // comm may contain spaces/parens: the fields after the last ")" are fixed.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(rest[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch {
      // the process went away while we were reading
    }
  }
  const out = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift();
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    // a zombie still answers kill(0); treat it as gone
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Ends `pid` and every process it started (tauri-driver → WebKitWebDriver → the app, which may
 * stay alive in the tray): SIGTERM, up to `grace` ms, then SIGKILL. Only pids we spawned.
 */
export async function killTree(pid, { grace = 3000 } = {}) {
  if (!pid) return;
  const pids = [...descendants(pid).reverse(), pid];
  for (const p of pids) {
    try {
      process.kill(p, "SIGTERM");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + grace;
  while (Date.now() < deadline && pids.some(alive)) await sleep(100);
  for (const p of pids.filter(alive)) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** The processes whose command line has `arg` as one of its arguments. */
export function pidsWithArgument(arg) {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(arg)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Ends every process started with `arg` (e.g. the tray process of one data directory). */
export async function killByArgument(arg) {
  for (const pid of pidsWithArgument(arg)) await killTree(pid);
}

/** Synchronous best effort for process exit handlers. */
export function killTreeSync(pid) {
  if (!pid) return;
  for (const p of [...descendants(pid).reverse(), pid]) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
