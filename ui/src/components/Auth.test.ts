import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import App from "../App.svelte";
import { apiError, fakeCore } from "../test/fakeCore";

describe("auth screen", () => {
  test("a wrong password shows the core's message and stays on the sign-in screen", async () => {
    const core = fakeCore({
      sign_in: () => {
        throw apiError("auth", "wrong email or password");
      },
    });
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId("auth-email"), "me@example.com");
    await user.type(screen.getByTestId("auth-password"), "nope");
    await user.click(screen.getByTestId("auth-signin"));
    await waitFor(() => expect(screen.getByTestId("auth-error").textContent).toMatch(/wrong email or password/i));
    expect(core.called("sign_in")[0].args).toEqual({ email: "me@example.com", password: "nope" });
    expect(screen.queryByTestId("app-ready")).toBeNull();
  });

  test("a provider sign-in branches on the error code, not on its words", async () => {
    let code: "cancelled" | "oauth" = "cancelled";
    const core = fakeCore({
      sign_in_with: () => {
        throw apiError(code, code === "cancelled" ? "the connection was cancelled" : "GitHub cancelled nothing: access denied");
      },
    });
    const user = userEvent.setup();
    render(App);
    const github = () => screen.findByRole("button", { name: /continue with github/i });
    await user.click(await github());
    await waitFor(() => expect(core.called("sign_in_with")).toHaveLength(1));
    await github();
    expect(screen.getByTestId("auth-error").textContent).toBe("");
    code = "oauth";
    await user.click(await github());
    await waitFor(() => expect(screen.getByTestId("auth-error").textContent).toMatch(/access denied/i));
  });

  test("signing up shows the app shell", async () => {
    const core = fakeCore({ sign_up: (a) => ({ id: 1, email: a.email, created_at: 0 }) });
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId("auth-email"), "new@example.com");
    await user.type(screen.getByTestId("auth-password"), "correct horse battery staple");
    await user.click(screen.getByTestId("auth-signup"));
    await screen.findByTestId("app-ready");
    expect(core.called("sign_up")).toHaveLength(1);
    expect(await screen.findByTestId("empty-dashboard")).toBeTruthy();
  });
});
