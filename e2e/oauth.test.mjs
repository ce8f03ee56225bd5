// End-to-end: connecting an OAuth2 service (Spotify) from the Services page, both ways back from
// the browser — the loopback redirect and an `area://oauth/callback` deep link delivered by a
// second app launch (single-instance forwards it over D-Bus) — against a local fake token
// endpoint. The "browser" is a script (AREA_BROWSER) that records the authorization URL.
// Run with e2e/run.sh.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { withApp, launchSecondInstance } from "./lib/app.mjs";
import { startTokenEndpoint, fakeBrowser } from "./lib/fakes.mjs";
import { byId, click, clickEl, exists, waitText, signUp, nav } from "./lib/ui.mjs";
import { waitFor, sleep } from "./lib/util.mjs";

const PASSWORD = "correct horse battery staple";
const CLIENT_ID = "e2e-spotify-client";

const cleanups = [];
after(async () => {
  for (const c of cleanups) await c();
});

/** A token endpoint, a fake browser, and the environment pointing Spotify's OAuth at them. */
async function oauthFakes(name) {
  const token = await startTokenEndpoint();
  const dir = mkdtempSync(join(process.env.E2E_TMPDIR || tmpdir(), `area-e2e-${name}-browser-`));
  const browser = fakeBrowser(dir);
  let ok = false;
  cleanups.push(async () => {
    await token.close();
    if (ok && !process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${token.port}`;
  return {
    token,
    browser,
    authUrl: `${base}/authorize`,
    passed: () => (ok = true),
    extraEnv: {
      AREA_BROWSER: browser.program,
      AREA_SPOTIFY_CLIENT_ID: CLIENT_ID,
      AREA_SPOTIFY_CLIENT_SECRET: "",
      AREA_SPOTIFY_AUTH_URL: `${base}/authorize`,
      AREA_SPOTIFY_TOKEN_URL: token.url,
      AREA_SPOTIFY_ISSUER: "",
    },
  };
}

/** Services → Connect Spotify → (deep-link option) → start; returns the authorization URL opened. */
async function startSpotifyOauth(browser, fakes, { deepLink }) {
  await nav(browser, "services");
  await byId(browser, "service-card-spotify");
  const before = await exists(browser, "connection-status-spotify");
  assert.equal(before, false, "Spotify is connected before the test connects it");
  await click(browser, "connect-spotify");
  const option = await byId(browser, "oauth-deep-link");
  assert.equal(await option.isSelected(), false, "the deep-link option should be off by default (loopback is the default)");
  if (deepLink) {
    await clickEl(browser, option);
    await waitFor(() => option.isSelected(), { timeout: 5000, message: "the deep-link option to be checked" });
  }
  await click(browser, "oauth-start");
  const raw = await waitFor(() => fakes.browser.urls()[0], {
    timeout: 15000,
    message: `the app to open the authorization page with AREA_BROWSER (${fakes.browser.log})`,
  });
  await byId(browser, "oauth-cancel"); // the panel waits for the browser
  const url = new URL(raw);
  assert.equal(`${url.origin}${url.pathname}`, fakes.authUrl, `authorization URL ${raw}`);
  const q = url.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), CLIENT_ID);
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.ok(q.get("code_challenge"), "no PKCE code_challenge");
  const state = q.get("state");
  const redirectUri = q.get("redirect_uri");
  assert.ok(state && state.length >= 16, `state ${JSON.stringify(state)} is missing or short`);
  assert.ok(redirectUri, "no redirect_uri");
  return { url, state, redirectUri };
}

/** Waits for the Spotify connection to show as connected. */
async function waitConnected(browser) {
  const status = await waitText(browser, "connection-status-spotify", (t) => /connected/i.test(t), {
    timeout: 20000,
    message: "connection-status-spotify to say connected",
  });
  assert.doesNotMatch(status, /needs reconnect/i);
  assert.equal(await exists(browser, "oauth-cancel", { displayed: true }), false, "the panel still waits for the browser");
}

/** The one token exchange the endpoint received, checked against the authorization. */
function assertOneExchange(token, { code, redirectUri }) {
  const bodies = JSON.stringify(token.requests.map((r) => r.body));
  assert.equal(token.requests.length, 1, `expected exactly one token request, got ${token.requests.length}: ${bodies}`);
  const [req] = token.requests;
  assert.equal(req.method, "POST");
  assert.equal(req.url, "/token");
  assert.equal(req.form.get("grant_type"), "authorization_code");
  assert.equal(req.form.get("code"), code);
  assert.equal(req.form.get("redirect_uri"), redirectUri);
  assert.ok(req.form.get("code_verifier"), `no PKCE code_verifier in ${req.body}`);
}

const appLog = (app) => readFileSync(app.logPath, "utf8");

test("OAuth2 via the loopback redirect: Spotify connects with the code from the browser", async () => {
  const fakes = await oauthFakes("oauth-loopback");
  await withApp(
    "oauth-loopback",
    async ({ browser }) => {
      await signUp(browser, "e2e-oauth-loopback@example.com", PASSWORD);
      const { state, redirectUri } = await startSpotifyOauth(browser, fakes, { deepLink: false });
      const redirect = new URL(redirectUri);
      assert.equal(redirect.protocol, "http:", `redirect_uri ${redirectUri}`);
      assert.equal(redirect.hostname, "127.0.0.1", `redirect_uri ${redirectUri}`);
      assert.equal(fakes.token.requests.length, 0, "the code was exchanged before the browser came back");

      // The browser comes back to the loopback listener with the code.
      const back = new URL(redirectUri);
      back.searchParams.set("code", "c1");
      back.searchParams.set("state", state);
      const res = await fetch(back);
      const page = await res.text();
      assert.ok(res.ok, `the loopback listener answered ${res.status}: ${page.slice(0, 300)}`);

      await waitConnected(browser);
      assertOneExchange(fakes.token, { code: "c1", redirectUri });
    },
    { extraEnv: fakes.extraEnv },
  );
  fakes.passed();
});

test("OAuth2 via an area:// deep link: a forged link is refused, the real one connects Spotify", async () => {
  const fakes = await oauthFakes("oauth-deeplink");
  await withApp(
    "oauth-deeplink",
    async (app) => {
      const { browser } = app;
      await signUp(browser, "e2e-oauth-deeplink@example.com", PASSWORD);
      const { state, redirectUri } = await startSpotifyOauth(browser, fakes, { deepLink: true });
      assert.equal(redirectUri, "area://oauth/callback");

      // A forged link (wrong state), opened the way the OS opens links: a second launch, which
      // single-instance hands over to the running app.
      const forged = await launchSecondInstance(app, ["area://oauth/callback?code=evil&state=wrong"]);
      assert.equal(forged.code, 0, `the second instance exited with ${forged.code ?? forged.signal}:\n${forged.stderr}`);
      // It reached the app (else this part would prove nothing) and was refused.
      await waitFor(() => /deep link rejected/.test(appLog(app)), {
        timeout: 10000,
        message:
          `the running app to log "deep link rejected" for the forged link ` +
          `(second instance's stderr:\n${forged.stderr})`,
      });
      await sleep(1500); // an exchange or a connection would show up here
      const bodies = JSON.stringify(fakes.token.requests.map((r) => r.body));
      assert.equal(fakes.token.requests.length, 0, `the forged link caused a token request: ${bodies}`);
      assert.equal(await exists(browser, "connection-status-spotify"), false, "the forged link connected Spotify");
      await byId(browser, "oauth-cancel", { timeout: 2000 }); // still waiting for the real one

      // The real callback.
      const real = await launchSecondInstance(app, [`area://oauth/callback?code=c2&state=${encodeURIComponent(state)}`]);
      assert.equal(real.code, 0, `the second instance exited with ${real.code ?? real.signal}:\n${real.stderr}`);
      await waitConnected(browser);
      assertOneExchange(fakes.token, { code: "c2", redirectUri });
      assert.match(appLog(app), /deep link handled/);
      console.error(`# second instances exited after ${forged.ms} ms and ${real.ms} ms`);
    },
    { extraEnv: fakes.extraEnv },
  );
  fakes.passed();
});
