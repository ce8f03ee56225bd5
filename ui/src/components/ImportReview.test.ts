import { describe, expect, test, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import ImportReview from "./ImportReview.svelte";
import type { TrustSummary } from "../lib/api";

const review = (name: string, over: Partial<TrustSummary> = {}): TrustSummary => ({
  name,
  reads_from: "reads “New feed item” from RSS feeds at https://example.com/feed.xml",
  sends_to: ["sends “Send an HTTP request” to HTTP at hooks.example.com"],
  hosts: ["example.com", "hooks.example.com"],
  connections: [],
  private_network: false,
  lines: [
    "reads “New feed item” from RSS feeds at https://example.com/feed.xml",
    "sends “Send an HTTP request” to HTTP at hooks.example.com",
    "contacts these hosts: example.com, hooks.example.com",
    "uses none of your connections",
  ],
  ...over,
});

describe("import review", () => {
  test("shows each area's summary and imports switched off or enabled", async () => {
    const onImport = vi.fn();
    const user = userEvent.setup();
    render(ImportReview, { props: { reviews: [review("Feed to hook"), review("Second")], busy: false, onImport, onBack: vi.fn() } });
    const first = screen.getByTestId("import-review-0");
    expect(within(first).getByText("Feed to hook")).toBeTruthy();
    expect(within(first).getByText(/contacts these hosts: example.com, hooks.example.com/)).toBeTruthy();
    expect(screen.getByTestId("import-review-1")).toBeTruthy();
    // Nothing asks for the private network: no checkbox.
    expect(screen.queryByTestId("import-private-network")).toBeNull();
    await user.click(screen.getByTestId("import-confirm"));
    expect(onImport).toHaveBeenLastCalledWith({ enable: false, allowPrivateNetwork: false });
    await user.click(screen.getByTestId("import-enable"));
    expect(onImport).toHaveBeenLastCalledWith({ enable: true, allowPrivateNetwork: false });
  });

  test("private network: a checkbox only when asked, and nothing imports until it is ticked", async () => {
    const onImport = vi.fn();
    const user = userEvent.setup();
    const asks = review("Home lab", {
      connections: ["github"],
      private_network: true,
      lines: ["uses your GitHub connection", "asks to reach your own machine and local network (allow_private_network)"],
    });
    render(ImportReview, { props: { reviews: [asks], busy: false, onImport, onBack: vi.fn() } });
    expect(screen.getByText(/uses your GitHub connection/)).toBeTruthy();
    const box = screen.getByTestId("import-private-network") as HTMLInputElement;
    expect(box.checked).toBe(false);
    expect((screen.getByTestId("import-enable") as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId("import-confirm") as HTMLButtonElement).disabled).toBe(true);
    await user.click(box);
    await user.click(screen.getByTestId("import-enable"));
    expect(onImport).toHaveBeenCalledWith({ enable: true, allowPrivateNetwork: true });
  });
});
