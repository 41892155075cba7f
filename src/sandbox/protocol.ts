// What crosses the isolate boundary, and nothing else. The host drives the guest with batches of
// jobs (one synchronous call into the isolate per batch, bounded by the CPU budget); the guest answers
// with the commands its workflow code produced while the microtask queue drained. Values travel as
// structured clones (isolated-vm copies them), never as references, so no host object is reachable.
// A host object an env binding returns stays on the host, in the run's handle table
// (engine/host-objects.ts): the value carries, beside it, where in it the stubs go (`StubRef`), and a
// stub's method call is one command (`stubCall`); stubs passed back as arguments travel as `ArgRef`s.
import type { ErrorInfo } from "../core/errors.ts";
import type { ValuePath } from "../core/stubs.ts";
import type { StepConfigView } from "../core/step-config.ts";

import type { EntryKind } from "../core/replay.ts";
export type { EntryKind };

/** One journaled durable call, as the guest needs it for replay. */
export interface HistoryEntry {
  key: string;
  kind: EntryKind;
  seq: number;
  name: string;
  count: number;
  /** complete: value; failed: error; pending: waiting for retry/timer/event */
  state: "complete" | "failed" | "pending";
  value?: unknown;
  error?: ErrorInfo;
  /** when the entry resolved (commit time): replayed code sees Date.now() advance to it */
  at?: number;
  /** do: attempts that already ended (for ctx.attempt on retry) */
  attempts?: number;
  /** sleep: wake time; wait: timeout time */
  dueAt?: number;
  /** when the call was first made (replay moves the guest clock here at the call) */
  startedAt?: number;
}

export interface InitJob {
  t: "init";
  className: string;
  instanceId: string;
  workflowName: string;
  payload: unknown;
  timestamp: number;
  /** engine time now: decides whether journaled sleeps are already over */
  now: number;
  seed: number;
  /** 32 bytes from the host's CSPRNG, fresh for every run: the key of the randomness step bodies get */
  entropy?: Uint8Array;
  history: HistoryEntry[];
  /** "rollback": replay cached results only, start nothing new, then await a rollback job */
  mode: "run" | "rollback";
  stepLimit: number;
  /** limits.stepResultBytes: a result or output far over it is refused before it crosses to the host */
  resultLimit?: number;
  /** step calls that may be unsettled at once (limits.pendingCalls) */
  pendingLimit: number;
  env: unknown;
}

export type Job =
  | InitJob
  | { t: "runAttempt"; key: string; attempt: number }
  | { t: "resolve"; key: string; value?: unknown; error?: ErrorInfo; at: number }
  | { t: "abandonAttempt"; key: string; attempt: number }
  /** `stubs`: host objects in `value` (a host call's or stub call's answer), each at its path */
  | { t: "hostResult"; id: number; value?: unknown; error?: ErrorInfo; stubs?: StubRef[] }
  | { t: "timer"; id: number }
  | { t: "rollback"; error: ErrorInfo }
  /** the run leaves this context: drop its state */
  | { t: "dispose" };

export type Command =
  /** a step.do / sleep / waitForEvent call that has no final result in the history */
  | {
      t: "call";
      key: string;
      kind: EntryKind;
      seq: number;
      name: string;
      count: number;
      config?: StepConfigView;
      /** sleep */
      durationMs?: number;
      untilMs?: number;
      /** wait */
      eventType?: string;
      timeoutMs?: number;
      /** the guest started attempt 1 at once (no history for this step) */
      started?: boolean;
      startedAt: number;
    }
  | { t: "attemptDone"; key: string; attempt: number; value?: unknown; error?: ErrorInfo }
  /** an env function called; `refs`: stubs among the arguments (null at their paths in `args`) */
  | { t: "hostCall"; id: number; fn: string; args: unknown[]; refs?: ArgRef[] }
  /**
   * A method of a host object called through its stub (`method` "" calls a host function the host
   * handed out). `handle` names the object in this run's handle table, or `env:<path>` for an env
   * binding (a host object or a Workflow binding of the run's version). Answered with a hostResult job.
   */
  | { t: "stubCall"; id: number; handle: string; method: string; args: unknown[]; refs?: ArgRef[] }
  /** a ctx.fs operation; answered with a hostResult job */
  | { t: "fs"; id: number; req: FsRequest; running: [string, number][] }
  | { t: "fetch"; id: number; url: string; method: string; headers: [string, string][]; body: Uint8Array | null }
  | { t: "setTimer"; id: number; ms: number }
  | { t: "clearTimer"; id: number }
  /** the guest stopped waiting for host call `id` (a fetch whose AbortSignal fired): the host may abort it */
  | { t: "cancel"; id: number }
  | { t: "log"; level: string; at: number; message: string }
  | { t: "complete"; value: unknown }
  | { t: "fail"; error: ErrorInfo; rolledBack: boolean }
  | { t: "rollbackDone" };

/**
 * Where a host object sits in a hostResult's value. The value holds at `path` the object's data
 * (its own properties, for a plain object with methods; null for the others), and the guest puts a
 * stub there: `methods` are the names it offers (null: any name, asked of a Proxy when called),
 * `fn`: the object is a function, the stub is callable.
 */
export interface StubRef {
  path: ValuePath;
  h: string;
  methods: string[] | null;
  fn?: true;
}

/** A stub among a call's arguments: the host puts its object at `path` (null there in the args). */
export interface ArgRef {
  path: ValuePath;
  h: string;
}

/** Result of one activation. */
export interface ActivationResult {
  commands: Command[];
  /** log lines dropped because the per-activation console cap was reached */
  droppedLogs: number;
}

// ---- instance storage --------------------------------------------------------------------------
/** A value crossing into or out of the instance's SQL database. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/**
 * ctx.storage.sql is synchronous (as in Durable Objects), so it is the one call the guest makes
 * INTO the host during an activation: a synchronous callback, answered at once. The host knows which
 * run is activating, so the request names no run.
 */
export type SyncRequest =
  /**
   * `running`: the step attempts running in the guest now. The guest starts a first attempt in the
   * same activation that makes the call, before the host has seen the call, so for writes made
   * during an activation the guest's view is the current one (it only decides about the run's own data).
   */
  | { t: "sql"; query: string; params: SqlValue[]; running: [string, number][] }
  /** transactionSync(fn): a savepoint around fn */
  | { t: "sqlTx"; op: "begin" | "commit" | "rollback"; running: [string, number][] }
  /** the database's size in bytes (0 when it was never created) */
  | { t: "sqlSize" };

/**
 * What the guest's one synchronous host callback carries: a run's storage request, or a crypto.subtle
 * primitive (answered whatever run is activating: it touches no instance data).
 */
/** `wasm`: reserve (bytes > 0) or release (bytes < 0) Wasm memory of the isolate (guest/wasm.ts) */
export type HostSyncRequest = SyncRequest | { t: "crypto"; req: CryptoRequest } | { t: "wasm"; bytes: number };

/**
 * crypto.subtle's primitives, computed by node:crypto on the host (src/sandbox/host/crypto.ts). The
 * guest checks the arguments and keeps the keys (guest/subtle.ts); the host checks them again and
 * answers with the bytes, or with a DOMException name and message. `hash`: SHA-1, SHA-256, SHA-384,
 * SHA-512 (MD5 for digest only). AES: GCM (`tagBytes`, `aad`), CBC (PKCS#7), CTR (`counterBits` of
 * the counter block `iv` are the counter), KW (RFC 3394).
 */
export type CryptoRequest =
  | { op: "digest"; hash: string; data: Uint8Array }
  | { op: "hmac"; hash: string; key: Uint8Array; data: Uint8Array }
  | { op: "aes"; mode: "GCM" | "CBC" | "CTR" | "KW"; decrypt: boolean; key: Uint8Array; iv: Uint8Array; data: Uint8Array; aad?: Uint8Array; tagBytes?: number; counterBits?: number }
  | { op: "pbkdf2"; hash: string; password: Uint8Array; salt: Uint8Array; iterations: number; bits: number }
  | { op: "hkdf"; hash: string; key: Uint8Array; salt: Uint8Array; info: Uint8Array; bits: number }
  /** asymmetric keys travel as DER (spki for public keys, pkcs8 for private ones); jwk as its JSON text */
  | { op: "importKey"; alg: AsymAlgorithm; format: "spki" | "pkcs8" | "jwk" | "raw"; data: Uint8Array | string }
  | { op: "exportKey"; alg: AsymAlgorithm; format: "jwk" | "raw"; type: "public" | "private"; der: Uint8Array }
  | { op: "generateKey"; alg: AsymAlgorithm }
  | { op: "sign"; alg: AsymAlgorithm; der: Uint8Array; data: Uint8Array }
  | { op: "verify"; alg: AsymAlgorithm; der: Uint8Array; data: Uint8Array; signature: Uint8Array };

/** An asymmetric signing algorithm as the host needs it: `hash` for RSA and ECDSA, `saltLength` for RSA-PSS signatures. */
export interface AsymAlgorithm {
  name: "RSASSA-PKCS1-v1_5" | "RSA-PSS" | "ECDSA" | "Ed25519";
  hash?: string;
  namedCurve?: string;
  saltLength?: number;
}

/** What importKey and generateKey answer: the key(s) as DER, and what the key's algorithm reports. */
export interface AsymKeyInfo {
  type: "public" | "private";
  der: Uint8Array;
  /** the public half of a generated pair */
  publicDer?: Uint8Array;
  modulusLength?: number;
  publicExponent?: Uint8Array;
  namedCurve?: string;
}

export type SyncReply = { ok: true; value?: unknown } | { ok: false; error: ErrorInfo };

export interface SqlReply {
  columns: string[];
  rows: SqlValue[][];
  rowsRead: number;
  rowsWritten: number;
}

/** ctx.fs operations; `at` reads a past commit instead of the working tree. */
export type FsRequest =
  | { op: "readFile"; path: string; at?: string }
  | { op: "writeFile"; path: string; data: Uint8Array }
  | { op: "mkdir"; path: string; recursive: boolean }
  | { op: "readdir"; path: string; at?: string }
  | { op: "stat"; path: string; at?: string }
  | { op: "exists"; path: string; at?: string }
  | { op: "rm"; path: string; recursive: boolean; force: boolean }
  | { op: "rename"; from: string; to: string }
  | { op: "log"; limit?: number }
  | { op: "diff"; a: string; b?: string };

export type { FsStat, FsCommit, FsChange } from "../core/fs-types.ts";
