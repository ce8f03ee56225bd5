import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import { apiError, fakeCore } from "../test/fakeCore";

const me = { id: 1, email: "me@example.com", created_at: 0 };

describe("the first screen", () => {
  test("signed in, it asks the core once before it reports itself interactive", async () => {
    const core = fakeCore({ session_user: () => me });
    render(App);
    await screen.findByTestId("app-ready");
    await waitFor(() => expect(core.called("ui_ready")).toHaveLength(1));
    const before = core.calls.slice(0, core.calls.findIndex((c) => c.cmd === "ui_ready")).map((c) => c.cmd);
    // The shell's own loads (areas, services…) run beside; the first screen waited for one call.
    const startup = ["startup_error", "session_user", "has_accounts"];
    expect(before.filter((cmd) => startup.includes(cmd))).toEqual(["session_user"]);
  });

  test("when the core could not open, the window says why", async () => {
    const core = fakeCore({
      // What the shell answers for a command whose state was never set up.
      session_user: () => {
        throw "state not managed for field `app`";
      },
      startup_error: () => apiError("internal", "the data directory is in use by another Area: quit it first"),
    });
    render(App);
    await waitFor(() => expect(screen.getByRole("status").textContent).toMatch(/in use by another Area/));
    expect(core.called("startup_error")).toHaveLength(1);
    expect(screen.queryByTestId("app-ready")).toBeNull();
  });

  test("signed out, it still asks whether any account exists", async () => {
    const core = fakeCore({
      session_user: () => {
        throw apiError("auth", "not signed in");
      },
      has_accounts: () => true,
    });
    render(App);
    await screen.findByTestId("auth-email");
    expect(core.called("startup_error")).toHaveLength(0);
    expect(core.called("has_accounts")).toHaveLength(1);
  });
});
