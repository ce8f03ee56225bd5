// A small fake of the Rust core behind mockIPC: a four-service catalog and recorded calls.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { ApiError, ErrorCode, ServiceEntry, ConnectionInfo, AreaSummary, AreaForm, Recipe } from "../lib/api";

const text = (id: string, label: string, extra: Partial<Record<string, unknown>> = {}) => ({
  id,
  label,
  help: `${label} help`,
  type: "string",
  required: false,
  default: null,
  templated: false,
  ...extra,
});

export const FAKE_SERVICES = [
  {
    manifest: {
      id: "rss",
      name: "RSS feeds",
      description: "Watch a feed",
      auth: "none",
      oauth: null,
      availability: { status: "available" },
      actions: [
        {
          id: "new_item",
          name: "New feed item",
          description: "Fires on a new entry",
          params: [text("url", "Feed URL", { type: "url", required: true })],
          ingredients: [
            { id: "title", description: "The entry's title", example: "Announcing Rust 1.85.0" },
            { id: "link", description: "Link to the entry", example: "https://blog.rust-lang.org/x" },
          ],
          dynamic_ingredients: false,
          min_interval_secs: 60,
        },
      ],
      reactions: [],
    },
    connection_id: null,
    sample_actions: ["new_item"],
    // not the real default: shows the wizard takes the core's figure, not its own
    default_intervals: [{ action: "new_item", secs: 420 }],
    checks_token: false,
  },
  {
    manifest: {
      id: "notify",
      name: "Notifications",
      description: "Show a notification",
      auth: "none",
      oauth: null,
      availability: { status: "available" },
      actions: [],
      reactions: [
        {
          id: "send",
          name: "Show a notification",
          description: "Shows a notification",
          params: [text("title", "Title", { required: true, templated: true }), text("body", "Message", { templated: true, default: "" })],
        },
      ],
    },
    connection_id: null,
    sample_actions: [],
    default_intervals: [],
    checks_token: false,
  },
  {
    manifest: {
      id: "http",
      name: "HTTP",
      description: "Talk to any web API",
      auth: "none",
      oauth: null,
      availability: { status: "available" },
      actions: [],
      reactions: [
        {
          id: "request",
          name: "Send an HTTP request",
          description: "Sends a request",
          params: [
            { ...text("method", "Method"), type: "enum", choices: ["GET", "POST"], default: "POST" },
            text("url", "URL", { type: "url", required: true, templated: true }),
            text("body", "Body", { templated: true }),
          ],
        },
      ],
    },
    connection_id: null,
    sample_actions: [],
    default_intervals: [],
    checks_token: false,
  },
  {
    manifest: {
      id: "github",
      name: "GitHub",
      description: "Issues and releases",
      auth: "api_key",
      oauth: null,
      availability: { status: "available" },
      actions: [
        {
          id: "new_issue",
          name: "New issue",
          description: "Fires on a new issue",
          params: [text("repo", "Repository", { required: true })],
          ingredients: [{ id: "title", description: "Issue title", example: "Crash" }],
          dynamic_ingredients: false,
          min_interval_secs: 60,
        },
      ],
      reactions: [],
    },
    connection_id: "github",
    sample_actions: [],
    default_intervals: [{ action: "new_issue", secs: 300 }],
    checks_token: true,
  },
  {
    manifest: {
      id: "thunderbird",
      name: "Thunderbird",
      description: "Mail client",
      auth: "none",
      oauth: null,
      availability: { status: "unavailable", reason: "no web API" },
      actions: [],
      reactions: [],
    },
    connection_id: null,
    sample_actions: [],
    default_intervals: [],
    checks_token: false,
  },
] as unknown as ServiceEntry[];

export type Call = { cmd: string; args: Record<string, unknown> };
type Handler = (args: Record<string, unknown>) => unknown;

/** Installs the fake core; `overrides` replace single commands (throw/reject an ApiError to fail). */
/** Two recipes over the fake services: one open field in the trigger, one in the reaction. */
export const FAKE_RECIPES = [
  {
    id: "rss-to-notification",
    title: "New blog post → notification",
    description: "A desktop notification for each new post.",
    form: {
      name: "New blog post → notification",
      action: { service: "rss", id: "new_item", params: { url: "" } },
      reactions: [{ service: "notify", id: "send", params: { title: "{{ title }}" } }],
      condition: null,
      enabled: true,
      interval_secs: null,
      allow_private_network: false,
    },
    asks: [{ field: "action.params.url", example: "https://blog.rust-lang.org/feed.xml" }],
    services: ["rss", "notify"],
  },
  {
    id: "github-issue-to-notification",
    title: "New GitHub issue → notification",
    description: "A notification for each new issue.",
    form: {
      name: "New GitHub issue → notification",
      action: { service: "github", id: "new_issue", params: { repo: "" } },
      reactions: [{ service: "notify", id: "send", params: { title: "New issue: {{ title }}" } }],
      condition: null,
      enabled: true,
      interval_secs: null,
      allow_private_network: false,
    },
    asks: [{ field: "action.params.repo", example: "octocat/hello-world" }],
    services: ["github", "notify"],
  },
] as Recipe[];

export function fakeCore(overrides: Record<string, Handler> = {}) {
  const calls: Call[] = [];
  const connections: ConnectionInfo[] = [];
  let nextId = 1;
  const summary = (form: AreaForm): AreaSummary => ({
    id: nextId++,
    name: form.name,
    enabled: form.enabled,
    status: form.enabled ? "on" : "off",
    paused_reason: null,
    paused_cause: null,
    action: { service: form.action.service, id: form.action.id },
    reactions: form.reactions.map((r) => ({ service: r.service, id: r.id })),
    summary: "",
    interval_secs: 300,
    created_at: 0,
    updated_at: 0,
  });
  const handlers: Record<string, Handler> = {
    session_user: () => null,
    // A fresh install: no account on this device yet (tests of sign-in override it with true).
    has_accounts: () => false,
    startup_error: () => null,
    ui_ready: () => null,
    app_version: () => "0.1.0",
    data_dir: () => "/tmp/area-test",
    services: () => FAKE_SERVICES,
    recipes: () => FAKE_RECIPES,
    connections: () => connections,
    connect_token: (a) => {
      const c = { connection_id: String(a.service), kind: "api_key", account_label: null, status: "ok", reason: null, expires_at: null, planned: null };
      connections.push(c);
      return c;
    },
    areas: () => [],
    runs: () => [],
    validate_area: () => null,
    read_condition: (a) => {
      try {
        return JSON.parse(String(a.text));
      } catch {
        throw apiError("invalid", "the condition is not valid JSON (fake core)", "condition");
      }
    },
    create_area: (a) => summary(a.form as AreaForm),
    autostart_status: () => ({ supported: true, enabled: false, command: null, note: null, suggest: false }),
    engine_status: () => ({ running: true, paused: false, error: null, webhook_base: "http://127.0.0.1:8787" }),
    sample_event: () => ({ ingredients: [{ id: "title", value: "Sampled title" }, { id: "link", value: "https://example.org/s" }], items: 3 }),
    area: () => {
      throw apiError("not_found", "area 1 does not exist");
    },
    ...overrides,
  };
  mockIPC(
    async (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args });
      const h = handlers[cmd];
      if (!h) throw apiError("internal", `fake core has no command ${cmd}`);
      return h(args);
    },
    { shouldMockEvents: true },
  );
  return { calls, connections, called: (cmd: string) => calls.filter((c) => c.cmd === cmd) };
}

export function apiError(code: ErrorCode, message: string, field: string | null = null): ApiError {
  return { code, message, field };
}
