// Example: an agent loop. Every turn is a durable "think" step (the same name repeated: occurrences
// 1..N), every fifth turn calls tools in parallel, and a final step writes the answer. A crash or
// restart resumes at the next turn without calling the "model" again for finished ones.
// The model and tools here are small deterministic functions: no network needed.
//   weft run examples/ai-agent.ts --params '{"question":"How many days are in 3 weeks?"}'
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Params = { question?: string; turns?: number };
type Thought = { turn: number; note: string; tools: ToolCall[] };
type ToolCall = { tool: "search" | "calculator"; input: string };

const CORPUS: Record<string, string> = {
  week: "A week has 7 days.",
  day: "A day has 24 hours.",
  year: "A common year has 365 days.",
};

/** The "model": reads the question and the notes so far, decides what to look up next. */
function think(turn: number, question: string, notes: string[]): Thought {
  const [, count = "1", unit = "day"] = /(\d+)\s+([a-z]+?)s?\b/i.exec(question) ?? [];
  const topic = unit.toLowerCase() in CORPUS ? unit.toLowerCase() : "day";
  const fact = [...notes].reverse().find((n) => /has \d+/.test(n));
  const factor = fact ? Number(/has (\d+)/.exec(fact)![1]) : 1;
  const tools: ToolCall[] =
    turn % 5 === 0 ? [{ tool: "search", input: topic }, { tool: "calculator", input: `${count} * ${factor}` }] : [];
  return { turn, note: `turn ${turn}: ${notes.length} notes so far, looking into "${topic}"`, tools };
}

function runTool(call: ToolCall): string {
  if (call.tool === "search") return CORPUS[call.input] ?? "no result";
  const [a, b] = call.input.split("*").map((x) => Number(x.trim()));
  return `= ${a! * b!}`;
}

export class AiAgent extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const params = event.payload ?? {}; // weft run without --params passes none
    const question = params.question ?? "How many days are in 3 weeks?";
    const turns = params.turns ?? 30;
    const notes: string[] = [];
    let toolCalls = 0;

    for (let turn = 1; turn <= turns; turn++) {
      const thought = await step.do("think", async (ctx) => think(ctx.step.count, question, notes));
      notes.push(thought.note);
      if (thought.tools.length > 0) {
        const results = await Promise.all(thought.tools.map((call) => step.do(`tool ${call.tool}`, async () => runTool(call))));
        toolCalls += results.length;
        notes.push(...results);
      }
    }

    const answer = await step.do("answer", async () => {
      const result = notes.findLast((n) => n.startsWith("= "));
      const fact = notes.findLast((n) => /has \d+/.test(n));
      return result && fact ? `${result.slice(2)}. ${fact}` : `No answer after ${turns} turns.`;
    });
    return { question, answer, turns, toolCalls, notes: notes.length };
  }
}
