import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import ServerAccount from "./ServerAccount.svelte";
import type { ServerLink } from "../lib/httpTransport";

/** A fake server behind the link: tokens in memory, invitations counted. */
function fakeServer(administrator: boolean) {
  const tokens: { id: number; name: string; created_at: number; last_used_at: number | null }[] = [];
  const calls: string[] = [];
  const link: ServerLink = {
    administrator: () => administrator,
    request: async (method, path, body) => {
      calls.push(`${method} ${path}`);
      if (method === "GET" && path === "/api/tokens") return [...tokens];
      if (method === "POST" && path === "/api/tokens") {
        const name = (body as { name: string }).name;
        tokens.push({ id: tokens.length + 1, name, created_at: 1_800_000_000, last_used_at: null });
        return { token: tokens[tokens.length - 1], secret: "area_pat_s3cret" };
      }
      if (method === "DELETE" && path.startsWith("/api/tokens/")) {
        tokens.splice(tokens.findIndex((t) => `/api/tokens/${t.id}` === path), 1);
        return null;
      }
      if (method === "POST" && path === "/api/invites") return { code: "c0de" };
      throw { code: "not_found", message: `no ${path}`, field: null };
    },
  };
  return { link, calls, tokens };
}

describe("the Account page of a server", () => {
  test("the administrator creates an invitation link for this server", async () => {
    const { link } = fakeServer(true);
    const user = userEvent.setup();
    render(ServerAccount, { props: { server: link } });
    await user.click(await screen.findByTestId("invite-create"));
    const shown = (await screen.findByTestId("invite-link")) as HTMLInputElement;
    expect(shown.value).toBe(`${window.location.origin}/?invite=c0de`);
  });

  test("others see no invitations, and manage their tokens: the secret shown once, revoked from the list", async () => {
    const { link, tokens, calls } = fakeServer(false);
    const user = userEvent.setup();
    render(ServerAccount, { props: { server: link } });
    await screen.findByTestId("tokens-empty");
    expect(screen.queryByTestId("invite-card")).toBeNull();
    await user.type(screen.getByTestId("token-name"), "backup script");
    await user.click(screen.getByTestId("token-create"));
    expect(((await screen.findByTestId("token-secret")) as HTMLInputElement).value).toBe("area_pat_s3cret");
    await waitFor(() => expect(screen.getAllByTestId("token-row")).toHaveLength(1));
    await user.click(screen.getByTestId("token-revoke-1"));
    await screen.findByTestId("tokens-empty");
    expect(tokens).toHaveLength(0);
    expect(calls).toContain("DELETE /api/tokens/1");
  });
});
