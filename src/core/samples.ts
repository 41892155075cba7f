// Bounded sample lists for the engine's latency metrics (cold starts, timer lateness): a
// long-running engine keeps the newest samples only instead of growing with every run.

export function sample(list: number[], v: number, max = 20_000): void {
  list.push(v);
  if (list.length > max) list.splice(0, list.length - max / 2);
}
