// Thin wrapper over the generated tauri-specta bindings: every call resolves to its data or
// throws an ApiFailure carrying the core's ApiError (code, message, field). Components import
// commands and types from here only, so a renamed binding is adapted in this one file.
import { commands, events } from "../bindings";
import type {
  ActionManifest_Serialize,
  ApiError_Serialize,
  AppEvent,
  AreaCard_Serialize,
  AreaDetail_Serialize,
  AreaForm_Serialize,
  AreaSummary_Serialize,
  AreaView_Serialize,
  AutostartStatus,
  ClientKeySetup_Serialize,
  Condition,
  ConnectionInfo_Serialize,
  EngineStatus_Serialize,
  ErrorCode,
  Fix_Serialize,
  ImportedArea_Serialize,
  MailAccountInput_Deserialize,
  OAuthVia,
  ParamSpec_Serialize,
  ReactionManifest_Serialize,
  Recipe_Serialize,
  RunRecord_Serialize,
  SampleEvent,
  ServiceEntry_Serialize,
  ServiceManifest_Serialize,
  TestSent,
  TrustSummary,
  User,
} from "../bindings";

// The UI works with what the core sends (the `_Serialize` shapes, every field present); the
// form it sends back (AreaForm) is assignable to the command's `_Deserialize` argument type.
export type ApiError = ApiError_Serialize;
export type AreaCard = AreaCard_Serialize;
export type AreaDetail = AreaDetail_Serialize;
export type AreaForm = AreaForm_Serialize;
export type AreaSummary = AreaSummary_Serialize;
export type AreaView = AreaView_Serialize;
export type ClientKeySetup = ClientKeySetup_Serialize;
export type ConnectionInfo = ConnectionInfo_Serialize;
export type EngineStatus = EngineStatus_Serialize;
export type Fix = Fix_Serialize;
export type ImportedArea = ImportedArea_Serialize;
export type MailAccountInput = MailAccountInput_Deserialize;
export type ParamSpec = ParamSpec_Serialize;
export type ActionManifest = ActionManifest_Serialize;
export type ReactionManifest = ReactionManifest_Serialize;
export type RunRecord = RunRecord_Serialize;
export type Recipe = Recipe_Serialize;
export type ServiceEntry = ServiceEntry_Serialize;
export type ServiceManifest = ServiceManifest_Serialize;
export type { AppEvent, AutostartStatus, ErrorCode, SampleEvent, TestSent, TrustSummary, User, OAuthVia };
export type {
  AreaStatus,
  Availability,
  Comparison,
  Condition,
  FormStep,
  IngredientSpec,
  Op,
} from "../bindings";

/** A failed command: `code` is the core's error code, `field` the form path it is about. */
export class ApiFailure extends Error {
  readonly code: ErrorCode;
  readonly field: string | null;
  constructor(err: ApiError) {
    super(err.message || "Something went wrong");
    this.name = "ApiFailure";
    this.code = err.code || "internal";
    this.field = err.field ?? null;
  }
}

type Res<T> = { status: "ok"; data: T } | { status: "error"; error: unknown };

function isResult<T>(r: unknown): r is Res<T> {
  if (r === null || typeof r !== "object") return false;
  const o = r as Record<string, unknown>;
  return (o.status === "ok" && "data" in o) || (o.status === "error" && "error" in o);
}

function toApiError(e: unknown): ApiError {
  if (e && typeof e === "object" && "message" in e) {
    const o = e as Partial<ApiError>;
    return { code: typeof o.code === "string" ? o.code : "internal", message: String(o.message), field: o.field ?? null };
  }
  return { code: "internal", message: typeof e === "string" ? e : "Something went wrong", field: null };
}

/** Awaits a Result-returning binding call; returns its data or throws ApiFailure. */
async function run<T>(p: Promise<Res<T>>): Promise<T> {
  let r: unknown;
  try {
    r = await p;
  } catch (e) {
    if (e instanceof ApiFailure) throw e;
    throw new ApiFailure(toApiError(e instanceof Error ? { message: e.message } : e));
  }
  if (isResult<T>(r)) {
    if (r.status === "ok") return r.data;
    throw new ApiFailure(toApiError(r.error));
  }
  return r as T; // a command that cannot fail returns its value as is
}

/** Awaits a binding call that cannot fail (no Result in its type). */
export async function plain<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new ApiFailure(toApiError(e instanceof Error ? { message: e.message } : e));
  }
}

/** Whether a thrown value is a failed command with this code: branch on codes, never on messages. */
export function hasCode(e: unknown, code: ErrorCode): boolean {
  return e instanceof ApiFailure && e.code === code;
}

/** The message of any thrown value, for display. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiFailure || e instanceof Error) return e.message;
  return toApiError(e).message;
}

export const api = {
  appVersion: (): Promise<string> => plain(commands.appVersion()),
  dataDir: (): Promise<string> => plain(commands.dataDir()),
  startupError: (): Promise<ApiError | null> => plain(commands.startupError()),
  uiReady: (): Promise<void> => plain(commands.uiReady()),

  sessionUser: (): Promise<User | null> => run(commands.sessionUser()),
  /** Whether any account exists on this device (a fresh install has none), or null when the core cannot say. */
  hasAccounts: (): Promise<boolean | null> => run(commands.hasAccounts()).catch(() => null),
  signUp: (email: string, password: string): Promise<User> => run(commands.signUp(email, password)),
  signIn: (email: string, password: string): Promise<User> => run(commands.signIn(email, password)),
  signInWith: (provider: "github" | "google"): Promise<User> => run(commands.signInWith(provider)),
  signOut: (): Promise<null> => run(commands.signOut()),

  services: (): Promise<ServiceEntry[]> => plain(commands.services()),
  recipes: (): Promise<Recipe[]> => plain(commands.recipes()),
  connections: (): Promise<ConnectionInfo[]> => run(commands.connections()),
  connectToken: (service: string, token: string, label: string | null): Promise<ConnectionInfo> =>
    run(commands.connectToken(service, token, label)),
  connectMail: (
    service: string,
    account: MailAccountInput,
    password: string,
    label: string | null,
  ): Promise<ConnectionInfo> => run(commands.connectMail(service, account, password, label)),
  beginClientKey: (service: string, redirectUri: string): Promise<ClientKeySetup> =>
    run(commands.beginClientKey(service, redirectUri)),
  clientKeySetup: (service: string): Promise<ClientKeySetup | null> => run(commands.clientKeySetup(service)),
  clientKeyConsent: (service: string, clientId: string): Promise<string> =>
    run(commands.clientKeyConsent(service, clientId)),
  finishClientKey: (
    service: string,
    clientId: string,
    codeOrUrl: string,
    label: string | null,
  ): Promise<ConnectionInfo> => run(commands.finishClientKey(service, clientId, codeOrUrl, label)),
  connectOauth: (service: string, via: OAuthVia): Promise<ConnectionInfo> => run(commands.connectOauth(service, via)),
  cancelOauth: async (): Promise<null> => {
    await plain(commands.cancelOauth());
    return null;
  },
  disconnect: (service: string): Promise<null> => run(commands.disconnect(service)),

  areas: (): Promise<AreaCard[]> => run(commands.areas()),
  area: (id: number): Promise<AreaView> => run(commands.area(id)),
  validateArea: (form: AreaForm): Promise<null> => run(commands.validateArea(form)),
  /** The advanced editor's JSON condition, read by the core (errors on `condition`). */
  readCondition: (text: string): Promise<Condition> => run(commands.readCondition(text)),
  createArea: (form: AreaForm): Promise<AreaSummary> => run(commands.createArea(form)),
  updateArea: (id: number, form: AreaForm): Promise<AreaSummary> => run(commands.updateArea(id, form)),
  setAreaEnabled: (id: number, enabled: boolean): Promise<AreaSummary> => run(commands.setAreaEnabled(id, enabled)),
  deleteArea: (id: number): Promise<null> => run(commands.deleteArea(id)),
  exportArea: (id: number): Promise<string> => run(commands.exportArea(id)),
  reviewImport: (text: string, secrets: Record<string, string> = {}): Promise<TrustSummary[]> =>
    run(commands.reviewImport(text, secrets)),
  importAreas: (text: string, allowPrivateNetwork: boolean): Promise<ImportedArea[]> =>
    run(commands.importAreas(text, allowPrivateNetwork)),
  importAreasWithSecrets: (
    text: string,
    allowPrivateNetwork: boolean,
    secrets: Record<string, string>,
  ): Promise<ImportedArea[]> => run(commands.importAreasWithSecrets(text, allowPrivateNetwork, secrets)),
  sampleEvent: (
    service: string,
    action: string,
    params: Record<string, string>,
    allowPrivateNetwork: boolean,
  ): Promise<SampleEvent> => run(commands.sampleEvent(service, action, params, allowPrivateNetwork)),

  runs: (areaId: number | null, limit: number): Promise<RunRecord[]> => run(commands.runs(areaId, limit)),
  rerun: (runId: number): Promise<null> => run(commands.rerun(runId)),
  sendTest: (id: number): Promise<TestSent> => run(commands.sendTest(id)),

  engineStatus: (): Promise<EngineStatus> => plain(commands.engineStatus()),
  setPaused: (paused: boolean): Promise<EngineStatus> => run(commands.setPaused(paused)),

  autostartStatus: (): Promise<AutostartStatus> => run(commands.autostartStatus()),
  setAutostart: (enabled: boolean): Promise<AutostartStatus> => run(commands.setAutostart(enabled)),
  dismissAutostartSuggestion: (): Promise<null> => run(commands.dismissAutostartSuggestion()),
};

/** Subscribes to the core's change notifications; returns the unsubscribe function. */
export async function onAppEvent(cb: (e: AppEvent) => void): Promise<() => void> {
  return events.appEvent.listen((e) => cb(e.payload));
}
