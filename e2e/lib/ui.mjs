// Driving the UI by its data-testid ids (the contract in the issue 5 notes).
import { waitFor, sleep } from "./util.mjs";

export const TIMEOUT = 15000;

/** CSS selector for a test id. */
export const sel = (id) => `[data-testid="${id}"]`;

/** The element with test id `id`, once it exists (throws a clear message after `timeout`). */
export async function byId(browser, id, { timeout = TIMEOUT, displayed = true } = {}) {
  const el = await browser.$(sel(id));
  try {
    if (displayed) await el.waitForDisplayed({ timeout });
    else await el.waitForExist({ timeout });
  } catch {
    throw new Error(`data-testid="${id}" not ${displayed ? "displayed" : "present"} after ${timeout} ms`);
  }
  return el;
}

/** Whether an element with test id `id` exists right now (optionally: and is displayed). */
export async function exists(browser, id, { displayed = false } = {}) {
  const el = await browser.$(sel(id));
  if (!(await el.isExisting())) return false;
  return displayed ? el.isDisplayed() : true;
}

const NOT_CLICKABLE = /interactable|intercept|obscured/i;

/**
 * Clicks an element like a user: when something covers it (a toast), waits up to `patience` ms
 * for it to go away; then falls back to a DOM click and says what covered it.
 */
export async function clickEl(browser, el, { patience = 6000 } = {}) {
  const deadline = Date.now() + patience;
  for (;;) {
    try {
      await el.click();
      return;
    } catch (e) {
      if (!NOT_CLICKABLE.test(String(e?.message))) throw e;
      if (Date.now() > deadline) break;
      await sleep(250);
    }
  }
  const what = await browser.execute((node) => {
    const r = node.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    const desc = (n) => (n ? `<${n.tagName.toLowerCase()} class="${n.className}" testid="${n.getAttribute("data-testid") ?? ""}">` : "nothing");
    node.click();
    return `${desc(node)} covered by ${desc(top)} at ${Math.round(r.left)},${Math.round(r.top)} (viewport ${innerWidth}x${innerHeight})`;
  }, el);
  console.error(`# click fell back to a DOM click after ${patience} ms: ${what}`);
}

export async function click(browser, id, options) {
  const el = await byId(browser, id, options);
  await clickEl(browser, el);
  return el;
}

/** Replaces the value of input/textarea `id` by typing `value` (so the framework sees input events). */
export async function fill(browser, id, value, options) {
  const el = await byId(browser, id, options);
  await el.clearValue();
  // clearValue does not always fire `input`; select-all + delete makes the framework notice.
  if ((await el.getValue()) !== "") {
    await el.click();
    await browser.keys(["Control", "a"]);
    await browser.keys("Backspace");
  }
  if (value !== "") await el.addValue(value);
  return el;
}

/** Waits for the text of `id` to satisfy `predicate`; returns the text. */
export async function waitText(browser, id, predicate, { timeout = TIMEOUT, message } = {}) {
  let last = "";
  try {
    return await waitFor(
      async () => {
        const el = await browser.$(sel(id));
        if (!(await el.isExisting())) return false;
        last = (await el.getText()).trim();
        return predicate(last) ? last : false;
      },
      { timeout, message: message ?? `text of data-testid="${id}"` },
    );
  } catch (e) {
    throw new Error(`${e.message}; last text: ${JSON.stringify(last)}`);
  }
}

/** Test ids present in the page that start with `prefix` (in document order). */
export async function idsWithPrefix(browser, prefix) {
  return browser.execute(
    (p) => Array.from(document.querySelectorAll(`[data-testid^="${p}"]`)).map((n) => n.getAttribute("data-testid")),
    prefix,
  );
}

/** All data-testid values present (for error messages when an expected id is missing). */
export async function allTestIds(browser) {
  return browser.execute(() =>
    Array.from(document.querySelectorAll("[data-testid]")).map((n) => n.getAttribute("data-testid")),
  );
}

/**
 * Clicks `wizard-next` until `id` is displayed (at most `maxSteps` clicks). Each time, first
 * gives the current step a moment to show `id`, so no step is skipped by clicking too fast.
 */
export async function advanceUntil(browser, id, { maxSteps = 8, settle = 1500 } = {}) {
  for (let step = 0; step <= maxSteps; step++) {
    const deadline = Date.now() + settle;
    while (Date.now() < deadline) {
      if (await exists(browser, id, { displayed: true })) return byId(browser, id);
      await sleep(100);
    }
    if (step === maxSteps) break;
    const next = await browser.$(sel("wizard-next"));
    if (!(await next.isExisting()) || !(await next.isDisplayed())) break;
    if (!(await next.isEnabled())) break;
    await clickEl(browser, next);
  }
  const ids = await allTestIds(browser);
  throw new Error(`wizard: data-testid="${id}" never showed; ids on the page: ${ids.join(", ")}`);
}

// ----- flows -----

/**
 * Puts the auth screen in `mode` ("signup" or "signin"): it opens on account creation on a fresh
 * install and on sign-in otherwise (also when the core cannot say), with a link to the other.
 */
async function authMode(browser, mode) {
  await byId(browser, "auth-email"); // the screen is up, its opening mode chosen
  if (await exists(browser, `auth-${mode}`, { displayed: true })) return;
  await click(browser, mode === "signup" ? "auth-to-signup" : "auth-to-signin");
  await byId(browser, `auth-${mode}`);
}

/** Signs up on the auth screen and waits for the signed-in shell. */
export async function signUp(browser, email, password) {
  await authMode(browser, "signup");
  await fill(browser, "auth-email", email);
  await fill(browser, "auth-password", password);
  await click(browser, "auth-signup");
  await byId(browser, "app-ready", { displayed: false });
}

/** Signs in on the auth screen (does not wait for the result). */
export async function submitSignIn(browser, email, password) {
  await authMode(browser, "signin");
  await fill(browser, "auth-email", email);
  await fill(browser, "auth-password", password);
  await click(browser, "auth-signin");
}

/** Clicks a nav entry, waiting for the shell first. */
export async function nav(browser, page) {
  await click(browser, `nav-${page}`);
}

/**
 * What sticks out of the window sideways: the page's scroll width beyond the viewport, and the
 * elements whose right edge passes it (tag, test id or class, right edge), for the message.
 */
export async function horizontalOverflow(browser) {
  return browser.execute(() => {
    const width = window.innerWidth;
    const culprits = [];
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 1 && getComputedStyle(el).position !== "fixed") {
        culprits.push(`${el.tagName.toLowerCase()}${el.dataset.testid ? `[${el.dataset.testid}]` : el.className ? `.${String(el.className).split(" ")[0]}` : ""}→${Math.round(r.right)}`);
      }
    }
    return { width, scrollWidth: document.documentElement.scrollWidth, culprits: culprits.slice(0, 8) };
  });
}

/** Starts the wizard and picks webhook → received as the trigger, http → request as the reaction. */
export async function wizardWebhookToHttp(browser) {
  await nav(browser, "dashboard");
  await click(browser, "new-area");
  // The searchable grid: searching narrows it to the service.
  await fill(browser, "service-search", "webhook");
  // Webhook has one trigger and HTTP one reaction: choosing the service opens its settings.
  await click(browser, "pick-service-webhook");
  // The reaction's service grid (the trigger has no parameters to fill).
  await advanceUntil(browser, "pick-service-http");
  await click(browser, "pick-service-http");
  await byId(browser, "param-url");
}

/**
 * Inserts ingredient `ingredient` into param `param` through the ingredient picker. A webhook's
 * fields are not known in advance (dynamic ingredients): the picker then offers the name typed
 * into its filter.
 */
export async function pickIngredient(browser, param, ingredient) {
  await click(browser, `ingredient-picker-${param}`);
  const entry = await browser.$(sel(`ingredient-${ingredient}`));
  if (!(await entry.isExisting()) && (await exists(browser, "ingredient-filter", { displayed: true }))) {
    await fill(browser, "ingredient-filter", ingredient);
    await entry.waitForExist({ timeout: 3000 }).catch(() => {});
  }
  if (!(await entry.isExisting())) {
    const offered = await idsWithPrefix(browser, "ingredient-");
    throw new Error(`ingredient picker for ${param} does not offer "${ingredient}"; it offers: ${offered.join(", ")}`);
  }
  await clickEl(browser, entry);
}

/** The id of the one area card on the dashboard. */
export async function onlyAreaId(browser) {
  return waitFor(
    async () => {
      const ids = (await idsWithPrefix(browser, "area-card-")).map((id) => id.slice("area-card-".length));
      return ids.length === 1 ? ids[0] : false;
    },
    { message: "exactly one area-card-<id> on the dashboard" },
  );
}
