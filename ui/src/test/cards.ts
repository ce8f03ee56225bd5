// Dashboard cards for component tests: an RSS → notification area that is on, next checked in
// two minutes, with any field overridden.
import type { AreaCard } from "../lib/api";

export function areaCard(id: number, over: Partial<AreaCard["summary"]> = {}, rest: Partial<AreaCard> = {}): AreaCard {
  return {
    summary: {
      id,
      name: `Area ${id}`,
      enabled: true,
      status: "on",
      paused_reason: null,
      paused_cause: null,
      action: { service: "rss", id: "new_item" },
      reactions: [{ service: "notify", id: "send" }],
      summary: "",
      interval_secs: 300,
      created_at: 0,
      updated_at: 0,
      ...over,
    },
    next_check_at: Date.now() + 120_000,
    last_run: null,
    consecutive_failures: 0,
    last_error: null,
    fix: null,
    ...rest,
  };
}
