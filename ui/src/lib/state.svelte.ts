// App-wide reactive state: the current page, change counters fed by the core's events, the
// catalog and connections caches, the engine's status, and toasts.
import { api, errorMessage } from "./api";
import type { AreaStatus, ConnectionInfo, EngineStatus, ServiceEntry, ActionManifest, ReactionManifest } from "./api";

export type Route =
  | { name: "dashboard" }
  | { name: "services"; connect?: string }
  | { name: "activity"; areaId?: number }
  | { name: "area"; id: number }
  | { name: "wizard"; id?: number; step?: string; recipe?: string }
  | { name: "account" }
  | { name: "settings" };

export const nav = $state<{ route: Route }>({ route: { name: "dashboard" } });

export function go(route: Route): void {
  nav.route = route;
}

/** Bumped when the core says that part changed; pages reload in an $effect reading it. */
export const changes = $state({ session: 0, areas: 0, runs: 0, connections: 0, engine: 0 });

export function bump(kind: string): void {
  if (kind in changes) changes[kind as keyof typeof changes]++;
}

// ---- catalog & connections --------------------------------------------------------------------

export const catalog = $state<{
  services: ServiceEntry[];
  loaded: boolean;
  error: string;
  connections: ConnectionInfo[];
  connectionsLoaded: boolean;
  connectionsError: string;
}>({ services: [], loaded: false, error: "", connections: [], connectionsLoaded: false, connectionsError: "" });

export async function loadCatalog(force = false): Promise<void> {
  if (catalog.loaded && !force) return;
  try {
    catalog.services = await api.services();
    catalog.loaded = true;
    catalog.error = "";
  } catch (e) {
    catalog.error = errorMessage(e);
  }
}

export async function loadConnections(): Promise<void> {
  try {
    catalog.connections = await api.connections();
    catalog.connectionsLoaded = true;
    catalog.connectionsError = "";
  } catch (e) {
    catalog.connectionsError = errorMessage(e);
  }
}

export function findService(id: string): ServiceEntry | undefined {
  return catalog.services.find((s) => s.manifest.id === id);
}

export function serviceName(id: string): string {
  return findService(id)?.manifest.name ?? id;
}

export function findAction(service: string, id: string): ActionManifest | undefined {
  return findService(service)?.manifest.actions.find((a) => a.id === id);
}

export function findReaction(service: string, id: string): ReactionManifest | undefined {
  return findService(service)?.manifest.reactions.find((r) => r.id === id);
}

/** The connection id a service's areas use, or null when it needs none. */
export function connectionKey(entry: ServiceEntry): string | null {
  if (entry.manifest.auth === "none") return null;
  return entry.connection_id ?? entry.manifest.oauth?.id ?? entry.manifest.id;
}

export function connectionOf(entry: ServiceEntry): ConnectionInfo | undefined {
  const key = connectionKey(entry);
  return key ? catalog.connections.find((c) => c.connection_id === key) : undefined;
}

/** Services whose connection is `connectionId` (an OAuth2 provider is shared by several). */
export function servicesUsing(connectionId: string): ServiceEntry[] {
  return catalog.services.filter((s) => connectionKey(s) === connectionId);
}

// ---- engine -----------------------------------------------------------------------------------

/** The engine's status; null until known (or when the core does not say). */
export const engine = $state<{ status: EngineStatus | null }>({ status: null });

export async function loadEngine(): Promise<void> {
  try {
    engine.status = await api.engineStatus();
  } catch {
    engine.status = null;
  }
}

/** The status an area shows: one switched on runs nothing, so shows as paused, while "Pause all" is on. */
export function shownStatus(status: AreaStatus): AreaStatus {
  return status === "on" && engine.status?.paused ? "paused" : status;
}

// ---- toasts -----------------------------------------------------------------------------------

export type Toast = { id: number; text: string; kind: "info" | "error" };
export const toasts = $state<Toast[]>([]);
let toastSeq = 0;

export function toast(text: string, kind: Toast["kind"] = "info", ms = 5000): void {
  const id = ++toastSeq;
  toasts.push({ id, text, kind });
  setTimeout(() => dismissToast(id), ms);
}

export function dismissToast(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}
