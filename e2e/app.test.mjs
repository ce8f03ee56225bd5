// End-to-end tests driving the real Area desktop binary (tauri-driver + WebKitWebDriver, Xvfb).
// Run with e2e/run.sh. Each test gets a fresh app with its own temp data dir (lib/app.mjs).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { withApp } from "./lib/app.mjs";
import { startSink, startFeed, postJson, startGitHubUser } from "./lib/fakes.mjs";
import {
  byId,
  click,
  clickEl,
  exists,
  fill,
  waitText,
  idsWithPrefix,
  allTestIds,
  advanceUntil,
  signUp,
  wizardWebhookToHttp,
  pickIngredient,
  onlyAreaId,
  submitSignIn,
  horizontalOverflow,
  nav,
  sel,
} from "./lib/ui.mjs";
import { waitFor, sleep } from "./lib/util.mjs";

const PASSWORD = "correct horse battery staple";

const servers = [];
after(async () => {
  for (const s of servers) await s.close();
});

test("a wrong password shows the error on the sign-in screen", async () => {
  await withApp("auth", async ({ browser }) => {
    await signUp(browser, "e2e-auth@example.com", PASSWORD);
    await click(browser, "nav-signout");
    await byId(browser, "auth-email");
    assert.equal(await exists(browser, "app-ready"), false, "still signed in after sign-out");

    await submitSignIn(browser, "e2e-auth@example.com", "not the password");
    const message = await waitText(browser, "auth-error", (t) => t.length > 0, { message: "auth-error text" });
    assert.match(message, /wrong email or password/i);
    assert.equal(await exists(browser, "app-ready"), false, "signed in with a wrong password");

    // The right password still works, so the error above was about the password.
    await submitSignIn(browser, "e2e-auth@example.com", PASSWORD);
    await byId(browser, "app-ready", { displayed: false });
  });
});

test("webhook → HTTP request to a local sink fires once, shows in Activity, and stops when disabled", async () => {
  const sink = await startSink();
  servers.push(sink);
  const goodToken = "ghp_test0123456789abcdefghijklmnopqrstuv";
  const github = await startGitHubUser({ token: goodToken });
  servers.push(github);
  await withApp("main", async ({ browser }) => {
    await signUp(browser, "e2e-main@example.com", PASSWORD);

    // Services: a junk token is refused by the (fake) provider at once, under the field.
    await nav(browser, "services");
    await byId(browser, "service-card-github");
    await click(browser, "connect-github");
    await fill(browser, "token-input", "x");
    await click(browser, "token-submit");
    await waitText(browser, "token-error", (t) => /refused this token/i.test(t), { message: "token-error to say refused" });
    assert.equal(await exists(browser, "connection-status-github"), false, "a refused token shows as connected");
    assert.ok(github.requests.some((r) => r.url === "/user" && r.authorization === "Bearer x"), "the token was not checked");

    // A good token connects.
    await fill(browser, "token-input", goodToken);
    if (await exists(browser, "token-label", { displayed: true })) await fill(browser, "token-label", "e2e account");
    await click(browser, "token-submit");
    const status = await waitText(browser, "connection-status-github", (t) => /connected/i.test(t), {
      message: "connection-status-github to say connected",
    });
    assert.doesNotMatch(status, /needs reconnect/i);

    // New area: webhook received → HTTP request to the sink, body templated from an ingredient.
    await wizardWebhookToHttp(browser);
    await fill(browser, "param-url", `${sink.url}/e2e-hook`);
    await fill(browser, "param-body", '{"text": "got ');
    await pickIngredient(browser, "body", "msg");
    const bodyField = await byId(browser, "param-body");
    await bodyField.addValue('"}');
    const templated = await bodyField.getValue();
    assert.match(templated, /\{\{\s*msg\s*\}\}/, "the picker did not insert {{ msg }} into the body");
    await advanceUntil(browser, "area-name");
    await fill(browser, "area-name", "E2E webhook to sink");
    await click(browser, "wizard-save");

    // Dashboard: the area is on.
    await nav(browser, "dashboard");
    const areaId = await onlyAreaId(browser);
    const card = await byId(browser, `area-card-${areaId}`);
    await waitFor(async () => (await card.getAttribute("data-status")) === "on", { message: "the new area to be on" });

    // Its webhook address.
    await click(browser, `area-open-${areaId}`);
    const hookUrl = await waitText(browser, "webhook-url", (t) => /^https?:\/\/\S+\/hooks\/\S+$/.test(t), {
      message: "webhook-url to show the area's URL",
    });

    // Fire it once.
    const value = `hello-${randomUUID().slice(0, 8)}`;
    const first = await postJson(hookUrl, { msg: value }, { "Idempotency-Key": `e2e-${randomUUID()}` });
    assert.ok(first.status >= 200 && first.status < 300, `webhook answered ${first.status} ${JSON.stringify(first.body)}`);
    await waitFor(() => sink.requests.length >= 1, { timeout: 10000, message: "the sink to receive the request" });
    await sleep(1000); // a second delivery would show up here
    assert.equal(sink.requests.length, 1, "the sink should receive exactly one request");
    const received = sink.requests[0];
    assert.equal(received.url, "/e2e-hook");
    assert.equal(received.method, "POST");
    assert.ok(received.body.includes(`got ${value}`), `sink body ${JSON.stringify(received.body)} lacks the ingredient`);

    // Activity shows the run as succeeded.
    await waitFor(
      async () => {
        await nav(browser, "activity");
        const row = await browser.$(`${sel("run-row")}[data-status="succeeded"][data-area-id="${areaId}"]`);
        return row.waitForExist({ timeout: 3000 }).then(
          () => true,
          () => false,
        );
      },
      { timeout: 20000, interval: 500, message: `a succeeded run-row for area ${areaId} in Activity` },
    );

    // "Send a test" runs the reactions once more, now, and the run shows as a test.
    await nav(browser, "dashboard");
    await click(browser, `area-open-${areaId}`);
    await click(browser, "area-send-test");
    await waitFor(() => sink.requests.length >= 2, { timeout: 10000, message: "the sink to receive the test request" });
    await byId(browser, "run-test", { timeout: 10000 });

    // Disable it from the dashboard.
    await nav(browser, "dashboard");
    await click(browser, `area-toggle-${areaId}`, { displayed: false });
    await waitFor(async () => (await (await byId(browser, `area-card-${areaId}`)).getAttribute("data-status")) === "off", {
      message: "the area card to show data-status=off",
    });

    // Fire again: the listener knows only enabled areas (core/src/engine/webhook.rs) → 404, nothing runs.
    const second = await postJson(hookUrl, { msg: "after-disable" }, { "Idempotency-Key": `e2e-${randomUUID()}` });
    assert.equal(second.status, 404, `webhook of a disabled area answered ${second.status} ${JSON.stringify(second.body)}`);
    await sleep(3000);
    assert.equal(sink.requests.length, 2, "a disabled area still sent a request");
  }, { extraEnv: { AREA_GITHUB_BASE_URL: github.url } });
});

test("an invalid parameter shows core's message on its field", async () => {
  await withApp("invalid", async ({ browser }) => {
    await signUp(browser, "e2e-invalid@example.com", PASSWORD);
    await wizardWebhookToHttp(browser);
    await fill(browser, "param-url", "not a url");
    await fill(browser, "param-body", "{}");
    assert.equal(await exists(browser, "field-error-url", { displayed: true }), false, "error shown before validation");

    // Validation happens on "next" or at the latest on "save"; either way it lands on the field.
    await click(browser, "wizard-next");
    const shown = await byId(browser, "field-error-url", { timeout: 3000 }).then(
      () => true,
      () => false,
    );
    if (!shown) {
      await advanceUntil(browser, "wizard-save");
      await click(browser, "wizard-save");
    }
    const message = await waitText(browser, "field-error-url", (t) => t.length > 0, {
      message: "field-error-url to show a message",
    });
    assert.match(message, /not a valid URL/i);

    // Nothing was created.
    await nav(browser, "dashboard").catch(() => {});
    const ids = await allTestIds(browser);
    assert.equal(ids.filter((id) => id.startsWith("area-card-")).length, 0, "an invalid area was saved");
  });
});

/** Starts the wizard with rss → new item on the local feed (the trigger's settings step). */
async function wizardFeed(browser, feed) {
  await nav(browser, "dashboard");
  await click(browser, "new-area");
  await fill(browser, "service-search", "rss");
  await click(browser, "pick-service-rss"); // its one trigger's settings open
  await fill(browser, "param-url", feed.url);
}

test("a sample event from a local feed shows its values, also in the ingredient picker", async () => {
  const feed = await startFeed({ title: "E2E news" });
  servers.push(feed);
  const item = feed.addItem({ title: `Sample headline ${randomUUID().slice(0, 6)}` });
  await withApp("sample", async ({ browser }) => {
    await signUp(browser, "e2e-sample@example.com", PASSWORD);
    await wizardFeed(browser, feed);
    await click(browser, "load-sample");
    await waitText(browser, "sample-values", (t) => t.includes(item.title), { message: "sample-values to show the feed item" });
    assert.ok(feed.hits >= 1, "the feed was not fetched");

    await advanceUntil(browser, "pick-service-http");
    await click(browser, "pick-service-http");
    await fill(browser, "param-url", "http://127.0.0.1:9/unused");
    await click(browser, "ingredient-picker-body");
    await waitText(browser, "ingredient-sample-title", (t) => t.includes(item.title), {
      message: "the picker to show the sample title",
    });
    await click(browser, "ingredient-title");
    const body = await (await byId(browser, "param-body")).getValue();
    assert.match(body, /\{\{\s*title\s*\}\}/);
  });
});

test("a polling interval below the service's minimum shows core's message on the interval field", async () => {
  const feed = await startFeed();
  servers.push(feed);
  await withApp("interval", async ({ browser }) => {
    await signUp(browser, "e2e-interval@example.com", PASSWORD);
    await wizardFeed(browser, feed);
    // 5 seconds is below the feed's polite minimum of 60 s (core/src/services/rss.rs).
    await fill(browser, "interval-value", "5");
    await (await byId(browser, "interval-unit")).selectByAttribute("value", "s");
    await click(browser, "wizard-next");
    const message = await waitText(browser, "field-error-interval_secs", (t) => t.length > 0, {
      timeout: 5000,
      message: "field-error-interval_secs to show a message",
    }).catch(async (e) => {
      const formError = await (await browser.$(sel("wizard-error"))).getText().catch(() => "");
      throw new Error(`${e.message}; wizard-error: ${JSON.stringify(formError)}`);
    });
    assert.match(message, /at least 60/);
    await byId(browser, "param-url"); // still on the trigger's settings

    // A valid interval clears it and moves on.
    await fill(browser, "interval-value", "2");
    await (await byId(browser, "interval-unit")).selectByAttribute("value", "min");
    await click(browser, "wizard-next");
    await byId(browser, "pick-service-http");
    assert.equal(await exists(browser, "field-error-interval_secs"), false);
  });
});

test("a recipe becomes a working area in three clicks from the first screen", async () => {
  const feed = await startFeed({ title: "E2E recipe feed" });
  servers.push(feed);
  feed.addItem({ title: "Already there" });
  await withApp("recipe", async (app) => {
    const { browser } = app;
    await browser.setWindowSize(1280, 800);
    await byId(browser, "auth-email");
    await app.screenshot("1-create-account");
    await signUp(browser, "e2e-recipe@example.com", PASSWORD);
    // The empty dashboard leads with recipes.
    await byId(browser, "recipe-rss-to-notification");
    await sleep(500); // logos and names drawn
    await app.screenshot("2-recipes");
    let clicks = 0;
    await click(browser, "recipe-rss-to-notification");
    clicks++;
    await fill(browser, "param-url", feed.url);
    await app.screenshot("3-recipe-asks-its-one-field");
    await click(browser, "wizard-next");
    clicks++;
    await byId(browser, "area-name");
    await app.screenshot("4-review");
    await click(browser, "wizard-save");
    clicks++;
    assert.ok(clicks <= 6, `${clicks} clicks`);
    // Saved and on: its page says what it watches once the engine has looked.
    const watching = await waitText(browser, "area-watching", (t) => /Watching — \d+ existing items? recorded/.test(t), {
      timeout: 20000,
      message: "the area page to say it is watching",
    });
    assert.match(watching, /Watching — 1 existing item recorded; the next new one fires/);
    await app.screenshot("5-watching");
  });
});

test("from scratch a feed → HTTP area takes 6 clicks over 4 screens; a filter that does not match skips the run and says why", async () => {
  const feed = await startFeed({ title: "E2E scratch feed" });
  servers.push(feed);
  feed.addItem({ title: "Already there" });
  await withApp("scratch", async (app) => {
    const { browser } = app;
    await browser.setWindowSize(1280, 800);
    await signUp(browser, "e2e-scratch@example.com", PASSWORD);
    const screens = new Set();
    const seeScreen = async () => screens.add(await (await browser.$('[aria-current="step"]')).getText());
    let clicks = 0;
    await click(browser, "new-area");
    clicks++;
    await seeScreen();
    await click(browser, "pick-service-rss"); // one trigger: its settings open on the same If screen
    clicks++;
    await fill(browser, "param-url", feed.url);
    await app.screenshot("7-scratch-if");
    await click(browser, "wizard-next");
    clicks++;
    await click(browser, "pick-service-http"); // one reaction: its settings open on the Then screen
    clicks++;
    await seeScreen();
    await fill(browser, "param-url", "http://127.0.0.1:9/unused");
    await app.screenshot("8-scratch-then");
    await click(browser, "wizard-next");
    clicks++;
    await byId(browser, "area-name");
    await seeScreen();
    await app.screenshot("9-scratch-review");
    await click(browser, "wizard-save");
    clicks++;
    await waitText(browser, "area-watching", (t) => /Watching — 1 existing item recorded/.test(t), {
      timeout: 20000,
      message: "the new area's page to say it is watching",
    });
    screens.add("area page");
    assert.deepEqual([...screens], ["If", "Then", "Filter & review", "area page"]);
    assert.equal(clicks, 6);

    // A webhook area with a filter on its review: an event that does not match is skipped, in words.
    await wizardWebhookToHttp(browser);
    await fill(browser, "param-url", "http://127.0.0.1:9/unused");
    await click(browser, "wizard-next");
    await click(browser, "open-filter");
    await fill(browser, "condition-ingredient", "msg");
    await (await byId(browser, "condition-op")).selectByAttribute("value", "contains");
    await fill(browser, "condition-value", "Release");
    await fill(browser, "area-name", "E2E filtered hook");
    await click(browser, "wizard-save");
    const hookUrl = await waitText(browser, "webhook-url", (t) => /^https?:\/\/\S+\/hooks\/\S+$/.test(t), {
      message: "webhook-url to show the area's URL",
    });
    const posted = await postJson(hookUrl, { msg: "Weekly notes" }, { "Idempotency-Key": `e2e-${randomUUID()}` });
    assert.ok(posted.status >= 200 && posted.status < 300, `webhook answered ${posted.status}`);
    const summary = await waitFor(
      async () => {
        await nav(browser, "activity");
        const row = await browser.$(`${sel("run-row")}[data-status="skipped"]`);
        if (!(await row.isExisting())) return false;
        return (await row.$(sel("run-summary"))).getText();
      },
      { timeout: 20000, interval: 500, message: "a skipped run-row in Activity" },
    );
    assert.match(summary, /msg does not contain .Release. \(it is .Weekly notes.\)/i);
    await app.screenshot("10-skipped-run-says-why");
  });
});

test("every page fits a 360 px wide window without horizontal scrolling, and a 1280 px one", async () => {
  await withApp("narrow", async (app) => {
    const { browser } = app;
    const fits = async (where) => {
      await sleep(300); // layout settles after navigation
      const o = await horizontalOverflow(browser);
      assert.ok(o.scrollWidth <= o.width, `${where} at ${o.width} px scrolls sideways to ${o.scrollWidth}: ${o.culprits.join(", ")}`);
    };
    await browser.setWindowSize(360, 740);
    await byId(browser, "auth-email");
    await fits("the sign-up screen");
    await signUp(browser, "e2e-narrow@example.com", PASSWORD);
    await byId(browser, "empty-dashboard");
    await fits("the empty dashboard with recipes");
    await app.screenshot("6-recipes-at-360px");
    for (const page of ["services", "activity"]) {
      await nav(browser, page);
      await fits(`the ${page} page`);
    }
    await nav(browser, "dashboard");
    await click(browser, "recipe-rss-to-notification");
    await fill(browser, "param-url", "https://example.com/feed.xml");
    await fits("the wizard's trigger settings");
    await click(browser, "wizard-next");
    await byId(browser, "area-name");
    await fits("the wizard's review");
    await click(browser, "wizard-save");
    await byId(browser, "area-send-test");
    await fits("an area's page");
    await browser.setWindowSize(1280, 800);
    await nav(browser, "dashboard");
    await fits("the dashboard at 1280 px");
  });
});

