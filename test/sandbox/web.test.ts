// Tests for src/sandbox/guest/web.ts: the module is bundled the way the guest runtime
// is (esbuild IIFE), evaluated in a bare isolated-vm context, and most behaviour is
// checked differentially: the same snippet runs against Node's own implementations
// on the host and against ours in the isolate, and the (JSON) results must match.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import ivm from "isolated-vm";

const root = fileURLToPath(new URL("../..", import.meta.url));
const GLOBALS = [
  "TextEncoder", "TextDecoder", "atob", "btoa", "URL", "URLSearchParams", "Headers",
  "Request", "Response", "structuredClone", "queueMicrotask", "DOMException",
  "Blob", "File", "FormData", "Event", "EventTarget", "CustomEvent", "AbortController", "AbortSignal",
];
/** defined as getters that load web-streams-polyfill on first use (guest/streams.ts) */
const LAZY = ["ReadableStream", "WritableStream", "TransformStream", "TextEncoderStream", "TextDecoderStream"];
const ENTRY = `
import { installWebGlobals, bodyToBytes, setResponseUrl } from "./src/sandbox/guest/web.ts";
globalThis.__bare = ${JSON.stringify([...GLOBALS, ...LAZY, "scheduler", "navigator"])}.filter((k) => k in globalThis);
installWebGlobals(globalThis);
globalThis.__web = { bodyToBytes, setResponseUrl };
`;

/** What the guest runtime will pull in: the installer plus the helpers for fetch. */
const SIZE_ENTRY = `
import { installWebGlobals, bodyToBytes, setResponseUrl } from "./src/sandbox/guest/web.ts";
installWebGlobals(globalThis);
globalThis.__web = { bodyToBytes, setResponseUrl };
`;

async function bundle(minify: boolean, contents = ENTRY, external: string[] = []): Promise<string> {
  const r = await build({
    stdin: { contents, resolveDir: root, loader: "ts", sourcefile: "entry.ts" },
    bundle: true, format: "iife", write: false, platform: "neutral", target: "es2022", minify, logLevel: "silent", external,
  });
  return r.outputFiles[0].text;
}

let iso: ivm.Isolate;
let ctx: ivm.Context;

before(async () => {
  iso = new ivm.Isolate({ memoryLimit: 32 });
  ctx = await iso.createContext();
  await ctx.eval(await bundle(false));
});
after(() => iso.dispose());

type Outcome = { ok: unknown } | { err: string };

/** Runs a function body returning a JSON-able value in the isolate. */
async function inIso(code: string): Promise<Outcome> {
  const wrapped = `(() => { try { return JSON.stringify({ ok: (() => { ${code} })() }); }
    catch (e) { return JSON.stringify({ err: e && e.name }); } })()`;
  return JSON.parse(await ctx.eval(wrapped));
}
/** Same, for an async function body. */
async function inIsoAsync(code: string): Promise<Outcome> {
  const wrapped = `(async () => { try { return JSON.stringify({ ok: await (async () => { ${code} })() }); }
    catch (e) { return JSON.stringify({ err: e && e.name }); } })()`;
  return JSON.parse(await ctx.eval(wrapped, { promise: true }));
}
/** Runs the same body on the host, against Node's implementations. */
async function inNode(code: string): Promise<Outcome> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const ok = await new Function(`return (async () => { ${code} })()`)();
    return JSON.parse(JSON.stringify({ ok }));
  } catch (e) {
    return { err: (e as Error).name };
  }
}
async function same(code: string, label = code): Promise<unknown> {
  const [mine, node] = await Promise.all([inIsoAsync(code), inNode(code)]);
  assert.deepEqual(mine, node, label);
  return mine;
}
/** Table version of `same`: runs every snippet and reports all mismatches at once. */
async function sameAll(cases: [label: string, code: string][]): Promise<void> {
  const bad: unknown[] = [];
  for (const [label, code] of cases) {
    const [mine, node] = await Promise.all([inIsoAsync(code), inNode(code)]);
    try {
      assert.deepEqual(mine, node);
    } catch {
      bad.push(JSON.stringify({ case: label, mine, node }));
    }
  }
  assert.deepEqual(bad, []);
}
async function val(code: string): Promise<unknown> {
  const r = await inIsoAsync(code);
  if ("err" in r) assert.fail(`${code}\nthrew ${r.err}`);
  return r.ok;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const js = (v: unknown) => JSON.stringify(v);

describe("installation", () => {
  test("a bare isolate has none of the globals; install defines them like browsers", async () => {
    assert.deepEqual(await val("return globalThis.__bare"), []);
    const descs = await val(`return ${js(GLOBALS)}.map((k) => {
      const d = Object.getOwnPropertyDescriptor(globalThis, k);
      return [k, typeof d.value, d.writable, d.enumerable, d.configurable, d.value.name];
    })`) as unknown[][];
    for (const [k, type, w, e, c, name] of descs) {
      assert.deepEqual([type, w, e, c, name], ["function", true, false, true, k], String(k));
    }
    assert.deepEqual(await val(`return ${js(GLOBALS)}.filter((k) => Object.keys(globalThis).includes(k))`), []);
    await same(`return [
      Object.prototype.toString.call(new URL("http://x")),
      Object.prototype.toString.call(new URLSearchParams()),
      Object.prototype.toString.call(new Headers()),
      Object.prototype.toString.call(new TextEncoder()),
      Object.prototype.toString.call(new Response()),
    ]`);
  });

  test("minified bundle is under 30 KB besides the lazily loaded streams, and works the same", async () => {
    // the streams (web-streams-polyfill, ~60 KB) are only compiled with the rest; they are evaluated
    // on first use, so what every new context evaluates is the rest
    const size = (await bundle(true, SIZE_ENTRY, ["web-streams-polyfill"])).length;
    assert.ok(size < 30_000, `minified size ${size} bytes`);
    const code = await bundle(true);
    const iso2 = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const ctx2 = await iso2.createContext();
      await ctx2.eval(code);
      const out = await ctx2.eval(`JSON.stringify([
        new URL("../x?a=b c", "https://h.com/p/q").href,
        Array.from(new TextEncoder().encode("é😀")),
        new Headers({ A: "1" }).get("a"),
        URL.name, Headers.name, atob.name, String(new URLSearchParams({ a: "b c" })),
      ])`);
      assert.deepEqual(JSON.parse(out), [
        "https://h.com/x?a=b%20c", [195, 169, 240, 159, 152, 128], "1", "URL", "Headers", "atob", "a=b+c",
      ]);
    } finally {
      iso2.dispose();
    }
  });
});

describe("lazy streams", () => {
  test("stream classes are getters that load the streams on first use, then plain values", async () => {
    const iso2 = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const ctx2 = await iso2.createContext();
      await ctx2.eval(await bundle(true));
      const out = await ctx2.eval(`JSON.stringify((() => {
        const before = ${js(LAZY)}.map((k) => typeof Object.getOwnPropertyDescriptor(globalThis, k).get);
        const rs = new Response("x").body; // a body stream loads them; each global becomes a value when first read
        ${js(LAZY)}.forEach((k) => globalThis[k]);
        const after = ${js(LAZY)}.map((k) => { const d = Object.getOwnPropertyDescriptor(globalThis, k); return [typeof d.value, d.writable, d.enumerable]; });
        return [before, rs instanceof ReadableStream, after, ReadableStream.name, TextEncoderStream.name];
      })())`);
      assert.deepEqual(JSON.parse(out as string), [
        LAZY.map(() => "function"), true, LAZY.map(() => ["function", true, false]), "ReadableStream", "TextEncoderStream",
      ]);
    } finally {
      iso2.dispose();
    }
  });
});

describe("TextEncoder / TextDecoder", () => {
  const rand = rng(42);
  const strings = [
    "", "hello", "héllo wörld", "日本語テキスト", "😀👍🏽🇺🇸", "\ud800", "a\udc00b", "x\ud83d", "\udbff\udfff",
    "\u0000\u007f\u0080\u07ff\u0800\uffff", "\ud83d\ude00\ud83d", "\udc00\ud800", "\ufeffbom",
  ];
  const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd, 0xffff];
  for (let i = 0; i < 40; i++) {
    strings.push(String.fromCharCode(...Array.from({ length: Math.floor(rand() * 12) }, () =>
      rand() < 0.5 ? units[Math.floor(rand() * units.length)] : Math.floor(rand() * 0x10000))));
  }

  test("encode matches Node (including emoji and lone surrogates)", async () => {
    const mine = await val(`return ${js(strings)}.map((s) => Array.from(new TextEncoder().encode(s)))`);
    assert.deepEqual(mine, strings.map((s) => Array.from(new TextEncoder().encode(s))));
    await same(`const e = new TextEncoder(); return [e.encoding, Array.from(e.encode()), Array.from(e.encode(null))]`);
  });

  test("encodeInto matches Node for every destination size", async () => {
    const samples = ["a😀b", "é\ud800x", "日本😀", "\ud83d\ude00\ud83d\ude00"];
    await same(`const out = [];
      for (const s of ${js(samples)}) for (let n = 0; n <= 10; n++) {
        const d = new Uint8Array(n).fill(7);
        const r = new TextEncoder().encodeInto(s, d);
        out.push([r.read, r.written, Array.from(d)]);
      }
      return out;`);
  });

  test("decode matches Node for valid, invalid and random byte sequences", async () => {
    const seqs: number[][] = [
      [], [0x41], [0xff], [0xc0, 0x80], [0xc2], [0xc2, 0x41], [0xe0, 0x80, 0x80], [0xe0, 0xa0, 0x80],
      [0xed, 0xa0, 0x80], [0xed, 0x9f, 0xbf], [0xf0, 0x8f, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80], [0xe2, 0x82], [0xe2, 0x82, 0x41], [0xf0, 0x9f, 0x98], [0xf0, 0x9f, 0x98, 0x80],
      [0x80, 0xbf], [0xef, 0xbb, 0xbf, 0x41], [0xef, 0xbb, 0xbf], [0x41, 0xef, 0xbb, 0xbf], [0xfe, 0xff],
    ];
    const hot = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    const rand = rng(7);
    for (let i = 0; i < 300; i++) {
      seqs.push(Array.from({ length: Math.floor(rand() * 16) }, () =>
        rand() < 0.6 ? hot[Math.floor(rand() * hot.length)] : Math.floor(rand() * 256)));
    }
    seqs.push(Array.from({ length: 20000 }, (_, i) => (i % 5000 === 0 ? 0xe2 : 0x61 + (i % 26))));
    await same(`return ${js(seqs)}.map((a) => {
      const b = new Uint8Array(a);
      let fatal;
      try { fatal = new TextDecoder("utf-8", { fatal: true }).decode(b); } catch (e) { fatal = e.name; }
      return [new TextDecoder().decode(b), new TextDecoder("utf-8", { ignoreBOM: true }).decode(b), fatal];
    })`, "decode sequences");
  });

  test("streaming decode matches Node at every split point", async () => {
    const texts = [[0xef, 0xbb, 0xbf, 0x61, 0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98, 0x80, 0x7a], [0xe2, 0x82, 0xc3, 0xa9, 0xf0, 0x9f], [0xef, 0xbb]];
    await same(`const out = [];
      for (const a of ${js(texts)}) for (let i = 0; i <= a.length; i++) for (let j = i; j <= a.length; j++) {
        for (const opts of [{}, { ignoreBOM: true }, { fatal: true }]) {
          const d = new TextDecoder("utf-8", opts), b = new Uint8Array(a);
          try {
            out.push(d.decode(b.subarray(0, i), { stream: true }) + "|" + d.decode(b.subarray(i, j), { stream: true }) + "|" + d.decode(b.subarray(j)));
            out.push(d.decode(b)); // the decoder is reusable after a flush
          } catch (e) { out.push(e.name); }
        }
      }
      return out;`);
  });

  test("decode accepts ArrayBuffer, views and undefined; rejects other labels", async () => {
    await same(`const b = new TextEncoder().encode("xx日本😀yy");
      const d = new TextDecoder();
      return [
        d.decode(b.buffer), d.decode(new DataView(b.buffer, 2, 7)), d.decode(b.subarray(2, 5)), d.decode(),
        d.decode(new Uint16Array(b.buffer.slice(0, 4))), d.encoding, d.fatal, d.ignoreBOM,
        new TextDecoder("UTF8").encoding, new TextDecoder(" utf-8 ").encoding,
      ];`);
    await same(`return new TextDecoder("nope")`);
    // Knowingly unsupported: every encoding other than utf-8.
    assert.deepEqual(await inIso(`return new TextDecoder("latin1")`), { err: "RangeError" });
    await same(`return new TextDecoder().decode("abc")`);
    await same(`const s = "a😀\\u0000é"; return new TextDecoder().decode(new TextEncoder().encode(s)) === s`);
  });
});

describe("atob / btoa", () => {
  test("match Node, including errors", async () => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    for (const s of ["", "f", "fo", "foo", "foob", "fooba", "foobar", "\x00\xff\xfe", all, "€", "a\u0100", "\ud800"]) {
      await same(`return btoa(${js(s)})`);
      await same(`try { return btoa(${js(s)}) } catch (e) { return [e.name, e instanceof DOMException, e instanceof Error] }`);
    }
    const inputs = [
      "", "Zg==", "Zg", "Zm9v", " Zm 9v\n", "Zg=", "Z", "Zm9v=", "Zm=9", "!!!!", "ZA==ZA==", "YQ", "YWJj\tZGVm",
      "Zh==", "Zm9vYg", "Zm9vYmE=", "Zm9vYmE", "YWJjZA===", "/+/+", "-_-_", "\fZg\r==",
      btoa(all),
    ];
    for (const s of inputs) await same(`return atob(${js(s)})`, `atob(${js(s)})`);
    await same(`return [atob(undefined), atob(null), btoa(undefined), btoa(12)]`);
  });
});

describe("URL", () => {
  const PROPS = `[u.href, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.origin, String(u), u.toJSON()]`;
  const absolute = [
    "https://example.com", "HTTPS://EXAMPLE.COM/A/B?Q#F", "http://example.com:80/", "https://example.com:443/x",
    "http://example.com:8080/x", "http://example.com:/x", "http://example.com:0080/", "ws://x:80/", "wss://x:443",
    "ftp://x:21/", "http://user:pass@host/", "http://us er:p@ss@host/", "http://@host/", "http://:pw@host",
    "http://u:@host", "http://a%40b@host/", "http://host/a b/c", "http://host/a/./b/../c", "http://host/a/%2e%2E/b",
    "http://host/a/b/..", "http://host/a/b/.", "http://host/..", "http://host/a\\b\\..\\c", "http://host/a//b",
    "http://host/?q=a b&c='d'", "foo://host/?q='d'", "http://host/#frag ment`", "http://host/p?q#f#g", "http://host/p?#",
    "http://host/%zz%41", "http://host/a^b`c{d}e|f\"g<h>", "http://u^s:p|w@h/", "https://example.com/\u00e9?\u00e9#\u00e9",
    "https://example.com/😀?😀", "http://host/\ud800", "http://[::1]:8080/", "http://[0:0:0:0:0:0:0:1]/",
    "http://[1:0:0:2::3]/", "http://[2001:DB8::1]/", "http://[1:0:0:0:1:0:0:0]/", "http://[0:0:1:0:0:0:1:0]/",
    "http://[1::2::3]/", "http://[::ffff]/", "http://[1:2:3:4:5:6:7:8]/", "http://[1:2:3:4:5:6:7:8:9]/",
    "http://[1:2:3:4::5:6:7:8]/", "http://[::]/", "http://[::1/", "http://[g::1]/", "http://[1:2:3:4:5:6:7::]/",
    "http://1.2.3.4/", "http://256.1.1.1/", "http://1.2.3.4.5/", "http://4294967296/", "http://0.0.0.0/", "http://1.2.3.4./", "http://09.1/", "http://1.2.3.x/",
    "http://example.com./", "http://EXAMPLE.com/", "http://ex%41mple.com/", "http://exa mple.com/", "http://a<b/",
    "http://a%2fb/", "http:/example.com/", "http:example.com/", "http:\\\\example.com\\a", "http:///example.com/",
    "mailto:someone@example.com", "mailto:a b?x", "mailto:a b #x", "data:text/plain,hello world", "javascript:alert(1)",
    "urn:isbn:0451450523", "foo://bar/baz", "foo://", "foo://@h", "foo:/a/../b", "foo:/.//p", "foo://h:99/p",
    "foo://h%41 x/", "foo://[::1]/", "sc://host:65536/", "SC://H/P", "blob:foo", "blob:ftp://x/y", "file:///etc/passwd", "file://localhost/x", "file://host/share/x", "file:foo", "file:/a/b",
    "file://h:80/", "file://u@h/", "file:", "  http://trim.example/  ", "http://tab\t.exam\nple/\r", "", "not a url",
    "http://", "http://:80/", "https://example.com:65535/", "https://example.com:65536/", "https://example.com:8x/",
    "http://a:b@/", "//foo/bar", "http://ex ample/", "h\u0000ttp://x/", "a+b-c.d://x/", "1a://x/", "http://[::1]x/",
  ];
  test("absolute URLs match Node", async () => {
    await sameAll(absolute.flatMap((s): [string, string][] => [
      [`new URL(${js(s)})`, `const u = new URL(${js(s)}); return ${PROPS}`],
      [`URL.canParse(${js(s)})`, `return URL.canParse(${js(s)})`],
    ]));
  });

  test("unsupported: legacy IPv4 forms and non-ASCII (IDNA) hostnames are rejected", async () => {
    for (const s of ["http://127.1/", "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://4294967295/", "http://[::ffff:1.2.3.4]/", "https://münchen.de/"]) {
      assert.deepEqual(await inIso(`return new URL(${js(s)})`), { err: "TypeError" }, s);
      assert.ok(URL.canParse(s), `Node parses ${s}`);
    }
  });

  test("relative resolution matches Node", async () => {
    const cases: [string, string][] = [];
    const rels = [
      "/a?b=1", "a", "./a", "../a", "../../../a", "?q", "#h", "", "//other.com/p", "https:other", "https:/other",
      "http:other", "\\\\y.com\\z", "..", ".", "a/..", "g;x?y#s", "g?y/./x", "%2e%2e/x", "a/b/../../..", " x y ",
      "/\\evil.com", "\\x", "//", "///x", "https://", "?", "#",
    ];
    for (const base of ["https://x.com/c/d?e#f", "foo://h/a/b", "foo:/a/b", "file:///a/b", "http://h"]) {
      for (const r of rels) cases.push([r, base]);
    }
    cases.push(
      ["#h", "mailto:x"], ["y", "mailto:x"], ["", "mailto:x?y"], ["a", "not a url"], ["/a?b=1", "https://x.com/c/d"],
      ["c", "file://host/a/b"], ["/d", "file://host/a/b"], ["//h2/e", "file://host/a/b"], ["file:z", "file:///a/b"],
    );
    await sameAll(cases.map(([r, base]): [string, string] => [`new URL(${js(r)}, ${js(base)})`,
      `const u = new URL(${js(r)}, ${js(base)});
       return [${PROPS}, URL.canParse(${js(r)}, ${js(base)}), URL.parse(${js(r)}, ${js(base)})?.href ?? null]`]));
    await same(`return new URL("a", new URL("https://x.com/b/c")).href`);
    await same(`try { new URL("nope") } catch (e) { return [e instanceof TypeError, /Invalid URL/.test(e.message)] }`);
  });

  test("setters match Node", async () => {
    const ops: [string, string][] = [
      ["protocol", "http"], ["protocol", "http:"], ["protocol", "ftp:"], ["protocol", "foo:"], ["protocol", "ws:x"],
      ["protocol", "h t"], ["protocol", "file"], ["username", "new user"], ["username", ""], ["password", "p@ss:w"],
      ["password", ""], ["host", "other.com:9090"], ["host", "other.com"], ["host", "[::1]:81"], ["host", "a/b"],
      ["host", ""], ["host", "x:99999"], ["host", "UP.com:443"], ["hostname", "sub.example.com"],
      ["hostname", "bad host"], ["hostname", "h:1"], ["hostname", "x?y"], ["port", "443"], ["port", "8081"],
      ["port", ""], ["port", "abc"], ["port", "99999"], ["port", "12ab"], ["pathname", "/x y/z"], ["pathname", "rel"],
      ["pathname", "/a/../b"], ["pathname", "a?b#c"], ["pathname", ""], ["search", "?a=b c"], ["search", "q#x"],
      ["search", ""], ["search", "?"], ["hash", "#x y"], ["hash", "x"], ["hash", ""], ["hash", "#"],
      ["href", "http://new.example/"],
    ];
    await sameAll(["https://user:pw@example.com:8080/a/b?x=1#h", "foo://h/p?q", "mailto:x@y", "file:///a/b", "http://[::1]/"]
      .flatMap((base) => ops.map(([k, v]): [string, string] =>
        [`${base} .${k} = ${js(v)}`, `const u = new URL(${js(base)}); u[${js(k)}] = ${js(v)}; return ${PROPS}`])));
    await same(`const u = new URL("http://x/"); try { u.href = "nope" } catch (e) { return [e.name, u.href] }`);
  });

  test("searchParams is live-linked both ways", async () => {
    await same(`
      const u = new URL("https://x.com/p?a=1&b=2#h"), sp = u.searchParams, out = [];
      sp.append("c", "3 4"); out.push(u.href, u.search);
      u.search = "?z=9&z=8"; out.push(sp.get("z"), sp.getAll("z"), sp.has("a"), u.searchParams === sp);
      sp.delete("z"); out.push(u.href);
      u.href = "http://y/?k=v+w"; out.push(sp.get("k"), [...sp]);
      sp.set("k", "é"); sp.sort(); out.push(u.href);
      u.hash = "x"; u.search = ""; out.push(u.href, sp.size);
      return out;`);
  });

});

describe("URLSearchParams", () => {
  test("constructors and serialization match Node", async () => {
    const inits = [
      '""', '"?a=1&b=2"', '"a=1&a=2&b"', '"&&a=&=b&"', '"+%20%2B=%3D"', '"%zz=%e9%"', '"é=ü&😀=1"', '"a=b=c"',
      '{ a: "1", b: 2, "c d": "e&f" }', '[["a", "1"], ["a", "2"], ["b", "x y"]]', 'new Map([["k", "v"]])',
      'new URLSearchParams("x=1&y=2")', '[["a"]]', '[["a", "b", "c"]]', "undefined", "null", "42",
      '"a=\\ud800"', '[["\\udc00", "x"]]',
    ];
    for (const init of inits) {
      await same(`const p = new URLSearchParams(${init}); return [p.toString(), [...p], p.size]`, `new URLSearchParams(${init})`);
    }
    await same(`return new URLSearchParams({ s: " !\\"#$%&'()*+,-./:;<=>?@[\\\\]^_\`{|}~é" }).toString()`);
  });

  test("methods match Node", async () => {
    await same(`
      const p = new URLSearchParams("b=2&a=1&c=3&a=0"), out = [];
      out.push(p.get("a"), p.get("zz"), p.getAll("a"), p.has("a"), p.has("a", "0"), p.has("a", "9"));
      p.append("d", "4"); p.set("a", "X"); out.push(p.toString());
      p.delete("c"); p.delete("a", "nope"); out.push(p.toString());
      p.append("a", "Y"); p.delete("a", "X"); out.push(p.toString());
      p.append("A", "1"); p.append("a", "2"); p.sort(); out.push(p.toString(), p.size);
      const seen = []; p.forEach(function (v, k, o) { seen.push([k, v, o === p, this.t]); }, { t: 1 });
      out.push(seen, [...p.keys()], [...p.values()], [...p.entries()], typeof p[Symbol.iterator]);
      return out;`);
  });
});

describe("Headers", () => {
  test("behaviour matches Node", async () => {
    await same(`
      const h = new Headers({ "Content-Type": "text/plain", "X-A": " 1 " }), out = [];
      out.push(h.get("content-type"), h.get("x-a"), h.has("X-a"), h.get("nope"));
      h.append("x-a", "2"); h.append("Set-Cookie", "a=1"); h.append("set-cookie", "b=2");
      out.push(h.get("X-A"), h.get("set-cookie"), h.getSetCookie(), [...h]);
      h.set("X-A", "3"); h.delete("content-type"); out.push([...h.keys()], [...h.values()], [...h.entries()]);
      const seen = []; h.forEach((v, k, o) => seen.push([k, v, o === h])); out.push(seen);
      out.push([...new Headers([["b", "1"], ["a", "2"], ["B", "3"]])], [...new Headers(h)], [...new Headers()]);
      const c = new Headers(h); c.set("x-a", "changed"); out.push(h.get("x-a"));
      return out;`);
    for (const bad of ["null", "5", '{ "bad name": "x" }', '{ "": "x" }', '{ a: "x\\ny" }', '{ a: "€" }', '[["a"]]', '[["a", "b", "c"]]', '"str"']) {
      await same(`return [...new Headers(${bad})]`, `new Headers(${bad})`);
    }
    await same(`const h = new Headers(); try { h.append("a b", "1") } catch (e) { return e.name }`);
    await same(`return new Headers({ a: "\\t x \\r\\n" }).get("a")`);
  });
});

describe("Request / Response", () => {
  test("Response basics match Node", async () => {
    await same(`
      const r = new Response("héllo"), out = [r.status, r.statusText, r.ok, r.url, r.redirected, r.bodyUsed];
      out.push([...r.headers], await r.text(), r.bodyUsed);
      try { await r.text(); } catch (e) { out.push(e.name); }
      try { await r.arrayBuffer(); } catch (e) { out.push(e.name); }
      return out;`);
    await same(`const r = new Response(new Uint8Array([1, 2, 255])); return [[...r.headers], Array.from(new Uint8Array(await r.arrayBuffer()))]`);
    await same(`const r = new Response(new Uint16Array([0x4142]).buffer); return Array.from(await r.bytes())`);
    await same(`const r = Response.json({ a: [1, "x"] }, { status: 201, statusText: "Made", headers: { "X-Y": "z" } });
      return [r.status, r.statusText, r.ok, [...r.headers], await r.json()]`);
    await same(`const r = Response.json("s", { headers: { "content-type": "text/custom" } }); return [[...r.headers], await r.text()]`);
    await same(`const r = new Response(null, { status: 204 }); return [r.ok, r.bodyUsed, await r.text(), await r.text(), r.bodyUsed]`);
    await same(`const r = new Response(); return [r.status, await r.text(), [...r.headers]]`);
    await same(`return new Response("x", { status: 204 })`);
    await same(`return new Response("x", { status: 99 })`);
    await same(`return new Response("x", { status: 600 })`);
    await same(`return new Response("x", { statusText: "a\\nb" })`);
    await same(`return new Response(new URLSearchParams("a=1&b=2")).headers.get("content-type")`);
    await same(`const r = new Response("{bad"); try { await r.json(); } catch (e) { return [e.name, r.bodyUsed] }`);
    await same(`const r = new Response("\\ufeffbom"); return await r.text()`);
    await same(`const r = new Response("x", { status: 404, headers: [["a", "1"]] });
      const c = r.clone(); c.headers.set("a", "2");
      return [await r.text(), await c.text(), c.status, r.headers.get("a"), c.headers.get("a")]`);
    await same(`const r = new Response("x"); await r.text(); try { r.clone() } catch (e) { return e.name }`);
  });

  test("Request basics match Node", async () => {
    await same(`const r = new Request("https://x.com/a b?c#d"); return [r.url, r.method, [...r.headers], r.bodyUsed, await r.text()]`);
    await same(`const r = new Request(new URL("https://x.com/p"), { method: "post", body: "x=1", headers: { A: "b" } });
      return [r.url, r.method, [...r.headers], await r.text(), r.bodyUsed]`);
    await same(`return [new Request("http://x/", { method: "patch" }).method, new Request("http://x/", { method: "Delete" }).method]`);
    await same(`return new Request("http://x/", { method: "GET", body: "x" })`);
    await same(`return new Request("http://x/", { method: "HEAD", body: "" })`);
    await same(`return new Request("http://x/", { method: "bad method" })`);
    await same(`return new Request("/relative")`);
    await same(`return new Request("https://user:pw@x.com/")`);
    await same(`const a = new Request("http://x/a", { method: "PUT", body: new Uint8Array([104, 105]), headers: { k: "v" } });
      const b = new Request(a, { headers: { k2: "v2" } });
      return [b.url, b.method, [...b.headers], await b.text()]`);
    await same(`const a = new Request("http://x/a", { method: "POST", body: "hi" }); const c = a.clone();
      return [await a.text(), await c.text(), c.method, c.url]`);
    await same(`const r = new Request("http://x/", { method: "POST", body: new URLSearchParams({ q: "a b" }) });
      return [r.headers.get("content-type"), await r.text()]`);
    await same(`const r = new Request("http://x/", { method: "POST", body: JSON.stringify({ a: 1 }), headers: { "content-type": "application/json" } });
      return [r.headers.get("content-type"), await r.json()]`);
  });

  test("setResponseUrl (internal hook for fetch)", async () => {
    assert.deepEqual(await val(`const r = new Response("x");
      __web.setResponseUrl(r, "https://x.com/a#frag", true);
      const c = r.clone();
      return [r.url, r.redirected, c.url, c.redirected, new Response("y").url]`),
    ["https://x.com/a", true, "https://x.com/a", true, ""]);
    assert.deepEqual(await inIso(`__web.setResponseUrl({}, "x")`), { err: "TypeError" });
  });
});

describe("bodyToBytes", () => {
  test("converts the supported body types to fresh byte copies", async () => {
    assert.deepEqual(await val(`const f = __web.bodyToBytes;
      const ab = new Uint8Array([1, 2, 3, 4]).buffer, fromAb = f(ab);
      new Uint8Array(ab)[0] = 9;
      const u16 = new Uint16Array([0x0201, 0x0403, 0x0605]), view = f(u16.subarray(1));
      return [
        Array.from(f("hé")), Array.from(fromAb), Array.from(view), view.byteOffset, view.buffer.byteLength,
        f(null), f(undefined), Array.from(f(new URLSearchParams("a=1&b=x y"))), f("") instanceof Uint8Array,
        Array.from(f(new DataView(ab, 1, 2))),
      ];`), [[104, 195, 169], [1, 2, 3, 4], [3, 4, 5, 6], 0, 4, null, null, [97, 61, 49, 38, 98, 61, 120, 43, 121], true, [2, 3]]);
    for (const bad of ["42", "{}", "[]", "true"]) {
      assert.deepEqual(await inIso(`return __web.bodyToBytes(${bad})`), { err: "TypeError" }, bad);
    }
  });
});

describe("structuredClone", () => {
  test("deep clone with cycles, shared references and built-in types (same observations as Node)", async () => {
    await same(`
      const shared = { x: 1 }, buf = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer;
      const v = {
        shared, again: shared, arr: [shared, 2, , 4], d: new Date(86400000), r: /a+b/gi, m: new Map([[shared, "s"], ["k", [1]]]),
        s: new Set([shared, "x"]), buf, u8: new Uint8Array(buf, 1, 3), i32: new Int32Array(buf, 4, 1), dv: new DataView(buf, 2, 4),
        f64: new Float64Array([1.5, -0]), big: 10n, e: new RangeError("boom"), e2: new (class MyErr extends Error {})("m"),
        inst: new (class P { constructor() { this.q = 1; } })(), nul: null, undef: undefined, nan: NaN, neg0: -0, str: "s",
      };
      v.self = v; v.arr.push(v.arr);
      const c = structuredClone(v);
      c.shared.x = 2;
      return [
        c !== v, c.self === c, c.again === c.shared, c.arr[0] === c.shared, 2 in c.arr, c.arr.length, c.arr[4] === c.arr,
        v.shared.x, c.d instanceof Date, c.d !== v.d, c.d.getTime(), c.r instanceof RegExp, c.r.source, c.r.flags,
        c.m instanceof Map, c.m.get(c.shared), c.m.get("k"), c.m.get("k") !== v.m.get("k"), c.s.has(c.shared), c.s.has("x"),
        c.buf !== buf, c.u8.buffer === c.buf, c.i32.buffer === c.buf, c.dv.buffer === c.buf, Array.from(c.u8), c.u8.byteOffset,
        c.i32[0], c.dv.byteOffset, c.dv.byteLength, c.dv.getUint8(0), Object.prototype.toString.call(c.f64), Object.is(c.f64[1], -0),
        typeof c.big, c.e instanceof RangeError, c.e.message, c.e2 instanceof Error, c.e2.constructor === Error, c.e2.message,
        Object.getPrototypeOf(c.inst) === Object.prototype, c.inst.q, c.nul, "undef" in c, Number.isNaN(c.nan), Object.is(c.neg0, -0),
        structuredClone("str"), structuredClone(5), structuredClone(null),
      ];`);
  });

  test("throws DataCloneError for functions, symbols and uncloneable objects", async () => {
    for (const v of ["() => 1", "Symbol('s')", "{ f() {} }", "[1, () => 2]", "Promise.resolve()", "new WeakMap()", "new URL('http://x/')", "new Headers()", "new Map([[1, Symbol()]])"]) {
      await same(`try { structuredClone(${v}); return "cloned" } catch (e) { return [e.name, e instanceof Error] }`, `structuredClone(${v})`);
    }
  });
});

describe("queueMicrotask", () => {
  test("runs callbacks as microtasks in order", async () => {
    await same(`const log = [];
      queueMicrotask(() => log.push(1)); Promise.resolve().then(() => log.push(2)); queueMicrotask(() => log.push(3)); log.push(0);
      await null; await null; await null;
      return log;`);
    await same(`queueMicrotask(1)`);
  });
});

describe("Blob, File, FormData, streamed bodies, events and AbortSignal (same observations as Node)", () => {
  test("Blob and File", async () => {
    await sameAll([
      ["parts", `const b = new Blob(["a", new Uint8Array([98, 99]), new Blob(["d"]), new Uint16Array([0x6665]).buffer], { type: "Text/HTML" });
        return [b.size, b.type, await b.text(), Array.from(await b.bytes())]`],
      ["slice", `const b = new Blob(["0123456789"]);
        return [await b.slice().text(), await b.slice(2).text(), await b.slice(-3).text(), await b.slice(2, -2).text(), await b.slice(5, 2).text(),
          await b.slice(-100, 100).text(), b.slice(1, 2, "A/B").type, b.slice(1, 2, "é").type, await b.slice(1.7, 3.2).text()]`],
      ["bad type", `return [new Blob([], { type: "a\u0001b" }).type, new Blob().size, new Blob([]).type]`],
      ["not a sequence", `try { new Blob("abc"); return "made" } catch (e) { return e.name }`],
      ["bom", `return await new Blob(["\ufeffhi"]).text()`],
      ["file", `const f = new File(["x"], "a/b.txt", { type: "text/plain", lastModified: 42 });
        return [f.name, f.size, f.type, f.lastModified, f instanceof Blob, Object.prototype.toString.call(f), Object.prototype.toString.call(new Blob())]`],
      ["file needs a name", `try { new File(["x"]); return "made" } catch (e) { return e.name }`],
      ["stream", `const r = new Blob(["ab", "cd"]).stream().getReader(); let s = ""; for (let x = await r.read(); !x.done; x = await r.read()) s += new TextDecoder().decode(x.value); return s`],
      ["as body", `const r = new Response(new Blob(["hi"], { type: "x/y" })); return [r.headers.get("content-type"), await r.text()]`],
      ["body.blob()", `const b = await new Response("zz", { headers: { "content-type": "q/r" } }).blob(); return [b.size, b.type, await b.text()]`],
    ]);
  });

  test("FormData", async () => {
    await sameAll([
      ["entries", `const f = new FormData(); f.append("a", "1"); f.append("b", "2"); f.append("a", "3"); f.set("a", "4"); f.append("c", 5);
        f.delete("b"); return [[...f], f.get("a"), f.getAll("a"), f.has("b"), f.get("zz"), [...f.keys()], [...f.values()]]`],
      ["set keeps the first position", `const f = new FormData(); f.append("x", "1"); f.append("y", "2"); f.append("x", "3"); f.set("x", "9"); return [...f]`],
      ["files", `const f = new FormData(); f.append("f", new Blob(["abc"], { type: "text/plain" }), "n.txt"); f.append("g", new Blob(["z"]));
        f.append("h", new File(["q"], "orig.bin")); f.append("i", new File(["q"], "orig.bin"), "renamed");
        return [...f].map(([k, v]) => [k, v.name, v.type, v.size, v instanceof File])`],
      ["needs two arguments", `try { new FormData().append("a"); return "ok" } catch (e) { return e.name }`],
      ["urlencoded body", `const r = new Request("http://x/", { method: "POST", body: new URLSearchParams("a=1&b=%20x") }); return [...await r.formData()]`],
      ["multipart round trip", `const f = new FormData(); f.append("t", "line1\\nline2\\r\\nline3"); f.append("q", 'a"b'); f.append("f", new Blob(["\u00e9"], { type: "a/b" }), "x.bin");
        const r = new Response(f); const ct = r.headers.get("content-type"); const back = await r.formData();
        return [ct.startsWith("multipart/form-data; boundary="), [...back].map(([k, v]) => typeof v === "string" ? [k, v] : [k, v.name, v.type])]`],
      ["not a form", `try { await new Response("x").formData(); return "parsed" } catch (e) { return e.name }`],
    ]);
  });

  test("streamed Request/Response bodies", async () => {
    await sameAll([
      ["response from a stream", `const s = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([104, 105])); c.enqueue(new Uint8Array([33])); c.close(); } });
        const r = new Response(s); return [r.body === s, r.bodyUsed, await r.text(), r.bodyUsed, [...r.headers]]`],
      ["body of bytes", `const r = new Response("abc"); const b = r.body; const same = b === r.body; const rd = b.getReader(); const x = await rd.read();
        return [same, Array.from(x.value), (await rd.read()).done, r.bodyUsed]`],
      ["read after getReader", `const r = new Response("abc"); r.body.getReader(); try { await r.text(); return "read" } catch (e) { return [e.name, r.bodyUsed] }`],
      ["non-byte chunk", `const r = new Response(new ReadableStream({ start(c) { c.enqueue("str"); c.close(); } })); try { await r.text(); return "read" } catch (e) { return e.name }`],
      ["clone a stream body", `const r = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([120])); c.close(); } })); const c = r.clone(); return [await r.text(), await c.text()]`],
      ["request from a stream", `const r = new Request("http://x/", { method: "POST", body: new ReadableStream({ start(c) { c.enqueue(new Uint8Array([121])); c.close(); } }), duplex: "half" });
        return [r.body instanceof ReadableStream, await r.text()]`],
      ["GET with a stream", `try { new Request("http://x/", { body: new ReadableStream(), duplex: "half" }); return "made" } catch (e) { return e.name }`],
      ["204 with a stream", `try { new Response(new ReadableStream(), { status: 204 }); return "made" } catch (e) { return e.name }`],
      ["null body", `return [new Response(null).body, new Response().body, new Request("http://x/").body]`],
      ["used body stream", `const r = new Response("q"); await r.text(); const b = r.body; return [b === null, b && b.locked]`],
      ["request moves its stream", `const a = new Request("http://x/", { method: "POST", body: new ReadableStream({ start(c) { c.enqueue(new Uint8Array([65])); c.close(); } }), duplex: "half" });
        const b = new Request(a); return [a.bodyUsed, await b.text()]`],
      ["transform and pipe", `const t = new TransformStream({ transform(c, ctl) { ctl.enqueue(c.toUpperCase()); } });
        const out = new ReadableStream({ start(c) { c.enqueue("ab"); c.enqueue("c"); c.close(); } }).pipeThrough(t).pipeThrough(new TextEncoderStream());
        return await new Response(out).text()`],
      ["text decoder stream", `const out = []; const s = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([0xe2, 0x82])); c.enqueue(new Uint8Array([0xac, 0x41])); c.close(); } }).pipeThrough(new TextDecoderStream());
        for await (const x of s) out.push(x); return out`],
    ]);
  });

  test("Event, EventTarget, AbortController, AbortSignal", async () => {
    await sameAll([
      ["event", `const e = new Event("x", { cancelable: true }); e.preventDefault();
        return [e.type, e.bubbles, e.cancelable, e.defaultPrevented, e.eventPhase, e.target, e.isTrusted, Object.prototype.toString.call(e)]`],
      ["needs a type", `try { new Event(); return "made" } catch (e) { return e.name }`],
      ["listeners", `const t = new EventTarget(), log = []; const f = (e) => log.push("f:" + e.type);
        t.addEventListener("a", f); t.addEventListener("a", f); t.addEventListener("a", { handleEvent: () => log.push("obj") }, { once: true });
        t.addEventListener("a", (e) => { log.push("stop"); e.stopImmediatePropagation(); }); t.addEventListener("a", () => log.push("never"));
        t.dispatchEvent(new Event("a")); t.removeEventListener("a", f); t.dispatchEvent(new Event("a"));
        return [log, t.dispatchEvent(new Event("b"))]`],
      ["signal option", `const t = new EventTarget(), c = new AbortController(), log = [];
        t.addEventListener("a", () => log.push(1), { signal: c.signal }); t.dispatchEvent(new Event("a")); c.abort(); t.dispatchEvent(new Event("a")); return log`],
      ["custom event", `const e = new CustomEvent("c", { detail: { n: 1 } }); return [e.detail, new CustomEvent("d").detail, e instanceof Event]`],
      ["abort", `const c = new AbortController(), log = []; c.signal.onabort = (e) => log.push(e.type); c.signal.addEventListener("abort", () => log.push("l"));
        c.abort("r"); c.abort("again"); return [c.signal.aborted, c.signal.reason, log]`],
      ["default reason", `const c = new AbortController(); c.abort(); return [c.signal.reason instanceof DOMException, c.signal.reason.name, c.signal.reason.message]`],
      ["throwIfAborted", `const s = AbortSignal.abort(new RangeError("x")); try { s.throwIfAborted(); return "no" } catch (e) { return [e.name, e.message] }`],
      ["illegal constructor", `try { new AbortSignal(); return "made" } catch (e) { return e.name }`],
      ["any", `const a = new AbortController(), b = new AbortController(), s = AbortSignal.any([a.signal, b.signal]); b.abort("bee"); const first = [s.aborted, s.reason]; a.abort("ay");
        return [first, AbortSignal.any([AbortSignal.abort("pre")]).reason, AbortSignal.any([]).aborted]`],
    ]);
  });
});
