import { describe, expect, test } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import Shell from "./Shell.svelte";
import { fakeCore } from "../test/fakeCore";
import { nav } from "../lib/state.svelte";
import type { EngineStatus } from "../lib/api";
import { areaCard } from "../test/cards";

const ME = { user: { id: 1, email: "me@example.com", created_at: 0 }, onSignedOut: () => {} };

const areaOn = areaCard(5, { name: "Feed to phone" });

/** The fake core with one area that is on, and "Pause all" switchable. */
function coreWithAreaOn(paused: boolean) {
  let engine: EngineStatus = { running: true, paused, error: null, webhook_base: null };
  return fakeCore({
    areas: () => [areaOn],
    area: () => ({
      detail: { ...areaOn.summary, spec: { condition: null }, last_error: null, consecutive_failures: 0, last_polled_at: null, webhook_url: null, runs: { total: 0, succeeded: 0, failed: 0 } },
      form: {},
    }),
    engine_status: () => engine,
    set_paused: (a) => (engine = { ...engine, paused: a.paused as boolean }),
  });
}

describe("shell", () => {
  test("navigates, pauses the engine and reloads areas when the core says they changed", async () => {
    const core = fakeCore({
      set_paused: (a) => ({ running: !a.paused, paused: a.paused, error: null, webhook_base: null }),
    });
    nav.route = { name: "dashboard" };
    const user = userEvent.setup();
    render(Shell, { props: ME });
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

  test("while all areas are paused, an area that is on shows as paused on its card and its page", async () => {
    coreWithAreaOn(false);
    nav.route = { name: "dashboard" };
    const user = userEvent.setup();
    render(Shell, { props: ME });
    const card = await screen.findByTestId("area-card-5");
    await waitFor(() => expect(within(card).getByText("On")).toBeTruthy());

    await user.click(await screen.findByTestId("engine-toggle"));
    await waitFor(() => expect(within(card).queryByText("On")).toBeNull());
    expect(within(card).getByText("Paused")).toBeTruthy();
    expect(within(card).getByText("not while paused")).toBeTruthy();

    await user.click(screen.getByTestId("area-open-5"));
    const page = await screen.findByRole("heading", { name: "Feed to phone", level: 1 });
    const facts = page.closest("section") as HTMLElement;
    expect(within(facts).getByText("Paused")).toBeTruthy();
    expect(within(facts).queryByText("On")).toBeNull();

    await user.click(screen.getByTestId("engine-toggle"));
    await waitFor(() => expect(within(facts).getByText("On")).toBeTruthy());
  });

  test("an area's page says Paused when it opens while all areas are paused", async () => {
    coreWithAreaOn(true);
    nav.route = { name: "area", id: 5 };
    render(Shell, { props: ME });
    const page = await screen.findByRole("heading", { name: "Feed to phone", level: 1 });
    const facts = page.closest("section") as HTMLElement;
    await waitFor(() => expect(within(facts).getByText("Paused")).toBeTruthy());
    expect(within(facts).queryByText("On")).toBeNull();
  });
});
