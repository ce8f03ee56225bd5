import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import App from "../App.svelte";
import { apiError, fakeCore } from "../test/fakeCore";

describe("auth screen", () => {
  test("a wrong password shows the core's message and stays on the sign-in screen", async () => {
    const core = fakeCore({
      has_accounts: () => true,
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

describe("first run: create your account", () => {
  test("with no account on this device, the screen opens on account creation with the password rule", async () => {
    fakeCore({ has_accounts: () => false });
    render(App);
    expect(await screen.findByRole("heading", { name: /create your account/i })).toBeTruthy();
    expect(screen.getByTestId("auth-signup")).toBeTruthy();
    // Sign-in is one click away, not the submit button of this screen.
    expect(screen.queryByTestId("auth-signin")).toBeNull();
    expect(screen.getByTestId("auth-to-signin")).toBeTruthy();
    // The rule is core's (MIN_PASSWORD_CHARS = 8), stated before any attempt, tied to the field.
    const password = screen.getByTestId("auth-password");
    const rule = screen.getByTestId("auth-password-rule");
    expect(rule.textContent).toMatch(/at least 8 characters/i);
    expect(password.getAttribute("aria-describedby") ?? "").toContain(rule.id);
    expect(password.getAttribute("autocomplete")).toBe("new-password");
  });

  test("with an account on this device, the screen opens on sign-in and offers account creation", async () => {
    fakeCore({ has_accounts: () => true });
    const user = userEvent.setup();
    render(App);
    expect(await screen.findByRole("heading", { name: /sign in/i })).toBeTruthy();
    expect(screen.getByTestId("auth-signin")).toBeTruthy();
    expect(screen.queryByTestId("auth-signup")).toBeNull();
    expect(screen.getByTestId("auth-password").getAttribute("autocomplete")).toBe("current-password");
    await user.click(screen.getByTestId("auth-to-signup"));
    expect(await screen.findByRole("heading", { name: /create your account/i })).toBeTruthy();
    expect(screen.getByTestId("auth-signup")).toBeTruthy();
  });

  test("when the core cannot say whether an account exists, the screen opens on sign-in", async () => {
    fakeCore({
      has_accounts: () => {
        throw "command has_accounts not found";
      },
    });
    render(App);
    expect(await screen.findByTestId("auth-signin")).toBeTruthy();
  });

  test("a password the core refuses shows its message next to the password field", async () => {
    const core = fakeCore({
      has_accounts: () => false,
      sign_up: () => {
        throw apiError("invalid", "password too short: use at least 8 characters", "password");
      },
    });
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId("auth-email"), "new@example.com");
    await user.type(screen.getByTestId("auth-password"), "short");
    await user.click(screen.getByTestId("auth-signup"));
    await waitFor(() => expect(core.called("sign_up")).toHaveLength(1));
    const err = await screen.findByTestId("auth-password-error");
    expect(err.textContent).toMatch(/use at least 8 characters/i);
    const password = screen.getByTestId("auth-password");
    expect(password.getAttribute("aria-invalid")).toBe("true");
    expect(password.getAttribute("aria-describedby") ?? "").toContain(err.id);
    // Next to the field, not (also) in the general line, and not on the email field.
    expect(screen.getByTestId("auth-error").textContent).toBe("");
    expect(screen.queryByTestId("auth-email-error")).toBeNull();
    expect(screen.getByTestId("auth-email").getAttribute("aria-invalid")).not.toBe("true");
  });

  test("an email already taken shows next to the email field; editing it clears the error", async () => {
    fakeCore({
      has_accounts: () => false,
      sign_up: () => {
        throw apiError("conflict", "an account for a@example.com already exists: log in, or choose another email", "email");
      },
    });
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId("auth-email"), "a@example.com");
    await user.type(screen.getByTestId("auth-password"), "long enough password");
    await user.click(screen.getByTestId("auth-signup"));
    const err = await screen.findByTestId("auth-email-error");
    expect(err.textContent).toMatch(/already exists/i);
    expect(screen.getByTestId("auth-email").getAttribute("aria-invalid")).toBe("true");
    await user.type(screen.getByTestId("auth-email"), "m");
    expect(screen.queryByTestId("auth-email-error")).toBeNull();
  });

  test("empty fields are flagged on the field itself, without calling the core", async () => {
    const core = fakeCore({ has_accounts: () => false });
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("auth-signup"));
    expect((await screen.findByTestId("auth-email-error")).textContent).toMatch(/enter your email/i);
    expect(screen.getByTestId("auth-password-error").textContent).toMatch(/enter a password/i);
    expect(core.called("sign_up")).toHaveLength(0);
  });
});
