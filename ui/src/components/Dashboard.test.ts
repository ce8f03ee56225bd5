import { describe, expect, test } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Dashboard from "./Dashboard.svelte";
import Activity from "./Activity.svelte";
import { fakeCore } from "../test/fakeCore";
import { areaCard } from "../test/cards";
import { loadCatalog, toasts } from "../lib/state.svelte";
import type { RunRecord } from "../lib/api";

const card = areaCard;

describe("dashboard", () => {
  test("shows cards with their status, and the switch turns an area off", async () => {
    const cards = [card(1), card(2, { enabled: false, status: "off" })];
    const core = fakeCore({
      areas: () => cards,
      set_area_enabled: (a) => {
        const c = cards.find((x) => x.summary.id === a.id)!;
        c.summary = { ...c.summary, enabled: a.enabled as boolean, status: a.enabled ? "on" : "off" };
        return c.summary;
      },
    });
    await loadCatalog(true);
    const user = userEvent.setup();
    render(Dashboard);
    const one = await screen.findByTestId("area-card-1");
    expect(one.getAttribute("data-status")).toBe("on");
    expect(screen.getByTestId("area-card-2").getAttribute("data-status")).toBe("off");
    expect(within(one).getByText("New feed item", { exact: false })).toBeTruthy();
    expect(within(one).getByText("RSS feeds")).toBeTruthy();
    expect(within(one).getByText(/in 2 minutes/)).toBeTruthy();
    await user.click(screen.getByTestId("area-toggle-1"));
    await waitFor(() => expect(core.called("set_area_enabled")[0]?.args).toEqual({ id: 1, enabled: false }));
    await waitFor(() => expect(screen.getByTestId("area-card-1").getAttribute("data-status")).toBe("off"));
  });

  test("a paused area shows why and its one-click fix", async () => {
    const core = fakeCore({
      areas: () => [
        card(
          3,
          { status: "paused", paused_reason: "GitHub refused the credentials", paused_cause: "credentials" },
          { consecutive_failures: 5, fix: { kind: "reconnect", service: "github", label: "Reconnect GitHub" } },
        ),
        card(4, { status: "paused", paused_reason: "5 failures in a row", paused_cause: "failures" }, { fix: { kind: "resume", service: null, label: "Resume" } }),
      ],
      set_area_enabled: (a) => card(Number(a.id)).summary,
    });
    await loadCatalog(true);
    const user = userEvent.setup();
    render(Dashboard);
    const three = await screen.findByTestId("area-card-3");
    expect(three.getAttribute("data-status")).toBe("paused");
    expect(within(three).getByText(/GitHub refused the credentials/)).toBeTruthy();
    expect(within(three).getByText(/5 in a row/)).toBeTruthy();
    await user.click(within(three).getByText("Reconnect GitHub"));
    expect(within(three).getByTestId("token-input")).toBeTruthy();
    await user.click(within(screen.getByTestId("area-card-4")).getByText("Resume"));
    await waitFor(() => expect(core.called("set_area_enabled")[0]?.args).toEqual({ id: 4, enabled: true }));
  });

  test("exporting an area says which file was saved, and where", async () => {
    const core = fakeCore({ areas: () => [card(1, { name: "Feed to phone" })], export_area: () => '{"name":"Feed to phone"}' });
    const user = userEvent.setup();
    render(Dashboard);
    await user.click(await screen.findByTestId("area-export-1"));
    await waitFor(() => expect(core.called("export_area")[0]?.args).toEqual({ id: 1 }));
    await waitFor(() => expect(toasts.map((t) => t.text)).toContain("Saved feed-to-phone.area.json to your Downloads folder"));
  });

  test("empty state and import: review first, imported switched off, then enabled", async () => {
    const review = {
      name: "Area 9",
      reads_from: "reads “New feed item” from RSS feeds at https://example.com/feed.xml",
      sends_to: ["sends “Show a notification” to Notifications"],
      hosts: ["example.com"],
      connections: [],
      private_network: false,
      lines: ["reads “New feed item” from RSS feeds at https://example.com/feed.xml", "uses none of your connections"],
    };
    const off = card(9, { enabled: false, status: "off" }).summary;
    const core = fakeCore({
      review_import: () => [review],
      import_areas: () => [{ ...off, review }],
      set_area_enabled: (a) => card(Number(a.id)).summary,
    });
    const user = userEvent.setup();
    render(Dashboard);
    expect(await screen.findByTestId("empty-dashboard")).toBeTruthy();
    await user.click(screen.getByTestId("import-area"));
    await user.click(screen.getByTestId("import-text"));
    await user.paste('{"name":"x"}');
    await user.click(screen.getByTestId("import-submit"));
    expect(await screen.findByText(/from RSS feeds at https:\/\/example.com\/feed.xml/)).toBeTruthy();
    expect(core.called("import_areas")).toHaveLength(0);
    await user.click(screen.getByTestId("import-enable"));
    await waitFor(() => expect(core.called("import_areas")[0]?.args).toEqual({ text: '{"name":"x"}', allowPrivateNetwork: false }));
    await waitFor(() => expect(core.called("set_area_enabled")[0]?.args).toEqual({ id: 9, enabled: true }));
  });
});

describe("activity", () => {
  const run = (id: number, status: string, error: string | null = null): RunRecord => ({
    id,
    area_id: 1,
    area_name: "Feed to notification",
    event_key: `k${id}`,
    status,
    attempts: status === "failed" ? 3 : 1,
    created_at: Date.now() - 60_000,
    started_at: null,
    finished_at: null,
    duration_ms: 420,
    next_attempt_at: null,
    error,
    summary: null,
    ingredients: JSON.stringify({ title: "Hello" }),
  });

  test("lists runs with errors, re-runs a failed one and expands ingredients", async () => {
    const core = fakeCore({
      runs: () => [run(2, "failed", "HTTP 500 from the sink"), run(1, "succeeded")],
      rerun: () => null,
    });
    const user = userEvent.setup();
    render(Activity, { props: {} });
    await waitFor(() => expect(screen.getAllByTestId("run-row")).toHaveLength(2));
    const [failed, ok] = screen.getAllByTestId("run-row");
    expect(failed.getAttribute("data-status")).toBe("failed");
    expect(failed.getAttribute("data-area-id")).toBe("1");
    expect(within(failed).getByText("HTTP 500 from the sink")).toBeTruthy();
    expect(within(ok).queryByTestId("rerun-1")).toBeNull();
    await user.click(screen.getByTestId("rerun-2"));
    await waitFor(() => expect(core.called("rerun")[0]?.args).toEqual({ runId: 2 }));
    // The row names its item; the ingredients open below it.
    expect(within(ok).getByTestId("run-item").textContent).toBe("Hello");
    await user.click(within(ok).getByText("Ingredients"));
    expect(within(ok).getByText("Hello", { selector: "dd" })).toBeTruthy();
    await user.selectOptions(screen.getByTestId("activity-status-filter"), "succeeded");
    await waitFor(() => expect(screen.getAllByTestId("run-row")).toHaveLength(1));
  });

  test("empty state", async () => {
    fakeCore();
    render(Activity, { props: {} });
    expect(await screen.findByTestId("activity-empty")).toBeTruthy();
  });
});
