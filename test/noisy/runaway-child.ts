// Child process for runaway.noisy.ts: an engine on the data directory argv[2], one instance of tenant
// "evil" whose run() allocates in small pieces (the pattern that outruns isolated-vm's memory limit)
// and, with argv[3] = "step", does it inside a step with retries. Prints its RSS every 50 ms.
import { Engine } from "../../src/index.ts";

const [dataDir, where] = process.argv.slice(2) as [string, string];
const grow = "const a = []; for (;;) a.push(new Array(1000).fill(a.length));";
const body = where === "step" ? `await step.do("grow", { retries: { limit: 5, delay: 0 } }, async () => { ${grow} });` : grow;
const engine = await Engine.open({
  dataDir,
  logger: { info: () => undefined, warn: () => undefined, error: (o: object, msg: string) => process.stderr.write(JSON.stringify({ level: "error", msg, ...o }) + "\n") },
});
await engine.deploy({ tenant: "evil", workflow: "grow", code: { mainModule: "g.ts", modules: { "g.ts": `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class G extends WorkflowEntrypoint { async run(event, step) { ${body} } }` } } });
const inst = await engine.workflow("evil", "grow").create({ id: "runaway" });
process.stdout.write(`created ${inst.id}\n`);
setInterval(() => process.stdout.write(`rss ${Math.round(process.memoryUsage.rss() / 1048576)}\n`), 50);
