// The wizard's field texts ↔ the AreaForm the core receives.
//
// The core owns every rule about an area: `validate_area`, `create_area` and `update_area` run
// `AreaForm::into_spec` (text → typed parameter values, by the schema) and `areas::validate`
// (required parameters, URLs, templates and the ingredients they read, the poll interval's
// minimum, the condition's value types). The core also reads the advanced editor's JSON
// condition (`read_condition`), lists the ingredients a stored area reads (`AreaView.reads`)
// and gives each polled action's default interval (`ServiceEntry.default_intervals`). What is
// left here is presentation: a number and a unit for seconds, a three-field editor for one
// comparison, and field errors placed by the path the core names.
import { ApiFailure } from "../api";
import type { AreaForm, Condition, IngredientSpec, Op, ParamSpec, SampleEvent } from "../api";
import type { Ingredient } from "../../components/IngredientPicker.svelte";

// ---- poll interval ------------------------------------------------------------------------------

export type IntervalUnit = "s" | "min" | "h";
/** The interval editor: a number input's binding yields a number (or null when empty), not text. */
export type IntervalFields = { value: string | number | null; unit: IntervalUnit };

const UNIT_SECS: Record<IntervalUnit, number> = { s: 1, min: 60, h: 3600 };

/** A stored `interval_secs` in the largest unit that divides it (empty: the default). */
export function intervalFields(secs: number | null): IntervalFields {
  if (secs === null) return { value: "", unit: "min" };
  if (secs % 3600 === 0) return { value: String(secs / 3600), unit: "h" };
  if (secs % 60 === 0) return { value: String(secs / 60), unit: "min" };
  return { value: String(secs), unit: "s" };
}

/**
 * The editor's interval in seconds (null: empty, the core's default). Only the shape is checked
 * here — a positive number; the action's minimum is the core's (`check_interval`).
 */
export function intervalSecs(f: IntervalFields): number | null {
  const text = String(f.value ?? "").trim();
  if (text === "") return null;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    throw new ApiFailure({ code: "invalid", field: "interval_secs", message: "Enter a positive number." });
  }
  return Math.round(n * UNIT_SECS[f.unit]);
}

// ---- condition ----------------------------------------------------------------------------------

export const OPS: { op: Op; label: string }[] = [
  { op: "equals", label: "equals" },
  { op: "not_equals", label: "does not equal" },
  { op: "contains", label: "contains" },
  { op: "not_contains", label: "does not contain" },
  { op: "greater_than", label: "is greater than" },
  { op: "less_than", label: "is less than" },
  { op: "matches", label: "matches the pattern (regex)" },
];

/**
 * The condition editor: one comparison in three fields, or any condition as JSON text. `parsed`
 * is that JSON as the core read it (`readAdvanced`), set before the condition is sent.
 */
export type ConditionFields = {
  on: boolean;
  ingredient: string;
  op: Op;
  value: string;
  advanced: boolean;
  json: string;
  parsed: Condition | null;
};

/** A stored condition in the editor: a single comparison in the simple editor, anything else as JSON. */
export function conditionFields(c: Condition | null): ConditionFields {
  const f: ConditionFields = { on: c !== null, ingredient: "", op: "equals", value: "", advanced: false, json: c ? JSON.stringify(c, null, 2) : "", parsed: null };
  if (c && "ingredient" in c && "op" in c) {
    f.ingredient = c.ingredient;
    f.op = c.op;
    f.value = typeof c.value === "string" ? c.value : JSON.stringify(c.value);
  } else if (c) {
    f.advanced = true;
    f.parsed = c;
  }
  return f;
}

/**
 * The editor's condition (null when off). The simple editor sends a number for a numeric
 * comparison typed as a number; whether the value suits the operator is the core's check. The
 * JSON editor sends what the core read from it (`readAdvanced` runs first).
 */
export function buildCondition(f: ConditionFields): Condition | null {
  if (!f.on) return null;
  if (f.advanced) {
    if (f.parsed === null) {
      throw new ApiFailure({ code: "invalid", field: "condition", message: "Write the condition as JSON." });
    }
    return f.parsed;
  }
  if (!f.ingredient.trim()) {
    throw new ApiFailure({ code: "invalid", field: "condition", message: "Choose the ingredient to test." });
  }
  let value: string | number | boolean = f.value;
  if ((f.op === "greater_than" || f.op === "less_than") && f.value.trim() !== "" && !Number.isNaN(Number(f.value))) {
    value = Number(f.value);
  }
  return { ingredient: f.ingredient.trim(), op: f.op, value };
}

/**
 * The JSON editor's text read by the core (`read`: the read_condition command), so the rules of
 * a condition live in one place; its failure names the `condition` field in the core's words.
 */
export async function readAdvanced(f: ConditionFields, read: (text: string) => Promise<Condition>): Promise<ConditionFields> {
  if (!f.on || !f.advanced) return f;
  return { ...f, parsed: await read(f.json) };
}

/** Switches between the simple and the JSON editor, carrying the simple editor's comparison over. */
export function toggleAdvanced(f: ConditionFields): ConditionFields {
  if (f.advanced) return { ...f, advanced: false };
  let json = "";
  try {
    json = JSON.stringify(buildCondition(f), null, 2);
  } catch {
    json = "";
  }
  return { ...f, advanced: true, json, parsed: null };
}

/** The condition in the review's words. */
export function conditionSummary(f: ConditionFields): string {
  if (!f.on) return "always";
  if (f.advanced) return "custom condition";
  return `${f.ingredient} ${OPS.find((o) => o.op === f.op)?.label} “${f.value}”`;
}

// ---- ingredients --------------------------------------------------------------------------------

/** What the picker offers: the action's ingredients, with sample values, then names the user typed. */
export function ingredientList(declared: IngredientSpec[], sample: SampleEvent | null, custom: string[]): Ingredient[] {
  const list: Ingredient[] = declared.map((i) => ({ ...i }));
  for (const s of sample?.ingredients ?? []) {
    const found = list.find((i) => i.id === s.id);
    if (found) found.sample = s.value;
    else list.push({ id: s.id, description: "From the sample event", example: "", sample: s.value });
  }
  for (const c of custom) {
    if (!list.some((i) => i.id === c)) list.push({ id: c, description: "A field you named", example: "" });
  }
  return list;
}

// ---- parameters & errors --------------------------------------------------------------------------

/** Parameters without empty fields (an empty field means "not given"; the core skips them too). */
export function cleanParams(p: Partial<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== "") out[k] = v;
  return out;
}

/** Field errors keyed by the core's field paths (`reactions[0].params.url`). */
export type Errors = Record<string, string>;

/** The core's path of parameter `id` of the step at `prefix` (`action`, `reactions[0]`). */
export function paramField(prefix: string, id: string): string {
  return `${prefix}.params.${id}`;
}

/**
 * Required fields left empty, all at once and before asking the core (which names only the first
 * one, as "missing required parameter"). The core stays the authority: it checks them again.
 */
export function requiredErrors(prefix: string, params: ParamSpec[], values: Partial<Record<string, string>>): Errors {
  const out: Errors = {};
  for (const p of params) {
    if (p.required && p.type !== "boolean" && !(values[p.id] ?? "").trim()) out[paramField(prefix, p.id)] = `${p.label} is required.`;
  }
  return out;
}

/** The error shown on parameter `p` of the step at `prefix` (its own, or one inside it). */
export function paramError(errors: Errors, prefix: string, p: ParamSpec): string {
  const key = paramField(prefix, p.id);
  if (errors[key]) return errors[key];
  const nested = Object.keys(errors).find((k) => k.startsWith(key + "."));
  return nested ? errors[nested] : "";
}

/** Removes the errors of `prefix` and of everything inside it (in place: `errors` is reactive). */
export function clearErrors(errors: Errors, prefix: string): void {
  for (const k of Object.keys(errors)) if (k === prefix || k.startsWith(prefix + ".") || k.startsWith(prefix + "[")) delete errors[k];
}

/** The first error about the condition (`condition`, `condition.all[1].value`…). */
export function conditionError(errors: Errors): string {
  if (errors.condition) return errors.condition;
  const key = Object.keys(errors).find((k) => k.startsWith("condition"));
  return key ? errors[key] : "";
}

// ---- the form as the core receives it -----------------------------------------------------------

export type PayloadOptions = {
  /** Whether the action polls (only then is the interval sent). */
  polled: boolean;
  /** Stand-in name while checking a step before the name is asked for. */
  draftName?: boolean;
  /** Leaves out later reactions when checking one reaction's step. */
  reactions?: number;
  /** `false` leaves the condition out (checking an earlier step). */
  condition?: boolean;
};

/** The draft as the core receives it; throws ApiFailure (with its field) for a field the editor cannot convert. */
export function payload(
  d: { form: AreaForm; interval: IntervalFields; condition: ConditionFields },
  opts: PayloadOptions,
): AreaForm {
  const { form } = d;
  const count = opts.reactions ?? form.reactions.length;
  return {
    name: form.name.trim() || (opts.draftName ? "Draft area" : ""),
    action: { service: form.action.service, id: form.action.id, params: cleanParams(form.action.params) },
    reactions: form.reactions.slice(0, count).map((r) => ({ service: r.service, id: r.id, params: cleanParams(r.params) })),
    condition: opts.condition === false ? null : buildCondition(d.condition),
    enabled: form.enabled,
    interval_secs: opts.polled ? intervalSecs(d.interval) : null,
    allow_private_network: form.allow_private_network,
  };
}

/** What asking the core about one step gave: fine, or the failure to show (`jump`: move to its field's step). */
export type Outcome = { ok: true } | { ok: false; error: unknown; jump: boolean };

/**
 * Asks the core (`validate`: the validate_area command) about the draft built by `build`; fine
 * when nothing is wrong with the part of it the current step owns (`belongs` names its fields) —
 * a problem in a later step is for that step to show.
 */
export async function checkStep(build: () => AreaForm, belongs: (field: string) => boolean, validate: (form: AreaForm) => Promise<unknown>): Promise<Outcome> {
  let body: AreaForm;
  try {
    body = build();
  } catch (e) {
    if (e instanceof ApiFailure && !(e.field && belongs(e.field))) return { ok: true };
    return { ok: false, error: e, jump: false };
  }
  try {
    await validate(body);
    return { ok: true };
  } catch (e) {
    if (e instanceof ApiFailure && e.code === "invalid" && e.field) return belongs(e.field) ? { ok: false, error: e, jump: true } : { ok: true };
    return { ok: false, error: e, jump: false };
  }
}
