import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Dashboard from "./Dashboard.svelte";
import Settings from "./Settings.svelte";
import { fakeCore } from "../test/fakeCore";
import { loadCatalog } from "../lib/state.svelte";
import type { AutostartStatus } from "../lib/api";
import { areaCard } from "../test/cards";

const off: AutostartStatus = { supported: true, enabled: false, command: null, note: null, suggest: false };
const on: AutostartStatus = { ...off, enabled: true, command: ["/usr/bin/area-app", "--background"] };

const oneCard = areaCard(1);

describe("start at login", () => {
  test("is offered once on the dashboard after the first area, and turned on from the offer", async () => {
    const core = fakeCore({
      areas: () => [oneCard],
      autostart_status: () => ({ ...off, suggest: true }),
      set_autostart: () => on,
    });
    await loadCatalog(true);
    const user = userEvent.setup();
    render(Dashboard);
    const offer = await screen.findByTestId("autostart-suggestion");
    await user.click(offer.querySelector("button.primary")!);
    await waitFor(() => expect(core.called("set_autostart")[0]?.args).toEqual({ enabled: true }));
    await waitFor(() => expect(screen.queryByTestId("autostart-suggestion")).toBeNull());
  });

  test("is not offered once answered, nor before the first area", async () => {
    fakeCore({ areas: () => [oneCard], autostart_status: () => off });
    await loadCatalog(true);
    render(Dashboard);
    await screen.findByTestId("area-card-1");
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByTestId("autostart-suggestion")).toBeNull();
  });

  test("'Not now' dismisses the offer for good", async () => {
    const core = fakeCore({
      areas: () => [oneCard],
      autostart_status: () => ({ ...off, suggest: true }),
      dismiss_autostart_suggestion: () => null,
    });
    await loadCatalog(true);
    const user = userEvent.setup();
    render(Dashboard);
    await screen.findByTestId("autostart-suggestion");
    await user.click(screen.getByText("Not now"));
    await waitFor(() => expect(core.called("dismiss_autostart_suggestion")).toHaveLength(1));
    expect(screen.queryByTestId("autostart-suggestion")).toBeNull();
    expect(core.called("set_autostart")).toHaveLength(0);
  });

  test("is a switch in the settings that shows what the session will run", async () => {
    const core = fakeCore({ autostart_status: () => off, set_autostart: (a) => (a.enabled ? on : off) });
    const user = userEvent.setup();
    render(Settings);
    const toggle = (await screen.findByTestId("autostart-toggle")) as HTMLInputElement;
    expect(toggle.checked).toBe(false);
    await user.click(toggle);
    await waitFor(() => expect(core.called("set_autostart")[0]?.args).toEqual({ enabled: true }));
    expect((await screen.findByTestId("autostart-command")).textContent).toBe("/usr/bin/area-app --background");
    expect(toggle.checked).toBe(true);
  });

  test("says why where it is not supported", async () => {
    fakeCore({ autostart_status: () => ({ ...off, supported: false, note: "only on Linux desktops" }) });
    render(Settings);
    expect(await screen.findByText("only on Linux desktops")).toBeTruthy();
    expect(screen.queryByTestId("autostart-toggle")).toBeNull();
  });
});
