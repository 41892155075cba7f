// Creations and endings over time as an SVG bar chart: no chart library needed for two series.
import type { ActivityBucket } from "../api.ts";
import { clock } from "../format.ts";

export function ActivityChart({ buckets, label }: { buckets: ActivityBucket[]; label: string }) {
  const w = 640;
  const h = 160;
  const pad = { l: 36, r: 8, t: 8, b: 22 };
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.created, b.completed + b.errored + b.terminated)));
  const bw = (w - pad.l - pad.r) / Math.max(1, buckets.length);
  const y = (v: number) => pad.t + (h - pad.t - pad.b) * (1 - v / max);
  const totals = buckets.reduce((a, b) => ({ c: a.c + b.created, d: a.d + b.completed, e: a.e + b.errored }), { c: 0, d: 0, e: 0 });
  const tick = (b: ActivityBucket) => clock(b.at);
  const every = Math.max(1, Math.ceil(buckets.length / 6));
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label}: ${totals.c} created, ${totals.d} completed, ${totals.e} errored`} preserveAspectRatio="none">
        <line x1={pad.l} x2={w - pad.r} y1={y(0)} y2={y(0)} class="axis" />
        <text x={pad.l - 4} y={y(max) + 8} class="tick" text-anchor="end">{max}</text>
        <text x={pad.l - 4} y={y(0)} class="tick" text-anchor="end">0</text>
        {buckets.map((b, i) => {
          const x = pad.l + i * bw;
          const ended = b.completed + b.errored + b.terminated;
          return (
            <g key={b.at}>
              <title>{`${tick(b)}: ${b.created} created, ${b.completed} completed, ${b.errored} errored, ${b.terminated} terminated`}</title>
              <rect x={x + 1} width={Math.max(1, bw / 2 - 1)} y={y(b.created)} height={y(0) - y(b.created)} class="bar-created" />
              <rect x={x + bw / 2} width={Math.max(1, bw / 2 - 1)} y={y(b.completed)} height={y(0) - y(b.completed)} class="bar-completed" />
              <rect x={x + bw / 2} width={Math.max(1, bw / 2 - 1)} y={y(ended)} height={y(b.completed) - y(ended)} class="bar-errored" />
              {i % every === 0 ? <text x={x + bw / 2} y={h - 6} class="tick" text-anchor="middle">{tick(b)}</text> : null}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        <span><i class="sw bar-created" /> created {totals.c}</span>
        <span><i class="sw bar-completed" /> completed {totals.d}</span>
        <span><i class="sw bar-errored" /> errored/terminated {buckets.reduce((a, b) => a + b.errored + b.terminated, 0)}</span>
      </figcaption>
    </figure>
  );
}
