import { describe, expect, test } from "vitest";
import { render, screen } from "@testing-library/svelte";
import RunList from "./RunList.svelte";
import { fakeCore } from "../test/fakeCore";
import type { RunRecord } from "../lib/api";

const run = (over: Partial<RunRecord>): RunRecord =>
  ({
    id: 1,
    area_id: 7,
    area_name: "Releases to chat",
    event_key: "k",
    status: "succeeded",
    attempts: 1,
    created_at: Date.now(),
    started_at: null,
    finished_at: null,
    duration_ms: 120,
    next_attempt_at: null,
    error: null,
    summary: null,
    ingredients: "{}",
    ...over,
  }) as RunRecord;

describe("run history", () => {
  test("each run names its item, and a skipped run says why", async () => {
    fakeCore();
    render(RunList, {
      props: {
        runs: [
          run({ id: 2, status: "skipped", summary: 'skipped: title does not contain "Release" (it is "Weekly notes")', ingredients: '{"title": "Weekly notes"}' }),
          run({ id: 1, ingredients: '{"title": "Release 2.0", "url": "https://example.com"}' }),
        ],
      },
    });
    const rows = await screen.findAllByTestId("run-row");
    expect(rows.map((r) => r.querySelector("[data-testid=run-item]")?.textContent)).toEqual(["Weekly notes", "Release 2.0"]);
    expect(rows[0].querySelector("[data-testid=run-summary]")?.textContent).toBe(
      'Skipped: title does not contain "Release" (it is "Weekly notes")',
    );
  });
});
