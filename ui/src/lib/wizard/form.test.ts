import { describe, expect, test } from "vitest";
import { ApiFailure } from "../api";
import type { AreaForm, ParamSpec } from "../api";
import {
  buildCondition,
  checkStep,
  clearErrors,
  conditionError,
  conditionFields,
  conditionSummary,
  ingredientList,
  intervalFields,
  intervalSecs,
  paramError,
  payload,
  readAdvanced,
  requiredErrors,
  toggleAdvanced,
} from "./form";

function failure(f: () => unknown): ApiFailure {
  try {
    f();
  } catch (e) {
    if (e instanceof ApiFailure) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("the poll interval", () => {
  test("seconds show in the largest unit that divides them, and convert back", () => {
    expect(intervalFields(null)).toEqual({ value: "", unit: "min" });
    expect(intervalFields(7200)).toEqual({ value: "2", unit: "h" });
    expect(intervalFields(900)).toEqual({ value: "15", unit: "min" });
    expect(intervalFields(90)).toEqual({ value: "90", unit: "s" });
    for (const secs of [60, 90, 900, 7200]) expect(intervalSecs(intervalFields(secs))).toBe(secs);
  });

  test("a number input's number, a fraction, and an empty field", () => {
    expect(intervalSecs({ value: 15, unit: "min" })).toBe(900);
    expect(intervalSecs({ value: "1.5", unit: "h" })).toBe(5400);
    expect(intervalSecs({ value: null, unit: "h" })).toBeNull();
    expect(intervalSecs({ value: "  ", unit: "s" })).toBeNull();
  });

  test("a non-positive value names the interval field (the minimum is the core's)", () => {
    const e = failure(() => intervalSecs({ value: "-1", unit: "s" }));
    expect([e.field, e.message]).toEqual(["interval_secs", "Enter a positive number."]);
    expect(intervalSecs({ value: "5", unit: "s" })).toBe(5);
  });
});

describe("the condition editor", () => {
  test("a comparison round-trips through the simple editor", () => {
    const f = conditionFields({ ingredient: "title", op: "contains", value: "Rust" });
    expect(f).toEqual({ on: true, ingredient: "title", op: "contains", value: "Rust", advanced: false, json: expect.any(String), parsed: null });
    expect(buildCondition(f)).toEqual({ ingredient: "title", op: "contains", value: "Rust" });
    expect(conditionSummary(f)).toBe("title contains “Rust”");
  });

  test("numbers are sent as numbers for greater/less than only", () => {
    const base = conditionFields(null);
    expect(buildCondition({ ...base, on: true, ingredient: "stars", op: "greater_than", value: "10" })).toEqual({ ingredient: "stars", op: "greater_than", value: 10 });
    expect(buildCondition({ ...base, on: true, ingredient: "id", op: "equals", value: "10" })).toEqual({ ingredient: "id", op: "equals", value: "10" });
    expect(conditionFields({ ingredient: "stars", op: "less_than", value: 3 }).value).toBe("3");
  });

  test("combined conditions open in the JSON editor", () => {
    const c = { all: [{ ingredient: "a", op: "equals" as const, value: "x" }] };
    const f = conditionFields(c);
    expect(f.advanced).toBe(true);
    expect(buildCondition(f)).toEqual(c);
    expect(conditionSummary(f)).toBe("custom condition");
  });

  test("off, missing ingredient, and bad JSON", () => {
    expect(buildCondition(conditionFields(null))).toBeNull();
    expect(conditionSummary(conditionFields(null))).toBe("always");
    expect(failure(() => buildCondition({ ...conditionFields(null), on: true })).field).toBe("condition");
    const unread = { ...conditionFields(null), on: true, advanced: true, json: "{" };
    expect(failure(() => buildCondition(unread)).field).toBe("condition");
  });

  test("the JSON editor's text is read by the core, whose error names the condition", async () => {
    const c = { any: [{ ingredient: "a", op: "equals" as const, value: "x" }] };
    const f = { ...conditionFields(null), on: true, advanced: true, json: JSON.stringify(c) };
    const texts: string[] = [];
    const read = await readAdvanced(f, async (text) => (texts.push(text), c));
    expect(texts).toEqual([f.json]);
    expect(buildCondition(read)).toEqual(c);
    const refused = new ApiFailure({ code: "invalid", field: "condition", message: "the condition is not valid JSON (EOF)" });
    await expect(readAdvanced({ ...f, json: "{" }, () => Promise.reject(refused))).rejects.toBe(refused);
    // the simple editor and an unused condition need no reading
    const simple = { ...f, advanced: false };
    expect(await readAdvanced(simple, () => Promise.reject(refused))).toBe(simple);
    expect(await readAdvanced({ ...f, on: false }, () => Promise.reject(refused))).toEqual({ ...f, on: false });
  });

  test("switching to JSON carries the comparison over", () => {
    const f = { ...conditionFields(null), on: true, ingredient: "title", op: "matches" as const, value: "^v" };
    const adv = toggleAdvanced(f);
    expect(adv.advanced).toBe(true);
    expect(JSON.parse(adv.json)).toEqual({ ingredient: "title", op: "matches", value: "^v" });
    expect(toggleAdvanced(adv).advanced).toBe(false);
    expect(toggleAdvanced({ ...f, ingredient: "" }).json).toBe("");
  });
});

describe("ingredients", () => {
  test("the picker's list: declared, then sampled, then typed", () => {
    const list = ingredientList(
      [{ id: "title", description: "Title", example: "T" }],
      { ingredients: [{ id: "title", value: "Now" }, { id: "extra", value: "E" }], items: 1 },
      ["title", "mine"],
    );
    expect(list.map((i) => [i.id, i.sample])).toEqual([
      ["title", "Now"],
      ["extra", "E"],
      ["mine", undefined],
    ]);
  });
});

describe("parameters, errors and the payload", () => {
  const url = { id: "url", label: "Feed URL", type: "url", required: true } as ParamSpec;
  const flag = { id: "flag", label: "Flag", type: "boolean", required: true } as ParamSpec;

  test("required fields left empty, all at once; booleans are never missing", () => {
    expect(requiredErrors("action", [url, flag], { url: "  " })).toEqual({ "action.params.url": "Feed URL is required." });
    expect(requiredErrors("action", [url], { url: "https://x" })).toEqual({});
  });

  test("a parameter shows its own error or one inside it; clearing removes a prefix", () => {
    const errors = { "reactions[0].params.url": "bad", "reactions[1].params.url.host": "inner", "condition.all[0]": "c" };
    expect(paramError(errors, "reactions[0]", url)).toBe("bad");
    expect(paramError(errors, "reactions[1]", url)).toBe("inner");
    expect(conditionError(errors)).toBe("c");
    clearErrors(errors, "reactions[1]");
    expect(Object.keys(errors)).toEqual(["reactions[0].params.url", "condition.all[0]"]);
  });

  test("the payload drops empty fields, later reactions and the interval of an action that does not poll", () => {
    const form: AreaForm = {
      name: "  ",
      action: { service: "rss", id: "new_item", params: { url: "https://x", extra: "" } },
      reactions: [
        { service: "notify", id: "send", params: { title: "t", body: "" } },
        { service: "http", id: "request", params: {} },
      ],
      condition: null,
      enabled: true,
      interval_secs: null,
      allow_private_network: false,
    };
    const d = { form, interval: { value: "2", unit: "min" as const }, condition: conditionFields(null) };
    const p = payload(d, { polled: true, draftName: true, reactions: 1, condition: false });
    expect(p).toEqual({
      name: "Draft area",
      action: { service: "rss", id: "new_item", params: { url: "https://x" } },
      reactions: [{ service: "notify", id: "send", params: { title: "t" } }],
      condition: null,
      enabled: true,
      interval_secs: 120,
      allow_private_network: false,
    });
    expect(payload(d, { polled: false }).interval_secs).toBeNull();
    expect(payload(d, { polled: false }).name).toBe("");
  });
});

describe("checking a step with the core", () => {
  const form = { name: "n" } as AreaForm;
  const invalid = (field: string) => new ApiFailure({ code: "invalid", field, message: `bad ${field}` });
  const action = (f: string) => f.startsWith("action");

  test("fine when the core accepts, or complains about a later step", async () => {
    expect(await checkStep(() => form, action, async () => null)).toEqual({ ok: true });
    expect(await checkStep(() => form, action, async () => Promise.reject(invalid("reactions[0].params.url")))).toEqual({ ok: true });
  });

  test("the core's complaint about this step jumps to its field; a conversion error stays put", async () => {
    const e = invalid("action.params.url");
    expect(await checkStep(() => form, action, async () => Promise.reject(e))).toEqual({ ok: false, error: e, jump: true });
    const c = invalid("action.params.n");
    expect(
      await checkStep(
        () => {
          throw c;
        },
        action,
        async () => null,
      ),
    ).toEqual({ ok: false, error: c, jump: false });
  });

  test("a conversion error about a later step does not hold this one back; other failures do", async () => {
    const later = () => {
      throw invalid("condition");
    };
    expect(await checkStep(later, action, async () => null)).toEqual({ ok: true });
    const down = new ApiFailure({ code: "internal", field: null, message: "core is down" });
    expect(await checkStep(() => form, action, async () => Promise.reject(down))).toEqual({ ok: false, error: down, jump: false });
  });
});
