import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import AreaDetail from "./AreaDetail.svelte";
import { fakeCore } from "../test/fakeCore";
import { nav, toasts } from "../lib/state.svelte";

const detail = {
  id: 5,
  name: "Hook to sink",
  enabled: true,
  status: "on",
  paused_reason: null,
  paused_cause: null,
  action: { service: "webhook", id: "received" },
  reactions: [{ service: "http", id: "request" }],
  summary: "when Webhook received (webhook) then Send an HTTP request (http)",
  interval_secs: 300,
  created_at: 0,
  updated_at: 0,
  spec: { name: "Hook to sink", action: { service: "webhook", id: "received", params: {} }, reactions: [], enabled: true, allow_private_network: false },
  last_error: null,
  consecutive_failures: 0,
  baselined: true,
  last_polled_at: null,
  webhook_token: "tok",
  webhook_url: "http://127.0.0.1:8787/hooks/tok",
  runs: { queued: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, unknown_outcome: 0, total: 0 },
  seen_items: 0,
};

describe("area detail", () => {
  test("shows the webhook URL, and deletes only after confirming", async () => {
    const core = fakeCore({
      area: () => ({ detail, form: {} }),
      delete_area: () => null,
    });
    const user = userEvent.setup();
    nav.route = { name: "area", id: 5 };
    render(AreaDetail, { props: { id: 5 } });
    expect((await screen.findByTestId("webhook-url")).textContent).toBe("http://127.0.0.1:8787/hooks/tok");
    expect(screen.getByTestId("area-runs").textContent).toContain("Waiting for the first event at the webhook address");
    await user.click(screen.getByTestId("area-delete"));
    expect(core.called("delete_area")).toHaveLength(0);
    await user.click(screen.getByTestId("area-delete-confirm"));
    await waitFor(() => expect(core.called("delete_area")[0]?.args).toEqual({ id: 5 }));
    expect(nav.route.name).toBe("dashboard");
  });

  test("Delete is a quiet outline button, not the page's filled one", async () => {
    fakeCore({ area: () => ({ detail, form: {} }) });
    render(AreaDetail, { props: { id: 5 } });
    const del = await screen.findByTestId("area-delete");
    expect(del.classList.contains("danger-outline")).toBe(true);
    expect(del.classList.contains("danger")).toBe(false);
    expect(del.classList.contains("primary")).toBe(false);
  });

  test("exporting says which file was saved, and where", async () => {
    fakeCore({ area: () => ({ detail, form: {} }), export_area: () => '{"name":"Hook to sink"}' });
    const user = userEvent.setup();
    render(AreaDetail, { props: { id: 5 } });
    await user.click(await screen.findByTestId("area-export"));
    expect(await screen.findByText("Saved hook-to-sink.area.json to your Downloads folder")).toBeTruthy();
    expect((screen.getByTestId("export-text") as HTMLTextAreaElement).value).toBe('{"name":"Hook to sink"}');
  });

  test("Send a test queues a run, says what it carried, and shows it in the area's runs", async () => {
    let runs: unknown[] = [];
    const core = fakeCore({
      area: () => ({ detail, form: {} }),
      runs: () => runs,
      send_test: () => {
        runs = [
          {
            id: 9, area_id: 5, area_name: "Hook to sink", event_key: "test:1", status: "succeeded", attempts: 1,
            created_at: Date.now(), started_at: null, finished_at: null, duration_ms: 5, next_attempt_at: null,
            error: null, summary: "HTTP 200", ingredients: '{"title": "Announcing Rust 1.85.0"}',
          },
        ];
        return { run_id: 9, source: "examples", note: null };
      },
    });
    const user = userEvent.setup();
    render(AreaDetail, { props: { id: 5 } });
    await user.click(await screen.findByTestId("area-send-test"));
    await waitFor(() => expect(core.called("send_test")[0]?.args).toEqual({ id: 5 }));
    await waitFor(() => expect(toasts.map((t) => t.text)).toContain("Test sent with example values: its run appears below"));
    expect(await screen.findByTestId("run-test")).toBeTruthy();
    expect(screen.getByTestId("run-item").textContent).toBe("Announcing Rust 1.85.0");
  });

  test("an area that is off cannot send a test, and says why", async () => {
    fakeCore({ area: () => ({ detail: { ...detail, enabled: false, status: "off" }, form: {} }) });
    render(AreaDetail, { props: { id: 5 } });
    const button = (await screen.findByTestId("area-send-test")) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.title).toMatch(/turn the area on/i);
  });
});
