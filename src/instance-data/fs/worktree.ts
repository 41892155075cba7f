// The working tree of one instance's filesystem (ctx.fs) during a run: a persistent tree over git
// objects. Directories load lazily from their tree objects; a change copies only the directories on
// its path (the committed tree is never mutated), so throwing away a failed attempt's changes is one
// assignment and committing re-hashes only the directories that changed. Objects written by this
// run stay in memory until the journal has them (reads never wait on the store for them).
import { ErrorCode, WeftError } from "../../core/errors.ts";
import type { StoredObject } from "../../store/ports.ts";
import { decodeCommit, decodeTree, encodeCommit, encodeTree, hashObject, type TreeEntry } from "./objects.ts";
import type { FsChange, FsCommit, FsStat } from "../../core/fs-types.ts";

export interface ObjectSource {
  read(oid: string): Promise<StoredObject | undefined>;
}

export type { FsLimits } from "../../core/limits.ts";
import type { FsLimits } from "../../core/limits.ts";

interface FileNode {
  kind: "file";
  oid: string;
  mode: "100644" | "100755";
  size?: number;
}
interface DirNode {
  kind: "dir";
  /** null: changed in this attempt (or new), hashed at commit */
  oid: string | null;
  /** undefined until loaded from the tree object */
  children?: Map<string, Node>;
}
type Node = FileNode | DirNode;

export interface FsCommitResult {
  head: string;
  files: number;
  objects: StoredObject[];
}

const AUTHOR = { name: "Weft", email: "weft@localhost" };

/** Node-style errors (code ENOENT, …) so tenant code can test err.code as it would in Node. */
export function fsError(code: "ENOENT" | "EEXIST" | "ENOTDIR" | "EISDIR" | "ENOTEMPTY" | "EINVAL", what: string, op: string, path: string): Error {
  const e = new Error(`${code}: ${what}, ${op} '${path}'`) as Error & { code: string };
  e.code = code;
  return e;
}

/** The commit message: the step's name and occurrence, and the same as trailers for tools. */
export function commitMessage(step: { name: string; count: number }): string {
  return `${step.name} #${step.count}\n\nWeft-Step: ${JSON.stringify(step.name)}\nWeft-Step-Count: ${step.count}\n`;
}

function parseStep(message: string): FsCommit["step"] {
  const name = /^Weft-Step: (.*)$/m.exec(message)?.[1];
  const count = /^Weft-Step-Count: (\d+)$/m.exec(message)?.[1];
  if (name === undefined || count === undefined) return null;
  try {
    return { name: JSON.parse(name) as string, count: Number(count) };
  } catch {
    return null;
  }
}

export class Worktree {
  head: string | null;
  files: number;
  private committed: DirNode;
  private root: DirNode;
  private committedFiles: number;
  private readonly owned = new Set<DirNode>();
  /** blobs written by the running attempt */
  private readonly attemptBlobs = new Map<string, StoredObject>();
  /** objects of this run not yet confirmed durable in the store */
  private readonly pending = new Map<string, StoredObject>();
  /** commits reachable from head (for validating `at`), filled on first use */
  private history?: Set<string>;
  private readonly src: ObjectSource;
  private readonly limits: FsLimits;

  private constructor(src: ObjectSource, head: string | null, tree: string | null, files: number, limits: FsLimits) {
    this.src = src;
    this.limits = limits;
    this.head = head;
    this.files = files;
    this.committedFiles = files;
    this.committed = tree ? { kind: "dir", oid: tree } : { kind: "dir", oid: null, children: new Map() };
    this.root = this.committed;
  }

  static async open(src: ObjectSource, head: string | null, files: number, limits: FsLimits): Promise<Worktree> {
    const w = new Worktree(src, head, null, files, limits);
    if (head) {
      w.committed = { kind: "dir", oid: (await w.commitInfo(head)).tree };
      w.root = w.committed;
    }
    return w;
  }

  /** the running attempt changed something (it may still hash to the same tree) */
  get touched(): boolean {
    return this.root !== this.committed;
  }

  // ---- objects --------------------------------------------------------------------------------
  private async object(oid: string, type: StoredObject["type"]): Promise<StoredObject> {
    const o = this.pending.get(oid) ?? (await this.src.read(oid));
    if (!o || o.type !== type) throw new WeftError(ErrorCode.NotFound, `git object ${oid} (${type}) is missing from the store`, { oid, type });
    return o;
  }

  private async commitInfo(oid: string) {
    return decodeCommit((await this.object(oid, "commit")).data);
  }

  private async load(dir: DirNode): Promise<Map<string, Node>> {
    if (!dir.children) {
      const entries = decodeTree((await this.object(dir.oid!, "tree")).data);
      dir.children = new Map(entries.map((e): [string, Node] => [e.name, e.mode === "40000" ? { kind: "dir", oid: e.oid } : { kind: "file", oid: e.oid, mode: e.mode as FileNode["mode"] }]));
    }
    return dir.children;
  }

  private async lookup(root: DirNode, names: string[], op: string, path: string): Promise<Node | undefined> {
    let node: Node = root;
    for (const n of names) {
      if (node.kind !== "dir") throw fsError("ENOTDIR", "not a directory", op, path);
      const next: Node | undefined = (await this.load(node)).get(n);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  /** The tree to read: the working tree, or a commit of this instance's history. */
  private async rootAt(at: string | undefined, op: string): Promise<DirNode> {
    if (at === undefined) return this.root;
    if (!/^[0-9a-f]{40}$/.test(at)) throw new WeftError(ErrorCode.InvalidArgument, `fs.${op}: "at" must be a 40-character commit id, got ${JSON.stringify(at)}`, { at });
    if (!(await this.reachable()).has(at)) {
      throw new WeftError(ErrorCode.NotFound, `fs.${op}: commit ${at} is not in this instance's history (see fs.log())`, { at });
    }
    return { kind: "dir", oid: (await this.commitInfo(at)).tree };
  }

  private async reachable(): Promise<Set<string>> {
    if (!this.history) {
      const seen = new Set<string>();
      const todo = this.head ? [this.head] : [];
      while (todo.length) {
        const oid = todo.pop()!;
        if (seen.has(oid)) continue;
        seen.add(oid);
        todo.push(...(await this.commitInfo(oid)).parents);
      }
      this.history = seen;
    }
    return this.history;
  }

  // ---- reads ----------------------------------------------------------------------------------
  async readFile(names: string[], path: string, at?: string): Promise<Uint8Array> {
    const node = await this.lookup(await this.rootAt(at, "readFile"), names, "open", path);
    if (!node) throw fsError("ENOENT", "no such file or directory", "open", path);
    if (node.kind === "dir") throw fsError("EISDIR", "illegal operation on a directory", "read", path);
    return (await this.object(node.oid, "blob")).data;
  }

  async readdir(names: string[], path: string, at?: string): Promise<string[]> {
    const node = await this.lookup(await this.rootAt(at, "readdir"), names, "scandir", path);
    if (!node) throw fsError("ENOENT", "no such file or directory", "scandir", path);
    if (node.kind !== "dir") throw fsError("ENOTDIR", "not a directory", "scandir", path);
    return [...(await this.load(node)).keys()].sort();
  }

  async stat(names: string[], path: string, at?: string): Promise<FsStat | undefined> {
    const node = await this.lookup(await this.rootAt(at, "stat"), names, "stat", path);
    if (!node) return undefined;
    if (node.kind === "dir") return { type: "directory", size: 0, oid: node.oid };
    node.size ??= (await this.object(node.oid, "blob")).data.byteLength;
    return { type: "file", size: node.size, oid: node.oid };
  }

  // ---- writes (the running attempt's) -----------------------------------------------------------
  private async ownRoot(): Promise<DirNode> {
    if (!this.owned.has(this.root)) {
      this.root = { kind: "dir", oid: null, children: new Map(await this.load(this.root)) };
      this.owned.add(this.root);
    }
    return this.root;
  }

  private async ownChild(parent: DirNode, name: string): Promise<DirNode> {
    const c = parent.children!.get(name) as DirNode;
    if (this.owned.has(c)) return c;
    const copy: DirNode = { kind: "dir", oid: null, children: new Map(await this.load(c)) };
    parent.children!.set(name, copy);
    this.owned.add(copy);
    return copy;
  }

  /** The (copied) directory that holds `names`' last name; missing parents are made when `create`. */
  private async parentOf(names: string[], create: boolean, op: string, path: string): Promise<DirNode | undefined> {
    let dir = await this.ownRoot();
    for (const n of names.slice(0, -1)) {
      const c = dir.children!.get(n);
      if (!c) {
        if (!create) return undefined;
        const made: DirNode = { kind: "dir", oid: null, children: new Map() };
        this.owned.add(made);
        dir.children!.set(n, made);
        dir = made;
        continue;
      }
      if (c.kind !== "dir") throw fsError("ENOTDIR", "not a directory", op, path);
      dir = await this.ownChild(dir, n);
    }
    return dir;
  }

  async writeFile(names: string[], path: string, data: Uint8Array): Promise<void> {
    if (data.byteLength > this.limits.fileBytes) {
      throw new WeftError(ErrorCode.StorageLimit, `fs.writeFile: "${path}" is ${data.byteLength} bytes; the limit for one file is ${this.limits.fileBytes} bytes (limits.fileBytes)`, {
        path, bytes: data.byteLength, limitBytes: this.limits.fileBytes,
      });
    }
    const existing = await this.lookup(this.root, names, "open", path);
    if (existing?.kind === "dir") throw fsError("EISDIR", "illegal operation on a directory", "open", path);
    if (!existing) this.checkFiles(1, path);
    const dir = (await this.parentOf(names, true, "open", path))!;
    const oid = hashObject("blob", data);
    const obj: StoredObject = { oid, type: "blob", data };
    this.attemptBlobs.set(oid, obj);
    this.pending.set(oid, obj);
    dir.children!.set(names[names.length - 1]!, { kind: "file", oid, mode: "100644", size: data.byteLength });
    if (!existing) this.files++;
  }

  private checkFiles(more: number, path: string): void {
    if (this.files + more > this.limits.files) {
      throw new WeftError(ErrorCode.StorageLimit, `fs: "${path}" would make ${this.files + more} files; the limit is ${this.limits.files} files per instance (limits.files)`, {
        path, files: this.files + more, limit: this.limits.files,
      });
    }
  }

  async mkdir(names: string[], path: string, recursive: boolean): Promise<void> {
    const existing = await this.lookup(this.root, names, "mkdir", path);
    if (existing) {
      if (existing.kind === "dir" && recursive) return;
      throw fsError("EEXIST", "file already exists", "mkdir", path);
    }
    const dir = await this.parentOf(names, recursive, "mkdir", path);
    if (!dir) throw fsError("ENOENT", "no such file or directory", "mkdir", path);
    const made: DirNode = { kind: "dir", oid: null, children: new Map() };
    this.owned.add(made);
    dir.children!.set(names[names.length - 1]!, made);
  }

  private async countFiles(node: Node): Promise<number> {
    if (node.kind === "file") return 1;
    let n = 0;
    for (const c of (await this.load(node)).values()) n += await this.countFiles(c);
    return n;
  }

  /** files in the working tree (walks it all: for forks and recovery, not for hot paths) */
  countAll(): Promise<number> {
    return this.countFiles(this.root);
  }

  async rm(names: string[], path: string, recursive: boolean, force: boolean): Promise<void> {
    const node = await this.lookup(this.root, names, "rm", path);
    if (!node) {
      if (force) return;
      throw fsError("ENOENT", "no such file or directory", "rm", path);
    }
    if (node.kind === "dir" && !recursive) {
      throw fsError("EISDIR", "is a directory (pass { recursive: true } to remove it with its contents)", "rm", path);
    }
    const gone = await this.countFiles(node);
    const dir = (await this.parentOf(names, false, "rm", path))!;
    dir.children!.delete(names[names.length - 1]!);
    this.files -= gone;
  }

  async rename(from: string[], fromPath: string, to: string[], toPath: string): Promise<void> {
    const node = await this.lookup(this.root, from, "rename", fromPath);
    if (!node) throw fsError("ENOENT", "no such file or directory", "rename", fromPath);
    if (from.join("/") === to.join("/")) return;
    if (to.length > from.length && to.slice(0, from.length).join("/") === from.join("/")) {
      throw fsError("EINVAL", "cannot move a directory into itself", "rename", `${fromPath}' -> '${toPath}`);
    }
    const target = await this.lookup(this.root, to, "rename", toPath);
    if (target?.kind === "dir") throw fsError("EISDIR", "the destination is a directory", "rename", `${fromPath}' -> '${toPath}`);
    if (target && node.kind === "dir") throw fsError("ENOTDIR", "the destination is a file", "rename", `${fromPath}' -> '${toPath}`);
    const src = (await this.parentOf(from, false, "rename", fromPath))!;
    src.children!.delete(from[from.length - 1]!);
    const dst = (await this.parentOf(to, true, "rename", toPath))!;
    dst.children!.set(to[to.length - 1]!, node);
    if (target) this.files--; // a file replaced by a file
  }

  // ---- attempts -------------------------------------------------------------------------------
  /** Forget the running attempt's changes. */
  rollback(): void {
    for (const oid of this.attemptBlobs.keys()) this.pending.delete(oid);
    this.attemptBlobs.clear();
    this.owned.clear();
    this.root = this.committed;
    this.files = this.committedFiles;
  }

  /** Seal the attempt's changes into a commit (null if the tree did not change). */
  async commit(step: { name: string; count: number }, atMs: number): Promise<FsCommitResult | null> {
    if (this.root === this.committed) return null;
    const objects: StoredObject[] = [];
    const before = this.committed.oid;
    const tree = await this.seal(this.root, objects, new Set());
    this.owned.clear();
    this.attemptBlobs.clear();
    this.committed = this.root;
    this.committedFiles = this.files;
    if (tree === before) return null; // changed and changed back
    const who = { ...AUTHOR, timestamp: Math.floor(atMs / 1000), tzOffsetMinutes: 0 };
    const data = encodeCommit({ tree, parents: this.head ? [this.head] : [], author: who, committer: who, message: commitMessage(step) });
    const oid = hashObject("commit", data);
    const c: StoredObject = { oid, type: "commit", data };
    objects.push(c);
    this.pending.set(oid, c);
    this.head = oid;
    this.history?.add(oid);
    return { head: oid, files: this.files, objects };
  }

  private async seal(dir: DirNode, out: StoredObject[], seen: Set<string>): Promise<string> {
    if (dir.oid !== null) return dir.oid;
    const entries: TreeEntry[] = [];
    for (const [name, c] of await this.load(dir)) {
      if (c.kind === "dir") entries.push({ name, mode: "40000", oid: await this.seal(c, out, seen) });
      else {
        entries.push({ name, mode: c.mode, oid: c.oid });
        const blob = this.attemptBlobs.get(c.oid);
        if (blob && !seen.has(c.oid)) (seen.add(c.oid), out.push(blob));
      }
    }
    const data = encodeTree(entries);
    const oid = hashObject("tree", data);
    dir.oid = oid;
    if (!seen.has(oid)) {
      seen.add(oid);
      const t: StoredObject = { oid, type: "tree", data };
      out.push(t);
      this.pending.set(oid, t);
    }
    return oid;
  }

  /** The store has these objects now: reads may go there. */
  persisted(objects: StoredObject[]): void {
    for (const o of objects) this.pending.delete(o.oid);
  }

  // ---- history --------------------------------------------------------------------------------
  async log(limit = 1000): Promise<FsCommit[]> {
    const out: FsCommit[] = [];
    for (let oid = this.head; oid && out.length < limit;) {
      const c = await this.commitInfo(oid);
      out.push({ oid, message: c.message, step: parseStep(c.message), at: c.committer.timestamp * 1000, parents: c.parents });
      oid = c.parents[0] ?? null;
    }
    return out;
  }

  async diff(a: string, b: string | undefined): Promise<FsChange[]> {
    const ra = await this.rootAt(a, "diff");
    const rb = b === undefined ? { kind: "dir" as const, oid: this.head ? (await this.commitInfo(this.head)).tree : null, children: this.head ? undefined : new Map() } : await this.rootAt(b, "diff");
    const out: FsChange[] = [];
    await this.compare(ra, rb, "", out);
    return out;
  }

  private async compare(a: DirNode | undefined, b: DirNode | undefined, prefix: string, out: FsChange[]): Promise<void> {
    if (a && b && a.oid !== null && a.oid === b.oid) return;
    const ca = a ? await this.load(a) : new Map<string, Node>();
    const cb = b ? await this.load(b) : new Map<string, Node>();
    for (const name of [...new Set([...ca.keys(), ...cb.keys()])].sort()) {
      const x = ca.get(name);
      const y = cb.get(name);
      const path = prefix + name;
      if (x?.kind === "dir" || y?.kind === "dir") {
        await this.compare(x?.kind === "dir" ? x : undefined, y?.kind === "dir" ? y : undefined, path + "/", out);
        if (x?.kind === "file") out.push({ path, change: "deleted" });
        if (y?.kind === "file") out.push({ path, change: "added" });
      } else if (!x) out.push({ path, change: "added" });
      else if (!y) out.push({ path, change: "deleted" });
      else if (x.oid !== y.oid) out.push({ path, change: "modified" });
    }
  }
}
