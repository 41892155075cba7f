// Host objects and the stubs the guest holds for them: the rules both sides apply, decided once.
// Pure (used by the engine and inside the isolate). See engine/host-objects.ts (host side) and
// sandbox/guest/stubs.ts (guest side) for the whole design.

/**
 * Method names a stub never offers and the host never calls, whatever the object holds: the ways
 * into an object's machinery rather than its API (constructor and prototype walks, Object.prototype's
 * reflection helpers), `then` (a stub must never be a thenable: awaiting it would call the host) and
 * `toJSON`/`valueOf`/`toString` (conversions the guest makes on its own stub, never host calls).
 */
export const FORBIDDEN_METHODS: ReadonlySet<string> = new Set([
  "constructor", "prototype", "__proto__", "then", "toJSON", "valueOf", "toString", "toLocaleString",
  "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
  "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__",
]);

/** the longest method name a stub call may name */
export const MAX_METHOD_NAME = 256;

/** May `name` be called on a host object through a stub? ("" is the call of a host function itself.) */
export function methodAllowed(name: unknown): name is string {
  return typeof name === "string" && name.length <= MAX_METHOD_NAME && !FORBIDDEN_METHODS.has(name);
}

/** A position in a value: property names and array indexes from its root. */
export type ValuePath = (string | number)[];

/** a path as a reader sees it, after `root`: `root[0].items.body` */
export function showPath(root: string, path: ValuePath): string {
  let s = root;
  for (const seg of path) s += typeof seg === "number" ? `[${seg}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
  return s;
}

/** the env handle of the host object or Workflow binding at env path `path` (resolved by the run's version) */
export const envHandle = (path: string): string => `env:${path}`;
