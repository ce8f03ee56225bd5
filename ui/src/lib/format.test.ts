import { describe, expect, it } from "vitest";
import { conditionText, desktopMessage } from "./format";

const names: Record<string, string> = { github: "GitHub" };
const nameOf = (id: string) => names[id] ?? id;

describe("desktopMessage", () => {
  it("turns the CLI hint into a Services page hint and ids into names", () => {
    expect(desktopMessage("the github connection was removed: run `area connect github`", nameOf)).toBe(
      "The GitHub connection was removed: reconnect GitHub on the Services page",
    );
    expect(desktopMessage("boom (run `area connect github`)", nameOf)).toBe("Boom (reconnect GitHub on the Services page)");
    expect(desktopMessage("HTTP 400 Bad Request", nameOf)).toBe("HTTP 400 Bad Request");
    const reaction = (svc: string, id: string) => (svc === "http" && id === "request" ? "Send an HTTP request" : undefined);
    expect(desktopMessage("http.request (reaction 0): http answered HTTP 400", nameOf, reaction)).toBe(
      "Send an HTTP request: http answered HTTP 400",
    );
    expect(desktopMessage("github.create_issue (reaction 1): boom", nameOf, reaction)).toBe("GitHub create issue (reaction 2): boom");
  });
});

describe("conditionText", () => {
  it("words comparisons and combinations", () => {
    expect(conditionText({ ingredient: "title", op: "contains", value: "rust" })).toBe("title contains “rust”");
    expect(
      conditionText({ all: [{ ingredient: "a", op: "equals", value: 1 }, { not: { ingredient: "b", op: "matches", value: "x" } }] }),
    ).toBe("a equals “1” and (not b matches “x”)");
  });
});
