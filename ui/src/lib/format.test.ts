import { describe, expect, it } from "vitest";
import { conditionText, desktopMessage, quotaText, runCountsText, runItemTitle, splitDetail, watchingText } from "./format";

const names: Record<string, string> = { github: "GitHub" };
const nameOf = (id: string) => names[id] ?? id;

describe("desktopMessage", () => {
  it("turns the CLI hint into a Services page hint and ids into names", () => {
    expect(desktopMessage("the github connection was removed: run `area connect github`", nameOf)).toBe(
      "The GitHub connection was removed: reconnect GitHub on the Services page",
    );
    expect(desktopMessage("boom (run `area connect github`)", nameOf)).toBe("Boom (reconnect GitHub on the Services page)");
    expect(desktopMessage("HTTP 400 Bad Request", nameOf)).toBe("HTTP 400 Bad Request");
    const reaction = (svc: string, id: string) => (svc === "http" && id === "request" ? "Send an HTTP request" : undefined);
    expect(desktopMessage("http.request (reaction 0): http answered HTTP 400", nameOf, reaction)).toBe(
      "Send an HTTP request: http answered HTTP 400",
    );
    expect(desktopMessage("github.create_issue (reaction 1): boom", nameOf, reaction)).toBe("GitHub create issue (reaction 2): boom");
  });
});

describe("conditionText", () => {
  it("words comparisons and combinations", () => {
    expect(conditionText({ ingredient: "title", op: "contains", value: "rust" })).toBe("title contains “rust”");
    expect(
      conditionText({ all: [{ ingredient: "a", op: "equals", value: 1 }, { not: { ingredient: "b", op: "matches", value: "x" } }] }),
    ).toBe("a equals “1” and (not b matches “x”)");
  });
});

describe("runItemTitle", () => {
  it("names the item by its title, else its name or subject, on one line", () => {
    expect(runItemTitle('{"title": "Release 2.0", "url": "https://x"}')).toBe("Release 2.0");
    expect(runItemTitle({ name: "v2", tag: "v2.0.0" })).toBe("v2");
    expect(runItemTitle({ subject: "Hello\n  there", from: "a@b" })).toBe("Hello there");
  });
  it("cuts long titles and is empty when the event names no item", () => {
    expect(runItemTitle({ title: "x".repeat(200) }, 10)).toBe("xxxxxxxxx…");
    expect(runItemTitle({ url: "https://x", id: 3 })).toBe("");
    expect(runItemTitle("")).toBe("");
  });
});

describe("runCountsText", () => {
  const zero = { queued: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, unknown_outcome: 0, total: 0 };
  it("names every status that occurs, so the parts add up to the total", () => {
    expect(runCountsText({ ...zero, succeeded: 1, skipped: 1, total: 2 })).toBe("2 runs: 1 succeeded, 1 skipped");
    expect(runCountsText({ ...zero, failed: 1, total: 1 })).toBe("1 run: 1 failed");
    expect(runCountsText({ ...zero, succeeded: 2, total: 3 })).toBe("3 runs: 2 succeeded, 1 other");
  });
  it("says so when there are none", () => {
    expect(runCountsText(zero)).toBe("No runs yet");
  });
});

describe("watchingText", () => {
  const area = { enabled: true, status: "on", baselined: true, seen_items: 12, webhook_url: null, action: { service: "rss" } };
  it("says how many existing items a polled area recorded and that the next new one fires", () => {
    expect(watchingText(area)).toBe("Watching — 12 existing items recorded; the next new one fires.");
    expect(watchingText({ ...area, seen_items: 1 })).toBe("Watching — 1 existing item recorded; the next new one fires.");
    expect(watchingText({ ...area, baselined: false })).toMatch(/checking for the first time/i);
  });
  it("webhook, timer and switched-off areas say what they wait for", () => {
    expect(watchingText({ ...area, webhook_url: "http://127.0.0.1:8787/hooks/t" })).toMatch(/first event/);
    expect(watchingText({ ...area, action: { service: "timer" } })).toMatch(/next scheduled time/);
    expect(watchingText({ ...area, enabled: false })).toBe("No runs yet.");
  });
});

describe("splitDetail", () => {
  it("puts an upstream's raw body behind the sentence", () => {
    expect(splitDetail('Reaction 1 (Send an HTTP request): http answered HTTP 400: {"error": "bad"}')).toEqual({
      summary: "Reaction 1 (Send an HTTP request): http answered HTTP 400",
      detail: '{"error": "bad"}',
    });
    expect(splitDetail("the feed answered: <html><body>503</body></html>").detail).toBe("<html><body>503</body></html>");
  });
  it("keeps short messages whole and cuts long ones", () => {
    expect(splitDetail("Connection refused")).toEqual({ summary: "Connection refused", detail: "" });
    const long = "x".repeat(300);
    expect(splitDetail(long).summary.length).toBeLessThan(200);
    expect(splitDetail(long).detail).toBe(long);
  });
});

describe("quotaText", () => {
  it("says what the areas plan of the quota, with thousands separated", () => {
    expect(quotaText({ planned: 720, limit: 1000, window: "day", counted_per: "per PRIM token", areas: 1 })).toBe(
      "Planned: 720 of 1,000 calls a day per PRIM token (1 area)",
    );
    expect(quotaText({ planned: 3000, limit: 3000, window: "hour", counted_per: "per key", areas: 2 })).toBe(
      "Planned: 3,000 of 3,000 calls an hour per key (2 areas)",
    );
  });
});

