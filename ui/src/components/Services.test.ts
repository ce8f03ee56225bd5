import { describe, expect, test } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Services from "./Services.svelte";
import { apiError, fakeCore, FAKE_SERVICES } from "../test/fakeCore";

describe("services page", () => {
  test("a limited service leads with its one-line description; its caveat is behind the Limited detail", async () => {
    const limited = structuredClone(FAKE_SERVICES.find((s) => s.manifest.id === "github")!);
    limited.manifest.availability = { status: "limited", reason: "needs a paid plan for more than 60 calls an hour" };
    fakeCore({ services: () => FAKE_SERVICES.map((s) => (s.manifest.id === "github" ? limited : s)) });
    const user = userEvent.setup();
    render(Services, { props: {} });
    const card = await screen.findByTestId("service-card-github");
    expect(card.textContent).toContain("Issues and releases");
    const detail = within(card).getByTestId("avail-detail") as HTMLDetailsElement;
    expect(detail.open).toBe(false);
    expect(within(detail).getByText("Limited")).toBeTruthy();
    await user.click(within(detail).getByText("Limited"));
    expect(detail.open).toBe(true);
    expect(detail.textContent).toContain("needs a paid plan for more than 60 calls an hour");
    // an unavailable service says why at once
    expect((await screen.findByTestId("service-card-thunderbird")).textContent).toContain("no web API");
  });

  test("connects a token service, shows its status, and disconnects after confirming", async () => {
    const core = fakeCore({
      disconnect: (a) => {
        core.connections.splice(core.connections.findIndex((c) => c.connection_id === a.service), 1);
        return null;
      },
    });
    const user = userEvent.setup();
    render(Services, { props: {} });
    expect(await screen.findByTestId("service-card-github")).toBeTruthy();
    expect(screen.queryByTestId("connect-rss")).toBeNull(); // needs no account
    await user.click(screen.getByTestId("connect-github"));
    await user.type(screen.getByTestId("token-input"), "ghp_x");
    await user.type(screen.getByTestId("token-label"), "work");
    await user.click(screen.getByTestId("token-submit"));
    expect(core.called("connect_token")[0].args).toEqual({ service: "github", token: "ghp_x", label: "work" });
    expect((await screen.findByTestId("connection-status-github")).textContent).toMatch(/connected/);

    core.connections[0].status = "needs_reconnect";
    core.connections[0].reason = "GitHub refused the token";
    await user.click(screen.getByTestId("disconnect-github"));
    expect(core.called("disconnect")).toHaveLength(0);
    await user.click(screen.getByTestId("disconnect-confirm-github"));
    await waitFor(() => expect(core.called("disconnect")[0]?.args).toEqual({ service: "github" }));
    await waitFor(() => expect(screen.queryByTestId("connection-status-github")).toBeNull());
  });

  test("a token the service refuses shows under the token field and nothing is connected", async () => {
    const core = fakeCore({
      connect_token: () => {
        throw apiError("invalid", "GitHub refused this token (HTTP 401). Copy the whole token again, or create a new one, then connect.", "token");
      },
    });
    const user = userEvent.setup();
    render(Services, { props: {} });
    await user.click(await screen.findByTestId("connect-github"));
    // The check is announced before it happens.
    expect(screen.getByTestId("token-help").textContent).toMatch(/checked with GitHub when you connect/i);
    const input = screen.getByTestId("token-input");
    await user.type(input, "x");
    await user.click(screen.getByTestId("token-submit"));
    const err = await screen.findByTestId("token-error");
    expect(err.textContent).toMatch(/GitHub refused this token/);
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby") ?? "").toContain(err.id);
    expect(screen.getByTestId("connect-error").textContent).toBe("");
    expect(screen.queryByTestId("connection-status-github")).toBeNull();
    expect(core.connections).toHaveLength(0);
    // Editing the token clears the refusal.
    await user.type(input, "y");
    expect(screen.queryByTestId("token-error")).toBeNull();
  });

  test("a connection shows what the enabled areas plan of its service's quota", async () => {
    const core = fakeCore();
    core.connections.push({
      connection_id: "github",
      kind: "api_key",
      account_label: null,
      status: "ok",
      reason: null,
      expires_at: null,
      planned: { service: "github", planned: 720, limit: 1000, window: "day", counted_per: "per PRIM token", areas: 1 },
    });
    render(Services, { props: {} });
    const planned = await screen.findByTestId("connection-planned-github");
    expect(planned.textContent?.trim()).toBe("Planned: 720 of 1,000 calls a day per PRIM token (1 area)");
  });
});
