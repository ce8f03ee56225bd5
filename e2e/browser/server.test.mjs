// The browser half of the end-to-end suite: the real `area serve` and Debian's Chromium. The
// screens are the desktop app's (the same Svelte UI over HTTP), so the same helpers drive them.
// Run with e2e/browser/run.sh.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { withServer } from "../lib/server.mjs";
import { startSink, startGitHubUser, postJson } from "../lib/fakes.mjs";
import {
  byId,
  click,
  exists,
  fill,
  waitText,
  advanceUntil,
  signUp,
  wizardWebhookToHttp,
  pickIngredient,
  onlyAreaId,
  horizontalOverflow,
  nav,
  sel,
} from "../lib/ui.mjs";
import { waitFor, sleep } from "../lib/util.mjs";

const PASSWORD = "correct horse battery staple";
const TOKEN = "ghp_test0123456789abcdefghijklmnopqrstuv";

const servers = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** Sign up → connect GitHub with a token → webhook → HTTP area in the wizard → one POST → one request at the sink → Activity. */
async function firstAreaFlow(browser, email) {
  const sink = await startSink();
  servers.push(sink);
  await signUp(browser, email, PASSWORD);

  await nav(browser, "services");
  await click(browser, "connect-github");
  await fill(browser, "token-input", TOKEN);
  await click(browser, "token-submit");
  await waitText(browser, "connection-status-github", (t) => /connected/i.test(t), { message: "GitHub to show as connected" });

  await wizardWebhookToHttp(browser);
  await fill(browser, "param-url", `${sink.url}/from-browser`);
  await fill(browser, "param-body", '{"text": "got ');
  await pickIngredient(browser, "body", "msg");
  await (await byId(browser, "param-body")).addValue('"}');
  await advanceUntil(browser, "area-name");
  await fill(browser, "area-name", "Browser webhook to sink");
  await click(browser, "wizard-save");

  await nav(browser, "dashboard");
  const areaId = await onlyAreaId(browser);
  await click(browser, `area-open-${areaId}`);
  const hookUrl = await waitText(browser, "webhook-url", (t) => /^https?:\/\/\S+\/hooks\/\S+$/.test(t), {
    message: "webhook-url to show the area's URL",
  });
  const value = `hello-${randomUUID().slice(0, 8)}`;
  const posted = await postJson(hookUrl, { msg: value }, { "Idempotency-Key": `web-${randomUUID()}` });
  assert.equal(posted.status, 202, `the server's webhook answered ${posted.status} ${JSON.stringify(posted.body)}`);
  await waitFor(() => sink.requests.length >= 1, { timeout: 10000, message: "the sink to receive the request" });
  await sleep(1000); // a second delivery would show up here
  assert.equal(sink.requests.length, 1, "the sink should receive exactly one request");
  assert.ok(sink.requests[0].body.includes(`got ${value}`), `sink body ${sink.requests[0].body} lacks the ingredient`);

  // Activity shows the run (the page hears of it through the server's change events).
  await nav(browser, "activity");
  await browser
    .$(`${sel("run-row")}[data-status="succeeded"][data-area-id="${areaId}"]`)
    .waitForExist({ timeout: 15000 })
    .catch(() => assert.fail(`no succeeded run-row for area ${areaId} in Activity`));
  return areaId;
}

test("in a browser: sign up, connect a token service, build a webhook → HTTP area, fire it once, see it in Activity; invite the family", async () => {
  const github = await startGitHubUser({ token: TOKEN });
  servers.push(github);
  await withServer(
    "desktop",
    async ({ browser, base }) => {
      await firstAreaFlow(browser, "web@example.com");

      // The administrator invites someone from the Account page; the link lets one account in.
      await nav(browser, "account");
      await click(browser, "invite-create");
      const link = await (await byId(browser, "invite-link")).getValue();
      assert.match(link, new RegExp(`^${base}/\\?invite=[0-9a-f]{64}$`));
      await click(browser, "nav-signout");
      await browser.url(link);
      await signUp(browser, "family@example.com", PASSWORD);
      await nav(browser, "dashboard");
      await byId(browser, "empty-dashboard").catch(() =>
        assert.fail("the invited account should start with no areas (it must not see the administrator's)"),
      );
      assert.equal(await exists(browser, "engine-toggle"), false, "only the administrator pauses everyone's areas");
    },
    { extraEnv: { AREA_GITHUB_BASE_URL: github.url }, signUp: "invite" },
  );
});

test("on a 360 × 740 phone: the same flow, nothing wider than the screen, and an installable app", async () => {
  const github = await startGitHubUser({ token: TOKEN });
  servers.push(github);
  await withServer(
    "phone",
    async ({ browser, base }) => {
      await firstAreaFlow(browser, "phone@example.com");
      for (const page of ["dashboard", "activity", "services", "account"]) {
        await nav(browser, page);
        await sleep(300);
        const o = await horizontalOverflow(browser);
        assert.ok(o.scrollWidth <= o.width, `${page} at ${o.width} px scrolls sideways to ${o.scrollWidth}: ${o.culprits.join(", ")}`);
      }

      // The PWA: a manifest the page links, and a service worker that took control.
      const manifest = await browser.execute(async () => {
        const link = document.querySelector('link[rel="manifest"]');
        const response = await fetch(link.href);
        return { type: response.headers.get("content-type"), body: await response.json() };
      });
      assert.equal(manifest.type, "application/manifest+json");
      assert.equal(manifest.body.display, "standalone");
      assert.ok(manifest.body.icons.some((i) => i.sizes === "512x512"));
      const worker = await browser.executeAsync((done) => {
        navigator.serviceWorker.ready.then((r) => done(r.active ? r.active.scriptURL : null), () => done(null));
      });
      assert.equal(worker, `${base}/sw.js`);
    },
    { extraEnv: { AREA_GITHUB_BASE_URL: github.url }, viewport: { width: 360, height: 740 } },
  );
});
