// Formatting helpers: relative times, durations, statuses.

// Built on first use, not when the module loads: creating it loads the locale's ICU data
// (about 10 ms in WebKitGTK), which the first screen does not need before it is interactive.
let rtf: Intl.RelativeTimeFormat | null | undefined;
function relativeFormat(): Intl.RelativeTimeFormat | null {
  if (rtf === undefined) {
    rtf = typeof Intl !== "undefined" && "RelativeTimeFormat" in Intl ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  }
  return rtf;
}

/** "in 3 min", "2 h ago", from Unix milliseconds. */
export function relativeTime(ms: number, now = Date.now()): string {
  const diff = ms - now;
  const abs = Math.abs(diff);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["day", 86_400_000],
    ["hour", 3_600_000],
    ["minute", 60_000],
    ["second", 1000],
  ];
  if (abs < 10_000) return diff >= 0 ? "in a few seconds" : "just now";
  for (const [unit, size] of units) {
    if (abs >= size || unit === "second") {
      const v = Math.round(diff / size);
      const format = relativeFormat();
      return format ? format.format(v, unit) : `${v} ${unit}s`;
    }
  }
  return new Date(ms).toLocaleString();
}

export function absoluteTime(ms: number): string {
  return new Date(ms).toLocaleString();
}

export function duration(ms: number | null): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function intervalText(secs: number): string {
  if (secs % 3600 === 0) return `${secs / 3600} h`;
  if (secs % 60 === 0) return `${secs / 60} min`;
  return `${secs} s`;
}

export const RUN_STATUS_LABEL: Record<string, string> = {
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  skipped: "Skipped",
  unknown_outcome: "Unknown outcome",
};

export function runStatusLabel(s: string): string {
  return RUN_STATUS_LABEL[s] ?? s;
}

/** RFC 3339 (any offset) → the value of an <input type="datetime-local"> in local time. */
export function rfc3339ToLocalInput(v: string): string {
  if (!v) return "";
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** <input type="datetime-local"> value (local time) → RFC 3339 in UTC. */
export function localInputToRfc3339(v: string): string {
  if (!v) return "";
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return v;
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Parses a RunRecord's ingredients (JSON text or already an object) into display pairs. */
export function ingredientPairs(raw: unknown): [string, string][] {
  let v: unknown = raw;
  if (typeof raw === "string") {
    if (!raw.trim()) return [];
    try {
      v = JSON.parse(raw);
    } catch {
      return [["value", raw]];
    }
  }
  if (v && typeof v === "object" && !Array.isArray(v)) {
    return Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, typeof x === "string" ? x : JSON.stringify(x)]);
  }
  if (v === null || v === undefined) return [];
  return [["value", JSON.stringify(v)]];
}

/** Ingredients that name the item a run is about, most telling first. */
const TITLE_KEYS = ["title", "name", "subject", "summary", "text", "message", "content", "body"];

/**
 * The item a run is about (its title, name or subject), on one line and cut to `max` characters,
 * so the history lists items rather than only the area; "" when the event names none.
 */
export function runItemTitle(raw: unknown, max = 80): string {
  const pairs = new Map(ingredientPairs(raw));
  for (const key of TITLE_KEYS) {
    const text = pairs.get(key)?.replace(/\s+/g, " ").trim();
    if (text) return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  }
  return "";
}

/**
 * A core message made for the desktop: the CLI hint "run `area connect github`" becomes "reconnect
 * GitHub on the Services page", and service ids ("the github connection") become their names.
 */
export function desktopMessage(
  text: string,
  nameOf: (id: string) => string = (id) => id,
  reactionName: (service: string, id: string) => string | undefined = () => undefined,
): string {
  let t = text
    // "http.request (reaction 0): …" → "Send an HTTP request: …" (the engine's step prefix)
    .replace(/^([a-z][\w-]*)\.([a-z][\w-]*) \(reaction (\d+)\): /, (_m, svc: string, id: string, n: string) => {
      const name = reactionName(svc, id) ?? `${nameOf(svc)} ${id.replace(/_/g, " ")}`;
      return Number(n) > 0 ? `${name} (reaction ${Number(n) + 1}): ` : `${name}: `;
    })
    .replace(/\s*\(run `area connect ([\w-]+)`\)/g, (_m, id: string) => ` (reconnect ${nameOf(id)} on the Services page)`)
    .replace(/([:;,]?)\s*run `area connect ([\w-]+)`/g, (_m, sep: string, id: string) => `${sep || ":"} reconnect ${nameOf(id)} on the Services page`)
    .replace(/\b(the|no) ([a-z][\w-]*) (connection|access)\b/g, (_m, w: string, id: string, what: string) => `${w} ${nameOf(id)} ${what}`);
  return capitalized(t.trim());
}

/** Text as the start of a sentence: its first letter upper-case (core's messages start lower-case). */
export function capitalized(text: string): string {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

const OP_LABELS: Record<string, string> = {
  equals: "equals",
  not_equals: "does not equal",
  contains: "contains",
  not_contains: "does not contain",
  greater_than: "is greater than",
  less_than: "is less than",
  matches: "matches",
};

/** A condition in words: `title contains “rust” and not (…)`. */
export function conditionText(c: unknown): string {
  if (!c || typeof c !== "object") return String(c ?? "");
  const o = c as Record<string, unknown>;
  if (Array.isArray(o.all)) return o.all.map((x) => wrap(x)).join(" and ");
  if (Array.isArray(o.any)) return o.any.map((x) => wrap(x)).join(" or ");
  if ("not" in o) return `not ${wrap(o.not)}`;
  if (typeof o.ingredient === "string") {
    const v = typeof o.value === "string" ? o.value : JSON.stringify(o.value);
    return `${o.ingredient} ${OP_LABELS[String(o.op)] ?? String(o.op)} “${v}”`;
  }
  return JSON.stringify(c);
}
function wrap(c: unknown): string {
  const o = c as Record<string, unknown> | null;
  const simple = !!o && typeof o === "object" && typeof o.ingredient === "string";
  return simple ? conditionText(c) : `(${conditionText(c)})`;
}

/** Run counts by status, as the area detail shows them. */
export type RunTally = {
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  skipped: number;
  unknown_outcome: number;
  total: number;
};

/**
 * The runs of an area in words whose parts add up to the total ("3 runs: 1 succeeded, 2 skipped"),
 * naming only the statuses that occur; runs beyond the listed statuses count as "other".
 */
export function runCountsText(c: RunTally): string {
  if (c.total === 0) return "No runs yet";
  const parts: [number, string][] = [
    [c.succeeded, "succeeded"],
    [c.failed, "failed"],
    [c.skipped, "skipped"],
    [c.queued, "waiting"],
    [c.running, "running"],
    [c.unknown_outcome, "outcome unknown"],
  ];
  const listed = parts.reduce((n, [k]) => n + k, 0);
  if (c.total > listed) parts.push([c.total - listed, "other"]);
  const shown = parts.filter(([n]) => n > 0).map(([n, label]) => `${n} ${label}`);
  return `${c.total} run${c.total === 1 ? "" : "s"}: ${shown.join(", ")}`;
}

/** What an area with no runs yet is doing, read from its detail. */
export type WatchState = {
  enabled: boolean;
  status: string;
  baselined: boolean;
  seen_items: number;
  webhook_url: string | null;
  action: { service: string };
};

/**
 * Why an area has no runs yet, so silence after Save is explained: a polled area says how many
 * existing items it recorded (they never fire) and that the next new one will.
 */
export function watchingText(d: WatchState): string {
  if (!d.enabled || d.status !== "on") return "No runs yet.";
  if (d.webhook_url) return "Waiting for the first event at the webhook address above.";
  if (d.action.service === "timer") return "Waiting for the next scheduled time.";
  if (!d.baselined) return "Checking for the first time: what exists now is recorded and does not fire.";
  const n = d.seen_items;
  return `Watching — ${n} existing item${n === 1 ? "" : "s"} recorded; the next new one fires.`;
}

/**
 * An error for people: the sentence, and the upstream's raw answer (a JSON or HTML body, or a
 * very long text) apart, for a Details toggle — "GitHub answered HTTP 400" reads first.
 */
export function splitDetail(message: string, max = 200): { summary: string; detail: string } {
  const raw = /:\s*([{[<])/.exec(message);
  if (raw && raw.index > 0) {
    return { summary: message.slice(0, raw.index).trim(), detail: message.slice(raw.index + 1).trim() };
  }
  if (message.length > max) return { summary: `${message.slice(0, max - 40).trimEnd()}…`, detail: message };
  return { summary: message, detail: "" };
}

/** What the enabled areas plan of a service's quota, as the core counts it (`QuotaUse`). */
export type QuotaPlan = { planned: number; limit: number; window: "hour" | "day" | "month"; counted_per: string; areas: number };

/** "Planned: 720 of 1,000 calls a day per PRIM token (1 area)". */
export function quotaText(q: QuotaPlan): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const areas = `${q.areas} area${q.areas === 1 ? "" : "s"}`;
  const per = { hour: "an hour", day: "a day", month: "a month" }[q.window];
  return `Planned: ${n(q.planned)} of ${n(q.limit)} calls ${per} ${q.counted_per} (${areas})`;
}
