// Local fake upstreams for the E2E suite, on 127.0.0.1 with node:http.
import http from "node:http";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

function closeServer(server) {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/**
 * An HTTP sink: answers every request with `status` (200) and records
 * { method, url, headers, body, at }. `requests` is the live list.
 */
export async function startSink({ status = 200 } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      });
      res.writeHead(status, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => closeServer(server),
  };
}

/**
 * GitHub's `GET /user` as its documentation says: `200 {"login": …}` for `Authorization: Bearer
 * <token>` with the one good token, `401 {"message": "Bad credentials"}` for any other. The app
 * checks a token with it when connecting (AREA_GITHUB_BASE_URL). `requests` records each call.
 */
export async function startGitHubUser({ token, login = "octocat" }) {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization ?? "" });
    res.setHeader("content-type", "application/json; charset=utf-8");
    if (req.method !== "GET" || req.url !== "/user") {
      res.writeHead(404);
      res.end('{"message":"Not Found"}');
    } else if (req.headers.authorization === `Bearer ${token}`) {
      res.writeHead(200);
      res.end(JSON.stringify({ login, id: 1 }));
    } else {
      res.writeHead(401);
      res.end('{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}');
    }
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, requests, close: () => closeServer(server) };
}

const xmlEscape = (s) =>
  String(s).replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]);

/**
 * An RSS 2.0 feed at `/feed.xml` whose items the test adds with `addItem({ title, link? })`
 * (newest first, as real feeds are). `hits` counts the fetches.
 */
export async function startFeed({ title = "E2E feed" } = {}) {
  const items = [];
  let hits = 0;
  let seq = 0;
  const server = http.createServer((req, res) => {
    hits += 1;
    if (!req.url.startsWith("/feed.xml")) {
      res.writeHead(404);
      res.end();
      return;
    }
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>` +
      `<title>${xmlEscape(title)}</title><link>http://127.0.0.1/</link><description>fake feed</description>` +
      items
        .map(
          (i) =>
            `<item><title>${xmlEscape(i.title)}</title><link>${xmlEscape(i.link)}</link>` +
            `<guid isPermaLink="false">${xmlEscape(i.guid)}</guid><pubDate>${i.pubDate}</pubDate></item>`,
        )
        .join("") +
      `</channel></rss>\n`;
    res.writeHead(200, { "content-type": "application/rss+xml; charset=utf-8" });
    res.end(body);
  });
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}/feed.xml`;
  return {
    port,
    url,
    get hits() {
      return hits;
    },
    items,
    addItem({ title, link } = {}) {
      seq += 1;
      const item = {
        title: title ?? `Item ${seq}`,
        link: link ?? `http://127.0.0.1:${port}/items/${seq}`,
        guid: `e2e-${seq}-${Date.now()}`,
        pubDate: new Date().toUTCString(),
      };
      items.unshift(item);
      return item;
    },
    close: () => closeServer(server),
  };
}

/** POSTs a JSON object; resolves { status, body } (body parsed when JSON). */
export async function postJson(url, payload, headers = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(payload),
  });
  const text = await res.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

/**
 * A fake OAuth2 token endpoint at `/token`: answers POSTs with a Bearer token JSON and records
 * { method, url, headers, body, form (URLSearchParams of the body), at }. `url` is the endpoint.
 */
export async function startTokenEndpoint({
  response = { access_token: "at-1", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-1" },
} = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const form = new URLSearchParams(body);
      requests.push({ method: req.method, url: req.url, headers: req.headers, body, form, at: Date.now() });
      if (req.method !== "POST" || !req.url.startsWith("/token")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end('{"error":"not_found"}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(response));
    });
  });
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}/token`,
    requests,
    close: () => closeServer(server),
  };
}

/**
 * A fake browser for `AREA_BROWSER`: an executable script in `dir` that appends the URL it is
 * given to `<dir>/browser-urls.txt`. `urls()` reads them back.
 */
export function fakeBrowser(dir) {
  const log = join(dir, "browser-urls.txt");
  const program = join(dir, "fake-browser.sh");
  writeFileSync(program, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${log.replace(/'/g, "'\\''")}'\n`, { mode: 0o755 });
  return {
    program,
    log,
    urls: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
  };
}
