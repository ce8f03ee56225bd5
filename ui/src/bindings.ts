// TEMPORARY hand-written stand-in for the tauri-specta bindings (see /tmp/area5/contract.md).
// The lead's `cargo test -p area-app export_bindings` overwrites this file; the UI only uses it
// through src/lib/api.ts, so the generated names are adapted there.

/** user-defined commands **/

export const commands = {
  async sessionUser(): Promise<Result<User | null, ApiError>> {
    return call("session_user", {});
  },
  async signUp(email: string, password: string): Promise<Result<User, ApiError>> {
    return call("sign_up", { email, password });
  },
  async signIn(email: string, password: string): Promise<Result<User, ApiError>> {
    return call("sign_in", { email, password });
  },
  async signInWith(provider: string): Promise<Result<User, ApiError>> {
    return call("sign_in_with", { provider });
  },
  async signOut(): Promise<Result<null, ApiError>> {
    return call("sign_out", {});
  },
  async services(): Promise<Result<ServiceEntry[], ApiError>> {
    return call("services", {});
  },
  async connections(): Promise<Result<ConnectionInfo[], ApiError>> {
    return call("connections", {});
  },
  async connectToken(service: string, token: string, label: string | null): Promise<Result<ConnectionInfo, ApiError>> {
    return call("connect_token", { service, token, label });
  },
  async connectOauth(service: string, via: OAuthVia): Promise<Result<ConnectionInfo, ApiError>> {
    return call("connect_oauth", { service, via });
  },
  async cancelOauth(): Promise<Result<null, ApiError>> {
    return call("cancel_oauth", {});
  },
  async disconnect(service: string): Promise<Result<null, ApiError>> {
    return call("disconnect", { service });
  },
  async areas(): Promise<Result<AreaCard[], ApiError>> {
    return call("areas", {});
  },
  async area(id: number): Promise<Result<AreaView, ApiError>> {
    return call("area", { id });
  },
  async validateArea(form: AreaForm): Promise<Result<null, ApiError>> {
    return call("validate_area", { form });
  },
  async createArea(form: AreaForm): Promise<Result<AreaSummary, ApiError>> {
    return call("create_area", { form });
  },
  async updateArea(id: number, form: AreaForm): Promise<Result<AreaSummary, ApiError>> {
    return call("update_area", { id, form });
  },
  async setAreaEnabled(id: number, enabled: boolean): Promise<Result<AreaSummary, ApiError>> {
    return call("set_area_enabled", { id, enabled });
  },
  async deleteArea(id: number): Promise<Result<null, ApiError>> {
    return call("delete_area", { id });
  },
  async exportArea(id: number): Promise<Result<string, ApiError>> {
    return call("export_area", { id });
  },
  async importAreas(text: string): Promise<Result<AreaSummary[], ApiError>> {
    return call("import_areas", { text });
  },
  async sampleEvent(
    service: string,
    action: string,
    params: Partial<{ [key in string]: string }>,
  ): Promise<Result<SampleEvent, ApiError>> {
    return call("sample_event", { service, action, params });
  },
  async runs(areaId: number | null, limit: number): Promise<Result<RunRecord[], ApiError>> {
    return call("runs", { areaId, limit });
  },
  async rerun(runId: number): Promise<Result<null, ApiError>> {
    return call("rerun", { runId });
  },
  async engineStatus(): Promise<Result<EngineStatus, ApiError>> {
    return call("engine_status", {});
  },
  async setPaused(paused: boolean): Promise<Result<EngineStatus, ApiError>> {
    return call("set_paused", { paused });
  },
};

/** user-defined events **/

export const events = {
  appEvent: {
    listen: (cb: TAURI_API_EVENT.EventCallback<AppEvent>) => TAURI_API_EVENT.listen<AppEvent>("app-event", cb),
  },
};

/** user-defined types **/

export type ApiError = { code: string; message: string; field: string | null };
export type User = { id: number; email: string; created_at: number };
export type AuthKind = "none" | "api_key" | "o_auth2";
export type Availability =
  | { status: "available" }
  | { status: "limited"; reason: string }
  | { status: "unofficial"; reason: string }
  | { status: "unavailable"; reason: string };
export type ParamSpec = {
  id: string;
  label: string;
  help: string;
  required: boolean;
  default: string | null;
  templated: boolean;
} & (
  | { type: "string" }
  | { type: "integer"; min: number | null; max: number | null }
  | { type: "number" }
  | { type: "boolean" }
  | { type: "enum"; choices: string[] }
  | { type: "url" }
  | { type: "string_map" }
  | { type: "date_time" }
);
export type IngredientSpec = { id: string; description: string; example: string };
export type ActionManifest = {
  id: string;
  name: string;
  description: string;
  params: ParamSpec[];
  ingredients: IngredientSpec[];
  dynamic_ingredients: boolean;
  min_interval_secs: number | null;
};
export type ReactionManifest = { id: string; name: string; description: string; params: ParamSpec[] };
export type OAuthProvider = {
  id: string;
  auth_url: string;
  token_url: string;
  scopes: string[];
  extra_auth_params: string[];
};
export type ServiceManifest = {
  id: string;
  name: string;
  description: string;
  auth: AuthKind;
  oauth: OAuthProvider | null;
  availability: Availability;
  actions: ActionManifest[];
  reactions: ReactionManifest[];
};
export type ServiceEntry = { manifest: ServiceManifest; connection_id: string | null; sample_actions: string[] };
export type ConnectionInfo = {
  connection_id: string;
  kind: string;
  account_label: string | null;
  status: string;
  reason: string | null;
  expires_at: number | null;
};
export type OAuthVia = "loopback" | "deep_link";
export type FormStep = { service: string; id: string; params: Partial<{ [key in string]: string }> };
export type Op = "equals" | "not_equals" | "contains" | "not_contains" | "greater_than" | "less_than" | "matches";
export type ConditionValue =
  | string
  | number
  | boolean
  | ConditionValue[]
  | Partial<{ [key in string]: ConditionValue }>
  | null;
export type Comparison = { ingredient: string; op: Op; value: ConditionValue };
export type Condition = Comparison | { all: Condition[] } | { any: Condition[] } | { not: Condition };
export type AreaForm = {
  name: string;
  action: FormStep;
  reactions: FormStep[];
  condition: Condition | null;
  enabled: boolean;
  interval_secs: number | null;
  allow_private_network: boolean;
};
export type AreaStatus = "on" | "off" | "paused";
export type StepRef = { service: string; id: string };
export type AreaSummary = {
  id: number;
  name: string;
  enabled: boolean;
  status: AreaStatus;
  paused_reason: string | null;
  action: StepRef;
  reactions: StepRef[];
  summary: string;
  interval_secs: number;
  created_at: number;
  updated_at: number;
};
export type Fix = { kind: string; service: string | null; label: string };
export type LastRun = { id: number; status: string; at: number; error: string | null };
export type AreaCard = {
  summary: AreaSummary;
  next_check_at: number | null;
  last_run: LastRun | null;
  consecutive_failures: number;
  last_error: string | null;
  fix: Fix | null;
};
export type StepSpec = { service: string; id: string; params: Partial<{ [key in string]: string }> };
export type AreaSpec = {
  name: string;
  action: StepSpec;
  reactions: StepSpec[];
  condition?: Condition | null;
  enabled: boolean;
  interval_secs?: number | null;
  allow_private_network: boolean;
};
export type RunCounts = {
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  skipped: number;
  unknown_outcome: number;
  total: number;
};
export type AreaDetail = AreaSummary & {
  spec: AreaSpec;
  last_error: string | null;
  consecutive_failures: number;
  baselined: boolean;
  last_polled_at: number | null;
  webhook_token: string | null;
  webhook_url: string | null;
  runs: RunCounts;
};
export type AreaView = { detail: AreaDetail; form: AreaForm };
export type RunRecord = {
  id: number;
  area_id: number;
  area_name: string;
  event_key: string;
  status: string;
  attempts: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  next_attempt_at: number | null;
  error: string | null;
  summary: string | null;
  ingredients: string;
};
export type SampleValue = { id: string; value: string };
export type SampleEvent = { ingredients: SampleValue[]; items: number };
export type EngineStatus = { running: boolean; paused: boolean; error: string | null; webhook_base: string | null };
export type ChangeKind = "session" | "areas" | "runs" | "connections" | "engine";
export type AppEvent = { kind: ChangeKind };

/** tauri-specta globals **/

import { invoke as TAURI_INVOKE } from "@tauri-apps/api/core";
import * as TAURI_API_EVENT from "@tauri-apps/api/event";

export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

async function call<T>(cmd: string, args: Record<string, unknown>): Promise<Result<T, ApiError>> {
  try {
    return { status: "ok", data: await TAURI_INVOKE<T>(cmd, args) };
  } catch (e) {
    if (e instanceof Error) throw e;
    return { status: "error", error: e as ApiError };
  }
}
