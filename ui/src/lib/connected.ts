// What the app says once a connection is saved: whose account it is when the core checked the
// token with the service, and plainly that it was not checked when the service offers no way to.
import type { ConnectionInfo, ServiceEntry } from "./api";

/** The toast after connecting `entry`, from the connection the core saved. */
export function connectedMessage(entry: ServiceEntry, info: ConnectionInfo): string {
  const name = entry.manifest.name;
  if (entry.manifest.auth === "api_key" && !entry.checks_token) {
    return `${name} saved, not checked: ${name} offers no way to check a token`;
  }
  return info.account_label ? `${name} connected as ${info.account_label}` : `${name} connected`;
}
