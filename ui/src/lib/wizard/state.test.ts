import { describe, expect, test } from "vitest";
import { ApiFailure } from "../api";
import type { AreaForm } from "../api";
import {
  addReaction,
  afterActionSettings,
  afterReactionSettings,
  back,
  canNext,
  editReaction,
  editWizard,
  fieldShownOn,
  forward,
  newWizard,
  pickAction,
  pickReaction,
  pickReactionService,
  pickTriggerService,
  placeFailure,
  fieldLabel,
  progress,
  screens,
  screenOf,
  chooseAgain,
  removeReaction,
  reopen,
  showField,
  stepOf,
  type Names,
  type Step,
  type WizardState,
} from "./state";

const REACTIONS: Record<string, string> = { "notify.send": "Show a notification", "http.request": "Send an HTTP request" };
const names: Names = {
  action: (s, id) => (s === "rss" && id === "new_item" ? "New feed item" : undefined),
  reaction: (s, id) => REACTIONS[`${s}.${id}`],
};

const stored: AreaForm = {
  name: "Feed to phone",
  action: { service: "rss", id: "new_item", params: { url: "https://a.example/feed" } },
  reactions: [
    { service: "notify", id: "send", params: { title: "{{ title }}" } },
    { service: "http", id: "request", params: { url: "https://hooks.example/x", body: "{{ msg }}" } },
  ],
  condition: { ingredient: "title", op: "contains", value: "Rust" },
  enabled: true,
  interval_secs: 900,
  allow_private_network: false,
};

/** What the core lists as read by `stored` (`AreaView.reads`): its templates and condition. */
const storedReads = ["msg", "title"];

/** rss → new_item → (checked) → notify → send: on the first reaction's settings. */
function toFirstReaction(): WizardState {
  let s = newWizard();
  s = pickTriggerService(s, "rss");
  s = pickAction(s, "new_item");
  s = afterActionSettings(s);
  s = pickReactionService(s, "notify");
  return pickReaction(s, "send");
}

const reachable = (s: WizardState) => progress(s).filter((p) => p.reachable).map((p) => p.step);
const done = (s: WizardState) => progress(s).filter((p) => p.status === "done").map((p) => p.step);

describe("the wizard's steps", () => {
  test("a new area walks trigger → action → settings → reaction service → reaction → settings → review (with the filter)", () => {
    const seen: Step[] = [];
    let s = newWizard();
    seen.push(s.step);
    expect(canNext(s)).toBe(false);
    s = pickTriggerService(s, "rss");
    seen.push(s.step);
    s = pickAction(s, "new_item");
    seen.push(s.step);
    s = afterActionSettings(s);
    seen.push(s.step);
    expect(canNext(s)).toBe(false); // no service chosen yet
    s = pickReactionService(s, "notify");
    seen.push(s.step);
    s = pickReaction(s, "send");
    seen.push(s.step);
    s = afterReactionSettings(s, names);
    seen.push(s.step);
    expect(seen).toEqual(["trigger", "action", "action-config", "reaction-service", "reaction", "reaction-config", "review"]);
    expect(seen.map(screenOf)).toEqual(["if", "if", "if", "then", "then", "then", "review"]);
    expect(s.form.name).toBe("New feed item → Show a notification");
    expect(s.form.reactions).toEqual([{ service: "notify", id: "send", params: {} }]);
    expect(canNext(s)).toBe(false); // the review saves instead
  });

  test("a service with one action or reaction goes straight to its settings", () => {
    const s = pickTriggerService(newWizard(), "rss", "new_item");
    expect([s.step, s.form.action.id]).toEqual(["action-config", "new_item"]);
    const r = pickReactionService(afterActionSettings(s), "http", "request");
    expect([r.step, r.form.reactions[0]]).toEqual(["reaction-config", { service: "http", id: "request", params: {} }]);
    // Several actions: the choice stays a step.
    const several = pickTriggerService(newWizard(), "github");
    expect([several.step, several.form.action.id]).toEqual(["action", ""]);
  });

  test("transitions are pure: the state passed in is left as it was", () => {
    const before = toFirstReaction();
    const copy = JSON.parse(JSON.stringify(before));
    pickTriggerService(before, "github");
    pickReaction(before, "other");
    removeReaction(before, 0, names);
    back(before);
    afterReactionSettings(before, names);
    chooseAgain(before, "trigger");
    expect(before).toEqual(copy);
  });

  test("picking the same service or action again keeps what was filled in", () => {
    let s = toFirstReaction();
    s.form.action.params.url = "https://a.example/feed";
    s = pickTriggerService({ ...s, step: "trigger" }, "rss");
    s = pickAction(s, "new_item");
    expect(s.form.action.params).toEqual({ url: "https://a.example/feed" });
    expect(s.form.reactions).toHaveLength(1);
  });

  test("another trigger service starts the trigger over and forgets its sample and typed names", () => {
    let s = toFirstReaction();
    s = { ...s, sample: { ingredients: [{ id: "title", value: "x" }], items: 1 }, customIngredients: ["msg"] };
    s = pickTriggerService({ ...s, step: "trigger" }, "webhook");
    expect(s.form.action).toEqual({ service: "webhook", id: "", params: {} });
    expect(s.sample).toBeNull();
    expect(s.customIngredients).toEqual([]);
  });

  test("another action resets its settings and the interval", () => {
    let s = pickAction(pickTriggerService(newWizard(), "rss"), "new_item");
    s.form.action.params.url = "https://x";
    s = { ...s, interval: { value: "5", unit: "h" } };
    s = pickAction({ ...s, step: "action" }, "other");
    expect(s.form.action.params).toEqual({});
    expect(s.interval).toEqual({ value: "", unit: "min" });
  });

  test("with reactions already chosen, the trigger's settings lead to the first reaction's settings", () => {
    let s = editWizard(stored, storedReads, ["title", "link"], "action-config");
    s = afterActionSettings(s);
    expect(s.step).toBe("reaction-config");
    expect(s.ri).toBe(0);
    s = afterReactionSettings(s, names);
    expect([s.step, s.ri, s.reactionService]).toEqual(["reaction-config", 1, "http"]);
    s = afterReactionSettings(s, names);
    expect(s.step).toBe("review");
  });

  test("back retraces the steps, through every reaction", () => {
    let s = editWizard(stored, storedReads, ["title", "link"]);
    const seen: string[] = [];
    while (s.step !== "trigger") {
      s = back(s);
      seen.push(s.step === "reaction-config" ? `${s.step}#${s.ri}` : s.step);
    }
    expect(seen).toEqual(["reaction-config#1", "reaction-config#0", "reaction", "reaction-service", "action-config", "action", "trigger"]);
  });

  test("adding a reaction, then giving up, returns to the review", () => {
    let s = editWizard(stored, storedReads, []);
    s = addReaction(s);
    expect([s.step, s.ri, s.reactionService]).toEqual(["reaction-service", 2, ""]);
    expect(canNext(s)).toBe(false);
    s = back(s);
    expect(s.step).toBe("review");
    expect(s.form.reactions).toHaveLength(2);
  });

  test("an added reaction is appended; a re-picked one is replaced with empty settings", () => {
    let s = addReaction(editWizard(stored, storedReads, []));
    s = pickReaction(pickReactionService(s, "notify"), "send");
    expect(s.form.reactions.map((r) => r.service)).toEqual(["notify", "http", "notify"]);
    s = editReaction(s, 1);
    expect(s.reactionService).toBe("http");
    s = pickReaction(pickReactionService({ ...s, step: "reaction-service" }, "notify"), "send");
    expect(s.form.reactions[1]).toEqual({ service: "notify", id: "send", params: {} });
    expect(s.form.reactions).toHaveLength(3);
  });

  test("removing a reaction renames an area whose name was suggested, not one the user typed", () => {
    const suggested = afterReactionSettings(toFirstReaction(), names);
    const two = pickReaction(pickReactionService(addReaction(suggested), "http"), "request");
    const renamed = afterReactionSettings(two, names);
    expect(renamed.form.name).toBe("New feed item → Show a notification and Send an HTTP request");
    expect(removeReaction(renamed, 1, names).form.name).toBe("New feed item → Show a notification");
    const typed = editWizard(stored, storedReads, []);
    expect(removeReaction(typed, 0, names).form.name).toBe("Feed to phone");
    expect(removeReaction(typed, 0, names).form.reactions.map((r) => r.id)).toEqual(["request"]);
  });

  test("forward only moves from a choice step whose choice was made", () => {
    const s = pickTriggerService(newWizard(), "rss");
    expect(forward(s)).toBe(s); // no action chosen
    const back2 = back(pickAction(s, "new_item")); // on "action" with an action
    expect(forward(back2).step).toBe("action-config");
  });
});

describe("progress and reopening", () => {
  test("finished steps are done and can be reopened; later ones cannot", () => {
    const s = toFirstReaction();
    expect(s.step).toBe("reaction-config");
    expect(done(s)).toEqual(["trigger", "action", "action-config", "reaction-service", "reaction"]);
    expect(reachable(s)).toEqual(["trigger", "action", "action-config", "reaction-service", "reaction"]);
    expect(reopen(s, "review", names)).toBe(s); // not reached yet
    expect(reopen(s, "reaction-config", names)).toBe(s); // the current step
  });

  test("a reopened step keeps later finished steps reachable, so the user can jump back", () => {
    const review = editWizard(stored, storedReads, []);
    let s = reopen(review, "action", names);
    expect(s.step).toBe("action");
    expect(reachable(s)).toContain("review");
    expect(done(s)).toContain("reaction-config");
    s = reopen(s, "review", names);
    expect(s.step).toBe("review");
    expect(s.form).toEqual(review.form);
  });

  test("reopening the reaction steps shows the current (or last) reaction", () => {
    let s = editReaction(editWizard(stored, storedReads, []), 1);
    s = reopen({ ...s, step: "review" }, "reaction", names);
    expect([s.step, s.ri, s.reactionService]).toEqual(["reaction", 1, "http"]);
    const adding = addReaction(editWizard(stored, storedReads, []));
    const r = reopen(adding, "reaction-config", names);
    expect([r.step, r.ri]).toEqual(["reaction-config", 1]);
  });

  test("choosing another trigger means the later steps have to be walked again", () => {
    let s = reopen(editWizard(stored, storedReads, []), "trigger", names);
    s = pickTriggerService(s, "github");
    expect(reachable(s)).toEqual(["trigger"]);
    expect(reopen(s, "review", names)).toBe(s);
    // picking the same one again changes nothing
    const same = pickTriggerService(reopen(editWizard(stored, storedReads, []), "trigger", names), "rss");
    expect(reachable(same)).toContain("review");
  });

  test("re-picking a reaction must be configured again before the review", () => {
    let s = reopen(editWizard(stored, storedReads, []), "reaction", names);
    s = pickReaction(pickReactionService(s, "notify"), "send"); // same reaction: kept
    expect(reachable(s)).toContain("review");
    s = pickReaction(pickReactionService(back(s), "http"), "request"); // a different one
    expect(reachable(s)).not.toContain("review");
  });

  test("reopening the review suggests a name unless one was typed", () => {
    const atReview = afterReactionSettings(toFirstReaction(), names);
    const unnamed = { ...atReview, step: "reaction-config" as const, form: { ...atReview.form, name: "" } };
    expect(reopen(unnamed, "review", names).form.name).toBe("New feed item → Show a notification");
    const typed = { ...unnamed, nameTouched: true, form: { ...unnamed.form, name: "Mine" } };
    expect(reopen(typed, "review", names).form.name).toBe("Mine");
  });
});

describe("screens", () => {
  const pills = (s: WizardState) => screens(s).map((p) => `${p.label}:${p.status}${p.reachable ? `>${p.opens}` : ""}`);

  test("three screens, If · Then · Filter & review, each reopening where the user left it", () => {
    let s = newWizard();
    expect(pills(s)).toEqual(["If:current", "Then:todo", "Filter & review:todo"]);
    s = pickTriggerService(s, "rss", "new_item");
    expect(pills(s)).toEqual(["If:current", "Then:todo", "Filter & review:todo"]);
    s = afterActionSettings(s);
    expect(pills(s)).toEqual(["If:done>action-config", "Then:current", "Filter & review:todo"]);
    s = pickReactionService(s, "http", "request");
    s = afterReactionSettings(s, names);
    expect(pills(s)).toEqual(["If:done>action-config", "Then:done>reaction-config", "Filter & review:current"]);
  });

  test("choosing again goes back to the screen's service choice and keeps the rest reachable", () => {
    const review = editWizard(stored, storedReads, []);
    const s = chooseAgain(reopen(review, "reaction-config", names), "reaction-service");
    expect([s.step, s.ri]).toEqual(["reaction-service", 0]);
    expect(screens(s).find((p) => p.screen === "review")?.reachable).toBe(true);
    expect(chooseAgain(review, "trigger").step).toBe("trigger");
  });
});

describe("editing a stored area", () => {
  test("opens on the review with every step finished, or on the step asked for", () => {
    const s = editWizard(stored, storedReads, ["title", "link"]);
    expect(s.step).toBe("review");
    expect(done(s)).toHaveLength(6);
    expect(s.interval).toEqual({ value: "15", unit: "min" });
    expect(s.condition).toMatchObject({ on: true, ingredient: "title", op: "contains", value: "Rust", advanced: false });
    expect(s.customIngredients).toEqual(["msg"]);
    expect(editWizard(stored, storedReads, [], "reaction-config").step).toBe("reaction-config");
    // the filter is on the review (an old link to the condition step opens it)
    expect(editWizard(stored, storedReads, [], "condition").step).toBe("review");
    expect(editWizard(stored, storedReads, [], "nonsense").step).toBe("review");
  });

  test("copies the stored form, so editing never changes it", () => {
    const s = editWizard(stored, storedReads, []);
    s.form.reactions[0].params.title = "changed";
    expect(stored.reactions[0].params.title).toBe("{{ title }}");
  });
});

describe("where the core's errors show", () => {
  test("fields map to their steps", () => {
    expect(stepOf("name")).toEqual({ step: "review" });
    expect(stepOf("condition.all[1].value")).toEqual({ step: "review" });
    expect(stepOf("action.service")).toEqual({ step: "trigger" });
    expect(stepOf("action.id")).toEqual({ step: "action" });
    expect(stepOf("action.params.url")).toEqual({ step: "action-config" });
    expect(stepOf("interval_secs")).toEqual({ step: "action-config" });
    expect(stepOf("reactions[2].service")).toEqual({ step: "reaction-service", ri: 2 });
    expect(stepOf("reactions[1].id")).toEqual({ step: "reaction", ri: 1 });
    expect(stepOf("reactions[1].params.url")).toEqual({ step: "reaction-config", ri: 1 });
    expect(stepOf("reactions")).toEqual({ step: "reaction-service", ri: 0 });
    expect(stepOf("max_events_per_poll")).toBeNull();
    expect(fieldShownOn("reactions[1].params.url", "reaction-config")).toBe(true);
    expect(fieldShownOn("reactions[1].id", "reaction")).toBe(false);
  });

  test("an error on a reaction's field reopens that reaction's settings from the review", () => {
    const s = showField(editWizard(stored, storedReads, []), "reactions[1].params.url");
    expect([s.step, s.ri, s.reactionService]).toEqual(["reaction-config", 1, "http"]);
    expect(showField(s, "nowhere")).toBe(s);
  });

  test("a failure shows on its field, on the form's line when no step shows that field, or as the form's error", () => {
    const s = editWizard(stored, storedReads, []);
    const onField = placeFailure(s, new ApiFailure({ code: "invalid", field: "reactions[1].params.url", message: "not a valid URL" }), true);
    expect([onField.state.step, onField.state.ri, onField.field, onField.formError]).toEqual(["reaction-config", 1, "reactions[1].params.url", ""]);
    expect(placeFailure(s, new ApiFailure({ code: "invalid", field: "reactions[1].params.url", message: "m" }), false).state).toBe(s);
    const onStep = placeFailure(s, new ApiFailure({ code: "invalid", field: "reactions[0].id", message: "no such reaction" }), true);
    expect([onStep.state.step, onStep.formError]).toEqual(["reaction", "Reaction 1: no such reaction"]);
    const other = placeFailure(s, new Error("network down"), true);
    expect([other.state, other.field, other.formError]).toEqual([s, null, "network down"]);
  });

  test("an error away from its field names where it is, with the catalog's labels", () => {
    const s = editWizard(stored, storedReads, []);
    const label = (_service: string, _id: string, param: string) => (param === "url" ? "URL" : undefined);
    expect(fieldLabel("reactions[1].params.url", s.form, label)).toBe("Reaction 2 › URL");
    expect(fieldLabel("reactions[1].params.body", s.form, label)).toBe("Reaction 2 › body");
    expect(fieldLabel("action.params.url", s.form, label)).toBe("Trigger › URL");
    expect(fieldLabel("condition.value", s.form, label)).toBe("Condition");
    expect(fieldLabel("name", s.form, label)).toBe("Name");
    const away = placeFailure(s, new ApiFailure({ code: "invalid", field: "reactions[1].params.url", message: "not a valid URL" }), false, label);
    expect(away.formError).toBe("");
    const local = placeFailure(s, new ApiFailure({ code: "invalid", field: "allow_private_network", message: "not allowed" }), false, label);
    expect(local.formError).toBe("Local network access: not allowed");
  });
});
