import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import Shell from "./Shell.svelte";
import { fakeCore } from "../test/fakeCore";
import { nav } from "../lib/state.svelte";

describe("shell", () => {
  test("navigates, pauses the engine and reloads areas when the core says they changed", async () => {
    const core = fakeCore({
      set_paused: (a) => ({ running: !a.paused, paused: a.paused, error: null, webhook_base: null }),
    });
    nav.route = { name: "dashboard" };
    const user = userEvent.setup();
    render(Shell, { props: { user: { id: 1, email: "me@example.com", created_at: 0 }, onSignedOut: () => {} } });
    expect(await screen.findByTestId("empty-dashboard")).toBeTruthy();
    expect((await screen.findByTestId("engine-status")).textContent).toContain("Running");

    const before = core.called("areas").length;
    await emit("app-event", { kind: "areas" });
    await waitFor(() => expect(core.called("areas").length).toBeGreaterThan(before));

    await user.click(screen.getByTestId("engine-toggle"));
    await waitFor(() => expect(screen.getByTestId("engine-status").textContent).toContain("Paused"));
    expect(core.called("set_paused")[0].args).toEqual({ paused: true });

    await user.click(screen.getByTestId("nav-activity"));
    expect(await screen.findByTestId("activity-empty")).toBeTruthy();
    await user.click(screen.getByTestId("nav-services"));
    expect(await screen.findByTestId("service-card-github")).toBeTruthy();
  });
});
