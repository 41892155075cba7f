// Step identity and replay constants shared by the guest runtime and the host. Pure.
// A durable call is identified by its kind, its name and its occurrence of that (kind, name) in the
// run: the n-th `step.do("load")` is always the same journal entry, whatever happened before it.
export type EntryKind = "do" | "sleep" | "wait" | "rollback";

export const MAX_SLEEP_MS = 365 * 24 * 3600 * 1000;
export const MIN_WAIT_MS = 1000;
export const DEFAULT_WAIT_MS = 24 * 3600 * 1000;

export function stepKey(kind: EntryKind, name: string, count: number): string {
  return `${kind}:${count}:${name}`;
}

const LABEL: Record<EntryKind, string> = { do: "step.do", sleep: "step.sleep", wait: "step.waitForEvent", rollback: "rollback" };

export function describeEntry(kind: EntryKind, name: string, count: number): string {
  return `${LABEL[kind]} "${name}"${count > 1 ? ` (occurrence ${count})` : ""}`;
}
