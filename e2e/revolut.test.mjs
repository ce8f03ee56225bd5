// End-to-end: connecting Revolut Business from the Services page the way Revolut documents it —
// Area creates the certificate, the user uploads it and consents, then pastes the address the
// browser landed on — against tests/revolut-server, which checks the certificate and the signed
// client assertion with Node's own crypto. The "browser" is a script (AREA_BROWSER) that records
// the consent URL. Run with e2e/run.sh.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { withApp, REPO_ROOT } from "./lib/app.mjs";
import { fakeBrowser } from "./lib/fakes.mjs";
import { byId, click, fill, waitText, signUp, nav } from "./lib/ui.mjs";
import { waitFor } from "./lib/util.mjs";

const PASSWORD = "correct horse battery staple";
const REDIRECT = "https://area.example.com/revolut";

const cleanups = [];
after(async () => {
  for (const c of cleanups) await c();
});

/** tests/revolut-server on an OS-chosen port; resolves its base URL once it prints READY. */
async function startFakeRevolut() {
  const child = spawn("node", ["server.mjs"], {
    cwd: join(REPO_ROOT, "tests", "revolut-server"),
    stdio: ["pipe", "pipe", "inherit"],
  });
  cleanups.push(async () => child.kill());
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line.startsWith("READY ")) return line.slice("READY ".length).trim();
  }
  throw new Error("tests/revolut-server exited before READY");
}

test("Revolut Business connects with a certificate Area creates, and Revolut's checks accept it", async () => {
  const base = await startFakeRevolut();
  const dir = mkdtempSync(join(process.env.E2E_TMPDIR || tmpdir(), "area-e2e-revolut-browser-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const browserScript = fakeBrowser(dir);
  const extraEnv = { AREA_REVOLUT_BASE_URL: `${base}/api/1.0`, AREA_BROWSER: browserScript.program };

  await withApp(
    "revolut",
    async ({ browser }) => {
      await signUp(browser, "e2e-revolut@example.com", PASSWORD);
      await nav(browser, "services");
      await byId(browser, "service-card-revolut");
      await click(browser, "connect-revolut");

      // 1. Area creates the certificate for the redirect URI.
      await fill(browser, "ck-redirect-uri", REDIRECT);
      await click(browser, "ck-create");
      const certificateField = await byId(browser, "ck-certificate", { timeout: 20000 });
      const certificate = await certificateField.getValue();
      assert.match(certificate, /^-----BEGIN CERTIFICATE-----/);

      // 2. The user uploads it in Revolut Business, which answers a client id.
      const uploaded = await fetch(`${base}/test/certificates`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ certificate, redirect_uri: REDIRECT }),
      });
      assert.equal(uploaded.status, 200, `the fake refused the certificate: ${await uploaded.clone().text()}`);
      const { client_id: clientId } = await uploaded.json();
      await fill(browser, "ck-client-id", clientId);
      await click(browser, "ck-consent");
      const consentUrl = await waitFor(() => browserScript.urls()[0], {
        timeout: 15000,
        message: "the app to open Revolut's consent page with AREA_BROWSER",
      });
      const consent = new URL(consentUrl);
      assert.equal(`${consent.origin}${consent.pathname}`, `${base}/app-confirm`);
      assert.equal(consent.searchParams.get("client_id"), clientId);
      assert.equal(consent.searchParams.get("redirect_uri"), REDIRECT);
      assert.equal(consent.searchParams.get("scope"), "READ");

      // 3. Consent, and paste where the browser landed.
      const redirected = await fetch(consentUrl, { redirect: "manual" });
      assert.equal(redirected.status, 302);
      const landed = redirected.headers.get("location");
      assert.ok(landed.startsWith(`${REDIRECT}?code=`), landed);
      await fill(browser, "ck-landed", landed);
      await click(browser, "ck-finish");

      const status = await waitText(browser, "connection-status-revolut", (t) => /connected/i.test(t), {
        timeout: 20000,
        message: "connection-status-revolut to say connected",
      });
      assert.doesNotMatch(status, /needs reconnect/i);
      const log = await (await fetch(`${base}/test/log`)).json();
      assert.deepEqual(
        log.map((e) => [e.grant_type, e.ok]),
        [["authorization_code", true]],
        `token requests: ${JSON.stringify(log)}`,
      );
    },
    { extraEnv },
  );
});
