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
