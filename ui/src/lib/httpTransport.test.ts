import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { api, ApiFailure, onAppEvent } from "./api";
import { installHttpTransport, type EventStream } from "./httpTransport";

type Call = { url: string; method: string; headers: Record<string, string>; body: unknown };

/** A fake Area server: answers by path, records what it received. */
function fakeServer(answers: Record<string, { status?: number; body: unknown }>) {
  const calls: Call[] = [];
  const fetch = async (url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const u = String(url);
    calls.push({
      url: u,
      method: init?.method ?? "GET",
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    });
    const answer = answers[u] ?? { status: 404, body: { code: "not_found", message: `no ${u}`, field: null } };
    return new Response(JSON.stringify(answer.body), { status: answer.status ?? 200 });
  };
  return { calls, fetch: fetch as typeof globalThis.fetch };
}

const ADA = { id: 1, email: "ada@example.com", created_at: 0 };

describe("the browser transport", () => {
  beforeEach(() => {
    delete (window as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__;
  });
  afterEach(() => {
    delete (window as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__;
  });

  it("leaves Tauri's own IPC alone in the desktop app", () => {
    const win = { __TAURI_INTERNALS__: { invoke: () => 1 } };
    expect(installHttpTransport(win)).toBe(false);
    expect(win.__TAURI_INTERNALS__.invoke()).toBe(1);
  });

  it("signs in through the cookie route, then sends its CSRF token with every command", async () => {
    const server = fakeServer({
      "/api/login": { body: { user: ADA, csrf_token: "c5rf", administrator: true } },
      "/api/invoke/areas": { body: [] },
      "/api/invoke/set_area_enabled": { body: { id: 7, enabled: false } },
    });
    installHttpTransport(window, { fetch: server.fetch, search: "" });
    expect(await api.signIn("ada@example.com", "pw")).toEqual(ADA);
    expect(server.calls[0]).toMatchObject({ url: "/api/login", method: "POST", body: { email: "ada@example.com", password: "pw" } });
    expect(await api.areas()).toEqual([]);
    await api.setAreaEnabled(7, false);
    const last = server.calls[2];
    expect(last).toMatchObject({ url: "/api/invoke/set_area_enabled", method: "POST", body: { id: 7, enabled: false } });
    expect(last.headers["x-csrf-token"]).toBe("c5rf");
  });

  it("turns the server's error into the same failure the desktop gets", async () => {
    const server = fakeServer({
      "/api/invoke/area": { status: 404, body: { code: "not_found", message: "no area 9", field: null } },
    });
    installHttpTransport(window, { fetch: server.fetch, search: "" });
    const failure = await api.area(9).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiFailure);
    expect((failure as ApiFailure).code).toBe("not_found");
    expect((failure as ApiFailure).message).toBe("no area 9");
  });

  it("reads no session as signed out, and says when the server cannot be reached", async () => {
    const server = fakeServer({ "/api/session": { status: 401, body: { code: "auth", message: "sign in", field: null } } });
    installHttpTransport(window, { fetch: server.fetch, search: "" });
    expect(await api.sessionUser()).toBeNull();

    delete (window as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__;
    installHttpTransport(window, { fetch: () => Promise.reject(new TypeError("Failed to fetch")), search: "" });
    const failure = (await api.connections().catch((e: unknown) => e)) as ApiFailure;
    expect(failure.code).toBe("internal");
    expect(failure.message).toMatch(/Cannot reach the Area server/);
  });

  it("signs up with the invitation in the page's address", async () => {
    const server = fakeServer({ "/api/signup": { status: 201, body: { user: ADA, csrf_token: "t", administrator: false } } });
    installHttpTransport(window, { fetch: server.fetch, search: "?invite=abc123" });
    await api.signUp("ada@example.com", "correct horse battery");
    expect(server.calls[0].body).toMatchObject({ invite: "abc123" });
  });

  it("delivers the server's change events to the app's listeners once signed in", async () => {
    const server = fakeServer({ "/api/session": { body: { user: ADA, csrf_token: "t", administrator: false } } });
    const opened: { url: string; emit: (data: string) => void }[] = [];
    const openEvents = (url: string): EventStream => {
      let handler: (e: { data: string }) => void = () => {};
      opened.push({ url, emit: (data) => handler({ data }) });
      return { addEventListener: (_type, l) => (handler = l), close: () => {} };
    };
    installHttpTransport(window, { fetch: server.fetch, openEvents, search: "" });
    const seen: unknown[] = [];
    const stop = await onAppEvent((e) => seen.push(e));
    expect(opened).toHaveLength(0);
    await api.sessionUser();
    expect(opened.map((o) => o.url)).toEqual(["/api/events"]);
    opened[0].emit(JSON.stringify({ kind: "runs" }));
    expect(seen).toEqual([{ kind: "runs" }]);
    stop();
    opened[0].emit(JSON.stringify({ kind: "areas" }));
    expect(seen).toEqual([{ kind: "runs" }]);
  });

  it("connects through a provider by sending the page to it", async () => {
    const server = fakeServer({
      "/api/oauth/begin": { body: { url: "https://accounts.example.test/authorize?state=s" } },
    });
    const went: string[] = [];
    installHttpTransport(window, { fetch: server.fetch, search: "", navigate: (url) => went.push(url) });
    void api.connectOauth("spotify", "loopback");
    await waitUntil(() => went.length > 0);
    expect(server.calls[0]).toMatchObject({ url: "/api/oauth/begin", method: "POST", body: { service: "spotify" } });
    expect(went).toEqual(["https://accounts.example.test/authorize?state=s"]);
  });
});

describe("signing in through a provider in the browser", () => {
  it("sends the page to the provider with the invitation it was opened with", async () => {
    delete (window as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__;
    const server = fakeServer({ "/api/signin/begin": { body: { url: "https://github.example/authorize?state=s" } } });
    const went: string[] = [];
    installHttpTransport(window, { fetch: server.fetch, search: "?invite=c0de", navigate: (url) => went.push(url) });
    void api.signInWith("github");
    await waitUntil(() => went.length > 0);
    expect(server.calls[0]).toMatchObject({ url: "/api/signin/begin", body: { provider: "github", invite: "c0de" } });
    expect(went).toEqual(["https://github.example/authorize?state=s"]);
    delete (window as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__;
  });
});

async function waitUntil(check: () => boolean) {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
}
