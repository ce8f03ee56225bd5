// Account rules the UI states up front. The core enforces them and exports their values into the
// generated bindings, so the form and the core cannot disagree.

/** Shortest password the core accepts (`MIN_PASSWORD_CHARS` in core's accounts module). */
export { MIN_PASSWORD_CHARS } from "../bindings";
