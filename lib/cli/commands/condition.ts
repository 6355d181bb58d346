/**
 * `newton-cnn condition`: the Hessian's condition number at the initial point against depth for
 * n-shortcut linear networks ("Demystifying ResNet", Figure 5) on the data's leading whitened
 * principal components (lib/data/pca.ts, lib/analysis/linear-depth.ts). Prints a table (JSON with
 * --json -), writes JSON and an SVG plot when asked.
 *
 * @packageDocumentation
 */
import { conditionVersusDepth, whitenedRegressionData, type ConditionPoint } from '../../analysis';
import { writeFileAtomic } from '../../atomic-file';
import { lapackAvailable } from '../../linalg';
import { linePlotSvg, plottingAvailable, PLOTTING_MISSING } from '../../plot';
import { getNumThreads, info, setNumThreads } from '../../runtime';
import { UsageError } from '../args';
import type { ConditionArgs } from '../condition-args';
import { firstN, loadRawData, toJson } from '../common';
import { EXIT, type CliIo } from '../io';

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toPrecision(digits) : String(x);
}

/** The table of the points: one row per (n, L). */
export function conditionTable(points: readonly ConditionPoint[], runs: number): string {
  const rows = [['n', 'depth', 'parameters', runs > 1 ? 'max|λ|/|λ|10% (mean ± sd)' : 'max|λ|/|λ|10%', 'max|λ|/min|λ|', 'max|λ|', 'negative', 'time']];
  for (const p of points) {
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    rows.push([
      p.shortcut === 0 ? 'none' : String(p.shortcut),
      String(p.depth),
      String(p.parameters),
      runs > 1 ? `${fmt(p.mean)} ± ${fmt(p.std, 2)}` : fmt(p.mean),
      fmt(mean(p.conditionNumbers)),
      fmt(mean(p.maxAbs)),
      `${(100 * mean(p.negativeFractions)).toFixed(1)}%`,
      `${p.seconds.toFixed(1)}s`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((cell, c) => (c <= 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}

/** Runs `newton-cnn condition`; returns the exit code. */
export async function runCondition(args: ConditionArgs, io: CliIo): Promise<number> {
  const out = (line: string) => void io.stdout.write(`${line}\n`);
  const talk = !args.quiet && args.json !== '-';
  if (!lapackAvailable()) throw new UsageError('newton-cnn condition needs LAPACK for the dense Hessians, and this build has none (install libopenblas-dev and rebuild: npm run build:native -- --clean)');
  if (args.plot !== undefined && !plottingAvailable()) throw new UsageError(`--plot: ${PLOTTING_MISSING}`);
  if (args.threads !== undefined) setNumThreads(args.threads);
  const raw = await loadRawData({ data: args.data, ...(args.format !== undefined ? { format: args.format } : {}), ...(args.shape !== undefined ? { shape: args.shape } : {}), ...(args.classes !== undefined ? { classes: args.classes } : {}), ...(args.cifarLabels !== undefined ? { cifarLabels: args.cifarLabels } : {}) });
  const train = firstN(raw.train, args.examples);
  if (train.classes !== args.width) {
    throw new UsageError(`--width ${args.width}: the targets are one-hot labels, so the width must be the number of classes of the data, ${train.classes}`);
  }
  const data = whitenedRegressionData(train, args.width);
  const m = data.examples;
  if (talk) {
    const rt = info();
    out(`condition number of the Hessian at the initial point against depth: n-shortcut linear networks, width ${args.width}`);
    out(`data: ${train.name}: ${m} images → ${args.width} whitened principal components (${(100 * data.explained).toFixed(1)}% of the variance), one-hot targets; squared loss`);
    out(`initialisation: ${args.initialization ?? 'zero (Xavier × 0.01) with shortcuts, xavier without'}; ${args.runs} run${args.runs === 1 ? '' : 's'} per point from seed ${args.seed}; ${rt.blas} LAPACK, ${getNumThreads()} threads`);
  }
  const points = conditionVersusDepth(
    data,
    {
      shortcuts: args.shortcuts,
      depths: args.depths,
      width: args.width,
      runs: args.runs,
      seed: args.seed,
      maxParameters: args.maxParameters,
      ...(args.initialization !== undefined ? { initialization: args.initialization } : {}),
      onRun: (n, depth, run) => {
        if (!args.quiet) io.stderr.write(`n = ${n === 0 ? 'none' : n}, depth ${depth}: run ${run + 1}/${args.runs} done\n`);
      },
    },
  );
  if (args.json !== '-') out(conditionTable(points, args.runs));
  const options = { ...args, data: args.data };
  if (args.json !== undefined) {
    const text = toJson({ command: 'condition', options, data: { name: train.name, examples: m, explainedVariance: data.explained }, points });
    if (args.json === '-') out(text);
    else await writeFileAtomic(args.json, `${text}\n`);
  }
  if (args.plot !== undefined) {
    const depths = [...new Set(points.map((p) => p.depth))].sort((a, b) => a - b);
    const svg = await linePlotSvg({
      title: `Hessian condition number at the initial point, width ${args.width}`,
      x: { label: 'depth', values: depths },
      yLabel: 'max|λ| / 10th percentile of |λ|',
      logY: true,
      series: args.shortcuts.map((n) => ({
        name: n === 0 ? 'no shortcut' : `${n}-shortcut`,
        values: depths.map((d) => points.find((p) => p.shortcut === n && p.depth === d)?.mean ?? NaN),
      })),
    });
    await writeFileAtomic(args.plot, svg);
    if (talk) out(`plot: ${args.plot}`);
  }
  return EXIT.ok;
}
