// The guest's randomness (issue 12, item 7), run in Node: the CSPRNG step bodies draw from is
// ChaCha20 (RFC 8439 block function, checked against RFC 7539's appendix A.1 keystream), and the
// attribution that decides between it and the replay-stable stream follows a step body across awaits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SecureRandom } from "../../src/sandbox/guest/determinism.ts";
import { inStepBody, runBody } from "../../src/sandbox/guest/attribution.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("SecureRandom is ChaCha20: RFC 7539 A.1 test vectors #1 and #2 (all-zero key and nonce, blocks 0 and 1)", () => {
  const out = new Uint8Array(128);
  new SecureRandom(new Uint8Array(32)).fill(out);
  assert.equal(hex(out.subarray(0, 64)), "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586");
  assert.equal(hex(out.subarray(64)), "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f");
});

test("SecureRandom: odd lengths, doubles in [0, 1), different keys give different streams", () => {
  const a = new SecureRandom(new Uint8Array(32).fill(1));
  const b = new SecureRandom(new Uint8Array(32).fill(2));
  const x = new Uint8Array(7), y = new Uint8Array(7);
  a.fill(x);
  b.fill(y);
  assert.notEqual(hex(x), hex(y));
  for (let i = 0; i < 1000; i++) {
    const v = a.next();
    assert.ok(v >= 0 && v < 1);
  }
  assert.throws(() => new SecureRandom(new Uint8Array(16)));
});

test("attribution: inside a body before and after awaits, through awaited helpers and .then callbacks; outside it is not", async () => {
  const run = {};
  const seen: Record<string, boolean> = {};
  const helper = async () => {
    await new Promise((r) => setTimeout(r, 1));
    seen.helper = inStepBody();
  };
  let outsideLater = false;
  const outside = (async () => {
    await new Promise((r) => setTimeout(r, 2));
    outsideLater = inStepBody();
  })();
  const p = runBody({ run, key: "do:1:a", attempt: 1, kind: "do", ended: false }, async () => {
    seen.sync = inStepBody();
    await null;
    seen.afterAwait = inStepBody();
    await helper();
    await Promise.all([helper()]);
    await Promise.resolve(1).then(() => { seen.then = inStepBody(); });
    return 1;
  }, {});
  seen.outsideNow = inStepBody();
  assert.equal(await p, 1);
  await outside;
  assert.deepEqual(seen, { sync: true, outsideNow: false, afterAwait: true, helper: true, then: true });
  assert.equal(outsideLater, false, "code outside the body running while it is live is outside");
  assert.equal(inStepBody(), false);
});
