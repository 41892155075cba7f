// Runs INSIDE the isolate. WebAssembly as tenant code sees it. isolated-vm counts ArrayBuffer and
// SharedArrayBuffer allocations against the isolate's heap limit, but not Wasm memories: a 4 GiB
// `new WebAssembly.Memory` was allocated in a 128 MB isolate. So:
// - compiling Wasm from bytes is refused, as in Cloudflare Workers ("Wasm code generation disallowed
//   by embedder"; Weft bundles carry no .wasm modules), which also keeps memories a module declares
//   out of reach;
// - WebAssembly.Memory (and its grow) asks the host first: the bytes of all live memories of the
//   isolate (every realm of it) stay within limits.memoryMb. A memory that would not fits throws a
//   RangeError that names the limit.
import { define } from "./determinism.ts";

const PAGE = 65536;

// (the guest's TypeScript lib has no WebAssembly types: the little used here, by hand)
interface WasmMemory {
  grow(delta: number): number;
}
interface WasmNamespace {
  Memory: { new (desc: { initial: number; maximum?: number; shared?: boolean }): WasmMemory; prototype: WasmMemory };
  CompileError: new (message: string) => Error;
}

/** `ask(bytes)`: reserve (or with a negative count release) Wasm memory; undefined if granted, else the refusal */
export function installWasm(g: Record<string, unknown>, ask: (bytes: number) => string | undefined): void {
  const W = g.WebAssembly as WasmNamespace | undefined;
  if (!W) return;
  const RealMemory = W.Memory;
  const realGrow = RealMemory.prototype.grow;
  // captured before the determinism layer takes it away: only this runtime releases memory with it
  const FR = g.FinalizationRegistry as typeof FinalizationRegistry | undefined;
  const held = new WeakMap<object, { bytes: number }>();
  const registry = FR ? new FR<{ bytes: number }>((h) => void ask(-h.bytes)) : undefined;
  const charge = (bytes: number, what: string) => {
    const refused = ask(bytes);
    if (refused !== undefined) throw new RangeError(`${what}: ${refused}`);
  };
  const pages = (v: unknown, what: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`${what}: page count must be a non-negative integer, got ${String(v)}`);
    return n;
  };
  function Memory(this: unknown, desc: { initial: number }) {
    if (!new.target) throw new TypeError("WebAssembly.Memory must be invoked with 'new'");
    const bytes = pages(desc?.initial, "WebAssembly.Memory") * PAGE;
    charge(bytes, `WebAssembly.Memory of ${bytes} bytes`);
    let m: WasmMemory;
    try {
      m = new RealMemory(desc as { initial: number });
    } catch (e) {
      ask(-bytes);
      throw e;
    }
    const h = { bytes };
    held.set(m, h);
    registry?.register(m, h);
    return m;
  }
  Memory.prototype = RealMemory.prototype;
  Object.defineProperty(RealMemory.prototype, "constructor", { value: Memory, writable: true, configurable: true });
  Object.defineProperty(RealMemory.prototype, "grow", {
    writable: true, configurable: true,
    value: function grow(this: WasmMemory, delta: number) {
      const h = held.get(this);
      const bytes = pages(delta, "WebAssembly.Memory.grow") * PAGE;
      charge(bytes, `WebAssembly.Memory.grow by ${bytes} bytes`);
      try {
        const r = realGrow.call(this, delta);
        if (h) h.bytes += bytes;
        return r;
      } catch (e) {
        ask(-bytes);
        throw e;
      }
    },
  });
  const disallowed = (): never => {
    throw new W.CompileError("Wasm code generation disallowed by embedder");
  };
  function Module(): never {
    return disallowed();
  }
  define(g, "WebAssembly", Object.freeze({
    ...Object.fromEntries(["Global", "Table", "Tag", "Exception", "CompileError", "LinkError", "RuntimeError", "validate"].filter((k) => k in W).map((k) => [k, (W as unknown as Record<string, unknown>)[k]])),
    Memory, Module,
    compile: async () => disallowed(), instantiate: async () => disallowed(),
    compileStreaming: async () => disallowed(), instantiateStreaming: async () => disallowed(),
    [Symbol.toStringTag]: "WebAssembly",
  }));
}
