// The create/edit-area wizard as one value: the draft, the current step, how far the user got,
// and the transitions between steps as pure functions (each returns a new state and leaves its
// argument alone). The step components bind their inputs into the draft; everything that moves
// between steps or changes the draft's shape goes through a function here.
//
// The steps are grouped into three screens, IFTTT-style: "If" (the trigger's service, its action
// and settings), "Then" (each reaction's service, reaction and settings) and "Filter & review"
// (the optional condition, the name, the switches). A step inside a screen replaces the part
// below what was already chosen; the screen's heading and choices stay in view.
//
// The wizard asks the core to check the trigger's and each reaction's settings before moving past
// them — that part is async and lives in Wizard.svelte, which calls `after…` here once the core
// agreed; the condition is checked with the whole area on Save.
import { ApiFailure, errorMessage } from "../api";
import type { AreaForm, Recipe, SampleEvent } from "../api";
import { conditionFields, intervalFields } from "./form";
import type { ConditionFields, IntervalFields } from "./form";

export type Step = "trigger" | "action" | "action-config" | "reaction-service" | "reaction" | "reaction-config" | "review";

export const STEPS: readonly { step: Step; label: string }[] = [
  { step: "trigger", label: "Trigger service" },
  { step: "action", label: "Trigger" },
  { step: "action-config", label: "Trigger settings" },
  { step: "reaction-service", label: "Reaction service" },
  { step: "reaction", label: "Reaction" },
  { step: "reaction-config", label: "Reaction settings" },
  { step: "review", label: "Review" },
];

/** A screen of the wizard: the steps it shows one below the other. */
export type Screen = "if" | "then" | "review";

export const SCREENS: readonly { screen: Screen; label: string; steps: readonly Step[] }[] = [
  { screen: "if", label: "If", steps: ["trigger", "action", "action-config"] },
  { screen: "then", label: "Then", steps: ["reaction-service", "reaction", "reaction-config"] },
  { screen: "review", label: "Filter & review", steps: ["review"] },
];

/** The screen that shows `step`. */
export function screenOf(step: Step): Screen {
  return SCREENS.find((sc) => sc.steps.includes(step))?.screen ?? "review";
}

export type WizardState = {
  step: Step;
  /**
   * Index in STEPS of the furthest step reached with everything before it finished. Steps up to
   * it can be reopened; choosing another service or action lowers it (what followed must be
   * walked again).
   */
  reached: number;
  /** Index of the reaction being picked or edited (== reactions.length while adding one). */
  ri: number;
  /** The service chosen on the reaction-service step for reaction `ri`. */
  reactionService: string;
  form: AreaForm;
  /** Whether the user typed a name (otherwise the review suggests one). */
  nameTouched: boolean;
  interval: IntervalFields;
  condition: ConditionFields;
  /** Ingredient names the user typed for a trigger whose fields are not known in advance. */
  customIngredients: string[];
  /** The trigger's sample event, once loaded: its values show in the ingredient picker. */
  sample: SampleEvent | null;
  /** Example values by form field (a recipe's open fields), shown as placeholders. */
  examples: Record<string, string>;
  /**
   * Opened from a recipe: "Next" goes only through the steps with an open field, then to the
   * review (the other steps stay one click away in the step list).
   */
  recipe: boolean;
};

/** Display names of actions and reactions (from the catalog), for the suggested area name. */
export type Names = {
  action: (service: string, id: string) => string | undefined;
  reaction: (service: string, id: string) => string | undefined;
};

export function stepIndex(step: Step): number {
  return STEPS.findIndex((s) => s.step === step);
}

export function isStep(s: string | undefined): s is Step {
  return STEPS.some((x) => x.step === s);
}

export function emptyForm(): AreaForm {
  return {
    name: "",
    action: { service: "", id: "", params: {} },
    reactions: [],
    condition: null,
    enabled: true,
    interval_secs: null,
    allow_private_network: false,
  };
}

/** A new area. */
export function newWizard(): WizardState {
  return {
    step: "trigger",
    reached: 0,
    ri: 0,
    reactionService: "",
    form: emptyForm(),
    nameTouched: false,
    interval: intervalFields(null),
    condition: conditionFields(null),
    customIngredients: [],
    sample: null,
    examples: {},
    recipe: false,
  };
}

/**
 * A recipe opened in the wizard: its choices are made, so it opens on the settings of the first
 * step with an open field (the trigger's, or a reaction's), or on the review when it asks for
 * nothing; every step can be reopened, and the open fields show their examples.
 */
export function recipeWizard(recipe: Recipe): WizardState {
  const s = { ...editWizard(recipe.form, [], [], "review"), recipe: true };
  const first = recipe.asks[0]?.field ?? "";
  const reaction = /^reactions\[(\d+)\]/.exec(first);
  const examples = Object.fromEntries(recipe.asks.map((a) => [a.field, a.example]));
  if (first.startsWith("action.")) return { ...s, step: "action-config", examples };
  if (reaction) {
    const ri = Number(reaction[1]);
    return { ...s, step: "reaction-config", ri, reactionService: s.form.reactions[ri]?.service ?? "", examples };
  }
  return { ...s, examples };
}

/**
 * A stored area opened for editing: every step is finished, so it opens on `startStep` (or the
 * review) and any step can be reopened. `reads` are the ingredients the area reads (the core's
 * `AreaView.reads`), `declared` the action's ingredient names: the others were typed by the user
 * and the picker offers them again.
 */
export function editWizard(stored: AreaForm, reads: string[], declared: string[], startStep?: string): WizardState {
  const form: AreaForm = {
    ...stored,
    action: { ...stored.action, params: { ...stored.action.params } },
    reactions: stored.reactions.map((r) => ({ ...r, params: { ...r.params } })),
  };
  const condition = conditionFields(form.condition);
  return {
    step: isStep(startStep) ? startStep : "review",
    reached: stepIndex("review"),
    ri: 0,
    reactionService: form.reactions[0]?.service ?? "",
    form,
    nameTouched: true,
    interval: intervalFields(form.interval_secs),
    condition,
    customIngredients: reads.filter((name) => !declared.includes(name)),
    sample: null,
    examples: {},
    recipe: false,
  };
}

/** Moves to `step`; reaching it means everything before it is finished. */
function goTo(s: WizardState, step: Step, patch: Partial<WizardState> = {}): WizardState {
  return { ...s, ...patch, step, reached: Math.max(patch.reached ?? s.reached, stepIndex(step)) };
}

/** Moves to `step` after a choice that invalidates what follows it (when `changed`). */
function chose(s: WizardState, step: Step, changed: boolean, patch: Partial<WizardState> = {}): WizardState {
  return goTo(s, step, changed ? { ...patch, reached: stepIndex(step) } : patch);
}

// ---- choices ------------------------------------------------------------------------------------

/**
 * Chooses the trigger's service. A service with one action (`onlyAction`) has nothing to choose
 * on the next step: its action is taken and its settings open.
 */
export function pickTriggerService(s: WizardState, service: string, onlyAction?: string): WizardState {
  const changed = service !== s.form.action.service;
  const patch: Partial<WizardState> = changed
    ? { form: { ...s.form, action: { service, id: "", params: {} } }, sample: null, customIngredients: [] }
    : {};
  const next = chose(s, "action", changed, patch);
  return onlyAction ? pickAction(next, onlyAction) : next;
}

export function pickAction(s: WizardState, id: string): WizardState {
  const changed = id !== s.form.action.id;
  const patch: Partial<WizardState> = changed
    ? { form: { ...s.form, action: { service: s.form.action.service, id, params: {} } }, sample: null, interval: intervalFields(null) }
    : {};
  return chose(s, "action-config", changed, patch);
}

/** Chooses reaction `ri`'s service; one with a single reaction (`onlyReaction`) takes it at once. */
export function pickReactionService(s: WizardState, service: string, onlyReaction?: string): WizardState {
  const next = goTo(s, "reaction", { reactionService: service });
  return onlyReaction ? pickReaction(next, onlyReaction) : next;
}

/** Chooses reaction `id` of the chosen service for reaction `ri` (a new one: added). */
export function pickReaction(s: WizardState, id: string): WizardState {
  const existing = s.form.reactions[s.ri];
  const changed = !existing || existing.service !== s.reactionService || existing.id !== id;
  if (!changed) return goTo(s, "reaction-config");
  const reactions = [...s.form.reactions];
  reactions[Math.min(s.ri, reactions.length)] = { service: s.reactionService, id, params: {} };
  return chose(s, "reaction-config", true, { form: { ...s.form, reactions } });
}

/**
 * Back to the service choice of the current screen (the trigger's, or this reaction's) to choose
 * again; what was filled in stays until another service is chosen.
 */
export function chooseAgain(s: WizardState, step: "trigger" | "reaction-service"): WizardState {
  return goTo(s, step);
}

// ---- next & back --------------------------------------------------------------------------------

/** Whether "Next" can be pressed: a choice step needs its choice. */
export function canNext(s: WizardState): boolean {
  switch (s.step) {
    case "trigger":
      return !!s.form.action.service;
    case "action":
      return !!s.form.action.id;
    case "reaction-service":
      return !!s.reactionService;
    case "reaction":
      return !!s.form.reactions[s.ri];
    case "review":
      return false;
    default:
      return true;
  }
}

/** "Next" on a choice step (nothing to check: the choice was made). */
export function forward(s: WizardState): WizardState {
  if (!canNext(s)) return s;
  switch (s.step) {
    case "trigger":
      return goTo(s, "action");
    case "action":
      return goTo(s, "action-config");
    case "reaction-service":
      return goTo(s, "reaction");
    case "reaction":
      return goTo(s, "reaction-config");
    default:
      return s;
  }
}

/** The first reaction from `from` on with a field a recipe left open, if any. */
function nextAsked(s: WizardState, from: number): number | undefined {
  for (let ri = from; ri < s.form.reactions.length; ri++) {
    if (Object.keys(s.examples).some((f) => f.startsWith(`reactions[${ri}].`))) return ri;
  }
  return undefined;
}

/** In a recipe, the settings of the next reaction with an open field, else the review. */
function nextInRecipe(s: WizardState, from: number): WizardState {
  const ri = nextAsked(s, from);
  if (ri === undefined) return goTo(s, "review");
  return goTo(s, "reaction-config", { ri, reactionService: s.form.reactions[ri].service });
}

/** After the core accepted the trigger's settings: the first reaction (its settings when it exists). */
export function afterActionSettings(s: WizardState): WizardState {
  if (s.recipe) return nextInRecipe(s, 0);
  if (s.form.reactions.length > 0) return goTo(s, "reaction-config", { ri: 0, reactionService: s.form.reactions[0].service });
  return goTo(s, "reaction-service", { ri: 0 });
}

/**
 * After the core accepted reaction `ri`'s settings: the next reaction's settings, or the review
 * (with its filter and a suggested name unless one was typed).
 */
export function afterReactionSettings(s: WizardState, names: Names): WizardState {
  if (s.recipe) return nextInRecipe(s, s.ri + 1);
  if (s.ri + 1 < s.form.reactions.length) {
    const ri = s.ri + 1;
    return goTo(s, "reaction-config", { ri, reactionService: s.form.reactions[ri].service });
  }
  return toReview(s, names);
}

function toReview(s: WizardState, names: Names): WizardState {
  const form = s.nameTouched ? s.form : { ...s.form, name: defaultName(s.form, names) };
  return goTo(s, "review", { form });
}

export function back(s: WizardState): WizardState {
  const last = Math.max(0, s.form.reactions.length - 1);
  switch (s.step) {
    case "action":
      return goTo(s, "trigger");
    case "action-config":
      return goTo(s, "action");
    case "reaction-service":
      // giving up on adding another reaction returns to the review
      if (s.ri >= s.form.reactions.length && s.form.reactions.length > 0) return goTo(s, "review", { ri: last });
      return goTo(s, "action-config");
    case "reaction":
      return goTo(s, "reaction-service");
    case "reaction-config":
      if (s.ri > 0) return goTo(s, "reaction-config", { ri: s.ri - 1, reactionService: s.form.reactions[s.ri - 1].service });
      return goTo(s, "reaction");
    case "review":
      return goTo(s, "reaction-config", { ri: last, reactionService: s.form.reactions[last]?.service ?? "" });
    default:
      return s;
  }
}

// ---- the review's actions -----------------------------------------------------------------------

export function addReaction(s: WizardState): WizardState {
  return goTo(s, "reaction-service", { ri: s.form.reactions.length, reactionService: "" });
}

export function editReaction(s: WizardState, i: number): WizardState {
  return goTo(s, "reaction-config", { ri: i, reactionService: s.form.reactions[i].service });
}

export function removeReaction(s: WizardState, i: number, names: Names): WizardState {
  const reactions = s.form.reactions.filter((_, j) => j !== i);
  const form = { ...s.form, reactions };
  if (!s.nameTouched) form.name = defaultName(form, names);
  return { ...s, form, ri: Math.min(s.ri, Math.max(0, reactions.length - 1)) };
}

/** "New feed item → Show a notification and …": the trigger, then what it does, short enough for a card. */
export function defaultName(form: AreaForm, names: Names): string {
  const a = names.action(form.action.service, form.action.id) ?? form.action.id;
  const rs = form.reactions.map((r) => names.reaction(r.service, r.id) ?? r.id);
  return `${a} → ${rs.join(" and ")}`;
}

// ---- the trigger's ingredients --------------------------------------------------------------------

export function withSample(s: WizardState, sample: SampleEvent | null): WizardState {
  return { ...s, sample };
}

export function addCustomIngredient(s: WizardState, name: string): WizardState {
  return s.customIngredients.includes(name) ? s : { ...s, customIngredients: [...s.customIngredients, name] };
}

// ---- progress & reopening -----------------------------------------------------------------------

export type StepStatus = { step: Step; label: string; status: "done" | "current" | "todo"; reachable: boolean };

/** The reaction a reopened reaction step shows: the current one, or the last when adding. */
function reopenedReaction(s: WizardState): number {
  return s.ri < s.form.reactions.length ? s.ri : Math.max(0, s.form.reactions.length - 1);
}

/** Whether `step` has what it needs to be shown now. */
function ready(s: WizardState, step: Step): boolean {
  const r = s.form.reactions[reopenedReaction(s)];
  switch (step) {
    case "action":
      return !!s.form.action.service;
    case "action-config":
    case "reaction-service":
      return !!s.form.action.id;
    case "reaction":
      return !!(r?.service || s.reactionService);
    case "reaction-config":
    case "review":
      return !!r;
    default:
      return true;
  }
}

/** Each step as the progress list shows it: finished ones (and those reached) can be reopened. */
export function progress(s: WizardState): StepStatus[] {
  const current = stepIndex(s.step);
  return STEPS.map(({ step, label }, i) => ({
    step,
    label,
    status: i === current ? "current" : i < Math.max(current, s.reached) && ready(s, step) ? "done" : "todo",
    reachable: i !== current && i <= s.reached && ready(s, step),
  }));
}

export type ScreenStatus = {
  screen: Screen;
  label: string;
  status: "done" | "current" | "todo";
  reachable: boolean;
  /** The step a click on the screen opens: its furthest one reached. */
  opens: Step;
};

/** Each screen as the progress list shows it: one reached (and not current) can be reopened. */
export function screens(s: WizardState): ScreenStatus[] {
  const steps = progress(s);
  return SCREENS.map(({ screen, label, steps: own }) => {
    const mine = steps.filter((p) => own.includes(p.step));
    const current = mine.some((p) => p.status === "current");
    const furthest = [...mine].reverse().find((p) => p.reachable);
    return {
      screen,
      label,
      status: current ? "current" : mine.every((p) => p.status === "done") ? "done" : "todo",
      reachable: !current && !!furthest,
      opens: current ? s.step : (furthest?.step ?? own[0]),
    };
  });
}

/** Reopens a step already reached (anything else is ignored). */
export function reopen(s: WizardState, step: Step, names: Names): WizardState {
  const target = progress(s).find((p) => p.step === step);
  if (!target?.reachable) return s;
  if (step === "review") return toReview(s, names);
  if (step === "reaction-service" || step === "reaction" || step === "reaction-config") {
    const ri = reopenedReaction(s);
    return goTo(s, step, { ri, reactionService: s.form.reactions[ri]?.service ?? s.reactionService });
  }
  return goTo(s, step);
}

// ---- where the core's errors show ---------------------------------------------------------------

/** Which step shows a field the core names, and the reaction index for reaction fields. */
export function stepOf(field: string | null): { step: Step; ri?: number } | null {
  if (!field) return null;
  if (field === "name") return { step: "review" };
  if (field.startsWith("condition")) return { step: "review" };
  if (field === "action.service") return { step: "trigger" };
  if (field === "action.id") return { step: "action" };
  if (field.startsWith("action") || field.startsWith("interval_secs") || field === "allow_private_network") return { step: "action-config" };
  const m = /^reactions\[(\d+)\](.*)$/.exec(field);
  if (m) {
    const i = Number(m[1]);
    if (m[2] === ".service") return { step: "reaction-service", ri: i };
    if (m[2] === ".id") return { step: "reaction", ri: i };
    return { step: "reaction-config", ri: i };
  }
  if (field === "reactions") return { step: "reaction-service", ri: 0 };
  return null;
}

/** Whether `step` shows the error of `field` next to it (otherwise it is the form's error). */
export function fieldShownOn(field: string, step: Step): boolean {
  if (field === "name" || field.startsWith("condition") || field.startsWith("interval_secs")) return true;
  if (step === "action-config") return /^action\.params\./.test(field);
  if (step === "reaction-config") return /^reactions\[\d+\]\.params\./.test(field);
  return false;
}

/** Moves to the step that shows `field` (unchanged when no step does). */
export function showField(s: WizardState, field: string): WizardState {
  const where = stepOf(field);
  if (!where) return s;
  let patch: Partial<WizardState> = {};
  if (where.ri !== undefined) {
    const ri = Math.min(where.ri, s.form.reactions.length);
    patch = { ri, reactionService: s.form.reactions[ri]?.service ?? "" };
  }
  return where.step === s.step && where.ri === undefined ? s : goTo(s, where.step, patch);
}

/** Where a failure shows: the field it names (`field`), the step to show, and the form's own error line. */
export type Placed = { state: WizardState; field: string | null; message: string; formError: string };

/**
 * Places a failure: an `invalid` error naming a field shows on that field — moving to the step
 * that owns it when `jump` — and on the form's error line when no step shows that field; any
 * other failure is the form's error.
 */
export function placeFailure(s: WizardState, e: unknown, jump: boolean, label: ParamLabel = () => undefined): Placed {
  if (!(e instanceof ApiFailure && e.code === "invalid" && e.field)) return { state: s, field: null, message: errorMessage(e), formError: errorMessage(e) };
  const where = stepOf(e.field);
  const shown = !!where && fieldShownOn(e.field, where.step);
  const formError = shown ? "" : `${fieldLabel(e.field, s.form, label)}: ${e.message}`;
  return { state: where && jump ? showField(s, e.field) : s, field: e.field, message: e.message, formError };
}

/** A parameter's label from the catalog (`service`, step `id`, parameter `param`), if known. */
export type ParamLabel = (service: string, id: string, param: string) => string | undefined;

/**
 * Where a form field is, in the words of the wizard ("Reaction 1 › URL", "Trigger › Feed URL"),
 * for an error shown away from its field.
 */
export function fieldLabel(field: string, form: AreaForm, label: ParamLabel): string {
  if (field === "name") return "Name";
  if (field.startsWith("condition")) return "Condition";
  if (field.startsWith("interval_secs")) return "Trigger › Check every";
  if (field === "allow_private_network") return "Local network access";
  const action = /^action\.params\.(.+)$/.exec(field);
  if (action) return `Trigger › ${label(form.action.service, form.action.id, action[1]) ?? action[1]}`;
  const reaction = /^reactions\[(\d+)\](?:\.params\.(.+))?/.exec(field);
  if (reaction) {
    const i = Number(reaction[1]);
    const step = form.reactions[i];
    const param = reaction[2];
    if (!param) return `Reaction ${i + 1}`;
    return `Reaction ${i + 1} › ${(step && label(step.service, step.id, param)) ?? param}`;
  }
  if (field.startsWith("action")) return "Trigger";
  return field;
}
