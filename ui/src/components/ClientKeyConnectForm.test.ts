import { describe, expect, test } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import ClientKeyConnectForm from "./ClientKeyConnectForm.svelte";
import { apiError, fakeCore } from "../test/fakeCore";
import type { ServiceManifest } from "../lib/api";

const manifest = { id: "revolut", name: "Revolut Business", auth: "client_key" } as unknown as ServiceManifest;
const CERT = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
const setup = (clientId: string | null = null) => ({
  connection_id: "revolut",
  certificate_pem: CERT,
  redirect_uri: "https://example.com/area",
  issuer: "example.com",
  client_id: clientId,
  authorized: false,
});

describe("certificate connect form", () => {
  test("creates the certificate, opens the consent with the client id, and finishes with the landed address", async () => {
    let begun = 0;
    const core = fakeCore({
      client_key_setup: () => null,
      begin_client_key: () => {
        begun += 1;
        if (begun === 1) throw apiError("invalid", "the provider only redirects to https addresses", "redirect_uri");
        return setup();
      },
      client_key_consent: () => "https://business.revolut.com/app-confirm?client_id=c-1#authorise",
      finish_client_key: () => ({
        connection_id: "revolut",
        kind: "client_key",
        account_label: null,
        status: "ok",
        reason: null,
        expires_at: 1,
        planned: null,
      }),
    });
    let connected = false;
    const user = userEvent.setup();
    render(ClientKeyConnectForm, { props: { manifest, onConnected: () => (connected = true) } });

    // A refused redirect URI is shown on its field.
    await user.type(screen.getByTestId("ck-redirect-uri"), "http://example.com/area");
    await user.click(screen.getByTestId("ck-create"));
    expect((await screen.findByTestId("ck-error")).textContent).toMatch(/https/);
    expect(screen.getByTestId("ck-redirect-uri").getAttribute("aria-invalid")).toBe("true");

    await user.clear(screen.getByTestId("ck-redirect-uri"));
    await user.type(screen.getByTestId("ck-redirect-uri"), "https://example.com/area");
    await user.click(screen.getByTestId("ck-create"));
    expect(((await screen.findByTestId("ck-certificate")) as HTMLTextAreaElement).value).toBe(CERT);
    expect(screen.getByTestId("ck-redirect-shown").textContent).toBe("https://example.com/area");
    expect(core.called("begin_client_key")[1].args).toEqual({ service: "revolut", redirectUri: "https://example.com/area" });

    await user.type(screen.getByTestId("ck-client-id"), "c-1");
    await user.click(screen.getByTestId("ck-consent"));
    expect((await screen.findByTestId("ck-consent-url")).textContent).toMatch(/app-confirm\?client_id=c-1/);
    await user.type(screen.getByTestId("ck-landed"), "https://example.com/area?code=oa_sand_x");
    await user.click(screen.getByTestId("ck-finish"));
    await screen.findByTestId("ck-finish");
    expect(core.called("finish_client_key")[0].args).toEqual({
      service: "revolut",
      clientId: "c-1",
      codeOrUrl: "https://example.com/area?code=oa_sand_x",
      label: null,
    });
    expect(connected).toBe(true);
  });

  test("a setup begun earlier resumes at the consent, and a new certificate is asked for explicitly", async () => {
    const core = fakeCore({ client_key_setup: () => setup("c-9") });
    const user = userEvent.setup();
    render(ClientKeyConnectForm, { props: { manifest } });
    expect(((await screen.findByTestId("ck-client-id")) as HTMLInputElement).value).toBe("c-9");
    expect(screen.queryByTestId("ck-redirect-uri")).toBeNull();
    await user.click(screen.getByTestId("ck-new"));
    expect((screen.getByTestId("ck-redirect-uri") as HTMLInputElement).value).toBe("https://example.com/area");
    expect(core.called("begin_client_key")).toHaveLength(0);
  });
});

describe("connect panel of a certificate service", () => {
  test("a setup waiting for its authorization says which step, not that it needs reconnecting", async () => {
    const { default: ConnectPanel } = await import("./ConnectPanel.svelte");
    const { catalog } = await import("../lib/state.svelte");
    fakeCore({ client_key_setup: () => setup("c-9") });
    const reason = "waiting for the authorization: upload the certificate in Revolut Business, then finish connecting with its client id";
    catalog.connections = [
      { connection_id: "revolut", kind: "client_key", account_label: null, status: "needs_reconnect", reason, expires_at: null, planned: null },
    ];
    const entry = { manifest, connection_id: "revolut", checks_token: false } as never;
    render(ConnectPanel, { props: { entry } });
    const notice = await screen.findByTestId("connect-notice");
    expect(notice.textContent?.trim()).toBe(reason);
    expect(notice.textContent).not.toMatch(/needs to be reconnected/);
    catalog.connections = [];
  });
});
