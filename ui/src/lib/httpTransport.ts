// The browser transport. In the desktop app the generated bindings call Rust through Tauri's
// IPC (`window.__TAURI_INTERNALS__`). A page served by `area serve` has no Tauri, so this module
// installs the same IPC entry points over HTTP: commands become `POST /api/invoke/<command>`,
// the session commands use the cookie routes (`/api/login`, `/api/signup`, `/api/logout`,
// `/api/session`), connecting through a provider navigates to it (`/api/oauth/begin`), and
// the change event arrives as server-sent events from `/api/events`.
// Every screen then runs unchanged in both shells: one API, two transports.
import type { ApiError } from "./api";

type Callback = (data: unknown) => void;

/** What the transport needs from an EventSource (a fake one in tests). */
export interface EventStream {
  addEventListener(type: string, listener: (e: { data: string }) => void): void;
  close(): void;
}

export interface TransportOptions {
  fetch?: typeof fetch;
  openEvents?: (url: string) => EventStream;
  /** The page's query string: `?invite=CODE` is the invitation an administrator shares. */
  search?: string;
  /** Leaves the page for another address (the provider's authorization page). */
  navigate?: (url: string) => void;
}

interface Internals {
  invoke: (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;
  transformCallback: (cb: Callback, once?: boolean) => number;
  unregisterCallback: (id: number) => void;
}

type Target = {
  __TAURI_INTERNALS__?: Internals;
  __TAURI_EVENT_PLUGIN_INTERNALS__?: { unregisterListener: (event: string, id: number) => void };
};

/** The header the server requires, with the session's token, on every request that changes data. */
const CSRF_HEADER = "x-csrf-token";

/** What only a page served by `area serve` has: the server's own routes, and who administers it. */
export interface ServerLink {
  /** A request to the server's API with the session's CSRF token; throws the server's ApiError. */
  request: (method: string, path: string, body?: unknown) => Promise<unknown>;
  /** Whether the signed-in user administers the server (may invite people, pause everyone). */
  administrator: () => boolean;
}

let link: ServerLink | null = null;

/** The server this page talks to, or `null` in the desktop app. */
export function serverLink(): ServerLink | null {
  return link;
}

/**
 * Installs the HTTP transport on `win` unless Tauri is there already; says whether it did.
 */
export function installHttpTransport(win: object = window, options: TransportOptions = {}): boolean {
  const target = win as Target;
  if (target.__TAURI_INTERNALS__) return false;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const openEvents = options.openEvents ?? ((url: string) => new EventSource(url) as unknown as EventStream);
  const navigate = options.navigate ?? ((url: string) => window.location.assign(url));
  const invite = new URLSearchParams(options.search ?? globalThis.location?.search ?? "").get("invite");

  let csrf: string | null = null;
  let administrator = false;
  let nextId = 1;
  const callbacks = new Map<number, Callback>();
  const listeners = new Map<string, number[]>();
  let stream: EventStream | null = null;

  async function request(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (method !== "GET" && csrf) headers[CSRF_HEADER] = csrf;
    let response: Response;
    try {
      response = await doFetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw { code: "internal", message: `Cannot reach the Area server (${reason}): check your connection.`, field: null };
    }
    const text = await response.text();
    const value: unknown = text ? JSON.parse(text) : null;
    if (!response.ok) throw asApiError(value, response.status);
    return value;
  }

  function signedIn(answer: unknown): unknown {
    const session = answer as { user: unknown; csrf_token: string | null; administrator?: boolean };
    csrf = session.csrf_token;
    administrator = session.administrator === true;
    listenToChanges();
    return session.user;
  }

  function listenToChanges() {
    if (stream || !listeners.size) return;
    stream = openEvents("/api/events");
    stream.addEventListener("app-event", (e) => {
      const payload: unknown = JSON.parse(e.data);
      for (const id of listeners.get("app-event") ?? []) callbacks.get(id)?.({ event: "app-event", id, payload });
    });
  }

  async function invoke(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    switch (cmd) {
      case "plugin:event|listen": {
        const event = String(args.event);
        const handler = Number(args.handler);
        listeners.set(event, [...(listeners.get(event) ?? []), handler]);
        if (csrf !== null) listenToChanges();
        return handler;
      }
      case "plugin:event|unlisten":
        removeListener(String(args.event), Number(args.eventId));
        return null;
      case "session_user":
        try {
          return signedIn(await request("GET", "/api/session"));
        } catch (e) {
          if ((e as ApiError).code === "auth") return null;
          throw e;
        }
      case "sign_in":
        return signedIn(await request("POST", "/api/login", { email: args.email, password: args.password }));
      case "sign_up":
        return signedIn(await request("POST", "/api/signup", { email: args.email, password: args.password, invite }));
      case "sign_out":
        await request("POST", "/api/logout");
        csrf = null;
        stream?.close();
        stream = null;
        return null;
      case "connect_oauth": {
        // The desktop waits for its own browser; a page goes to the provider itself, which sends
        // it back to the server's /oauth/callback, which returns to the app with the connection.
        const { url } = (await request("POST", "/api/oauth/begin", { service: args.service })) as { url: string };
        navigate(url);
        return new Promise<never>(() => {});
      }
      case "sign_in_with": {
        const { url } = (await request("POST", "/api/signin/begin", { provider: args.provider, invite })) as { url: string };
        navigate(url);
        return new Promise<never>(() => {});
      }
      default:
        return request("POST", `/api/invoke/${encodeURIComponent(cmd)}`, args);
    }
  }

  function removeListener(event: string, id: number) {
    listeners.set(
      event,
      (listeners.get(event) ?? []).filter((h) => h !== id),
    );
  }

  target.__TAURI_INTERNALS__ = {
    invoke,
    transformCallback(cb: Callback, once = false) {
      const id = nextId++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        cb(data);
      });
      return id;
    },
    unregisterCallback(id: number) {
      callbacks.delete(id);
    },
  };
  target.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener: removeListener };
  link = { request, administrator: () => administrator };
  return true;
}

/** The server's error body, or one that says what the status means when the body is not one. */
function asApiError(value: unknown, status: number): ApiError {
  if (value && typeof value === "object" && "code" in value && "message" in value) return value as ApiError;
  return { code: status === 401 ? "auth" : "internal", message: `The Area server answered ${status}.`, field: null };
}
