// Secrets in a deploy's env: sealed with AES-256-GCM before the version is stored, opened only to
// build the env a run receives inside its isolate — never stored, returned or logged in the clear.
// The seal is deterministic (the IV is an HMAC of the plaintext), so deploying the same secret again
// gives the same version; equal secrets are therefore recognisable as equal, and nothing more.
// The key comes from WEFT_SECRET_KEY (32 bytes, base64 or hex) or, for the embedded store only, from
// <data>/secret.key, made on first use with mode 0600 (it lives with the data it protects, on one
// machine). A shared store needs the explicit key: every node must open what any node sealed, and a
// key file on one node would make its secrets unreadable everywhere else.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, WeftError } from "../core/errors.ts";
import { mapEnv } from "../core/env-codec.ts";

/** A value for a deploy's env that is stored sealed: `env: { API_KEY: secret("…") }`. */
export class SecretValue {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toJSON(): string {
    return "[secret]";
  }
}

/** A host function the embedding application registered with the engine (EngineOptions.hostFunctions), by name. */
export class HostFunctionRef {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

/**
 * A Workflow binding to one of the deploying tenant's own workflows: `env: { CHILD: workflowBinding("child") }`
 * (HTTP: `{ "workflow": "child" }`) gives the run `this.env.CHILD.create/createBatch/get/deleteBatch`.
 * `tenant`, if given, must be the deploying tenant (a binding never reaches another tenant's workflows).
 */
export class WorkflowBindingRef {
  readonly workflow: string;
  readonly tenant?: string;
  constructor(workflow: string, tenant?: string) {
    this.workflow = workflow;
    if (tenant !== undefined) this.tenant = tenant;
  }
}

export const secret = (value: string): SecretValue => new SecretValue(value);
export const hostFunction = (name: string): HostFunctionRef => new HostFunctionRef(name);
export const workflowBinding = (workflow: string, options?: { tenant?: string }): WorkflowBindingRef => new WorkflowBindingRef(workflow, options?.tenant);

function parseKey(text: string, where: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== 32) throw new WeftError(ErrorCode.InvalidArgument, `${where} must be 32 bytes, as 64 hex characters or base64; got ${key.length} bytes`, { where });
  return key;
}

export class SecretBox {
  private readonly key: Buffer;
  constructor(key: Buffer) {
    this.key = key;
  }

  /** The key from `configured` (WEFT_SECRET_KEY) or the data directory's key file, made if missing. */
  static load(dataDir: string, configured: string | undefined, keyFile = true): SecretBox {
    if (configured) return new SecretBox(parseKey(configured, "WEFT_SECRET_KEY"));
    if (!keyFile) {
      throw new WeftError(ErrorCode.InvalidState, "secrets need WEFT_SECRET_KEY (or EngineOptions.secretKey) with a shared store: every node must use the same key, so no node-local key file is made; set it to 32 random bytes (e.g. `openssl rand -base64 32`) on every node", { field: "secretKey" });
    }
    const file = join(dataDir, "secret.key");
    if (existsSync(file)) return new SecretBox(parseKey(readFileSync(file, "utf8"), file));
    mkdirSync(dataDir, { recursive: true });
    const key = randomBytes(32);
    writeFileSync(file, key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    return new SecretBox(key);
  }

  seal(plaintext: string): string {
    const iv = createHmac("sha256", this.key).update(plaintext).digest().subarray(0, 12);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64url");
  }

  open(sealed: string): string {
    const b = Buffer.from(sealed, "base64url");
    try {
      const d = createDecipheriv("aes-256-gcm", this.key, b.subarray(0, 12));
      d.setAuthTag(b.subarray(12, 28));
      return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString("utf8");
    } catch {
      throw new WeftError(ErrorCode.Internal, "a secret of this version cannot be opened: the secret key (WEFT_SECRET_KEY or <data>/secret.key) is not the one it was sealed with");
    }
  }
}

/** env with every sealed secret opened (what a run receives); see core/env-codec.ts. */
export function openSecrets(v: unknown, box: () => SecretBox): unknown {
  return mapEnv(v, (m, _path, raw) => (m.kind === "secret" ? box().open(m.sealed) : raw));
}

/**
 * env as the API shows it: secrets as { secret: true }, host functions and objects as { hostFunction }
 * (registered by name) / { function: path } / { object: path }, Workflow bindings as { workflow }.
 */
export function redactEnv(v: unknown, hostNames: Record<string, string> = {}): unknown {
  return mapEnv(v, (m) => {
    if (m.kind === "secret") return { secret: true };
    if (m.kind === "workflow") return { workflow: m.workflow };
    if (hostNames[m.path]) return { hostFunction: hostNames[m.path] };
    return m.kind === "obj" ? { object: m.path } : { function: m.path };
  });
}
