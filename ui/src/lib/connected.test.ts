import { describe, expect, test } from "vitest";
import { connectedMessage } from "./connected";
import type { ConnectionInfo, ServiceEntry } from "./api";

const entry = (auth: string, checks_token: boolean) =>
  ({ manifest: { id: "svc", name: "GitHub", auth }, checks_token }) as unknown as ServiceEntry;
const info = (account_label: string | null) =>
  ({ connection_id: "svc", kind: "api_key", account_label, status: "ok", reason: null, expires_at: null }) as ConnectionInfo;

describe("the message after connecting", () => {
  test("names the account a checked token belongs to", () => {
    expect(connectedMessage(entry("api_key", true), info("octocat"))).toBe("GitHub connected as octocat");
  });
  test("says plainly when a token could not be checked", () => {
    expect(connectedMessage(entry("api_key", false), info(null))).toMatch(/saved, not checked/);
  });
  test("an OAuth connection is connected, with its account when known", () => {
    expect(connectedMessage(entry("o_auth2", false), info(null))).toBe("GitHub connected");
    expect(connectedMessage(entry("o_auth2", false), info("ada@example.com"))).toBe("GitHub connected as ada@example.com");
  });
});
