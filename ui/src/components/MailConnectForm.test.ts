import { describe, expect, test } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import MailConnectForm from "./MailConnectForm.svelte";
import { apiError, fakeCore } from "../test/fakeCore";
import type { ServiceManifest } from "../lib/api";

const manifest = { id: "mail", name: "Mail (IMAP/SMTP)", auth: "mail_account" } as unknown as ServiceManifest;

describe("mail connect form", () => {
  test("sends the servers with the password, and shows core's error on its field", async () => {
    let attempts = 0;
    const core = fakeCore({
      connect_mail: () => {
        attempts += 1;
        if (attempts === 1) throw apiError("invalid", "imap_host: not a host name", "imap_host");
        return { connection_id: "mail", kind: "mail", account_label: null, status: "ok", reason: null, expires_at: null };
      },
    });
    let connected = false;
    const user = userEvent.setup();
    render(MailConnectForm, { props: { manifest, reconnect: false, onConnected: () => (connected = true) } });
    await user.type(screen.getByTestId("mail-username"), "ada@example.com");
    await user.type(screen.getByTestId("mail-imap-host"), "https://imap.example.com/");
    await user.type(screen.getByTestId("mail-password"), "app-password");
    await user.click(screen.getByTestId("mail-submit"));
    expect((await screen.findByTestId("mail-error")).textContent).toMatch(/not a host name/);
    expect(screen.getByTestId("mail-imap-host").getAttribute("aria-invalid")).toBe("true");

    await user.clear(screen.getByTestId("mail-imap-host"));
    await user.type(screen.getByTestId("mail-imap-host"), "imap.example.com");
    await user.type(screen.getByTestId("mail-smtp-host"), "smtp.example.com");
    await user.click(screen.getByTestId("mail-submit"));
    await screen.findByTestId("mail-submit");
    expect(core.called("connect_mail")[1].args).toEqual({
      service: "mail",
      account: {
        username: "ada@example.com",
        imap_host: "imap.example.com",
        imap_port: null,
        imap_security: "tls",
        smtp_host: "smtp.example.com",
        smtp_port: null,
        smtp_security: null,
      },
      password: "app-password",
      label: null,
    });
    expect(connected).toBe(true);
  });
});
