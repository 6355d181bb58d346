// The Hessian's condition number at the initial point against depth for n-shortcut linear
// networks: Figure 5 of "Demystifying ResNet" (lib/nn/linear-networks.ts). For each shortcut
// depth n and network depth L (a multiple of n), each run builds the network at its seeded
// initial point, forms the dense Hessian of the mean squared loss on the data (100·L parameters
// at width 10) and reads off max|λ| / (10th percentile of |λ|), the paper's condition number,
// with max|λ|/min|λ| and the fraction of negative eigenvalues beside it.
import { principalComponents } from '../data/pca';
import type { Dataset } from '../data';
import { linearNetwork, type LinearNetworkInitialization } from '../nn/linear-networks';
import { squaredLoss } from '../nn/losses';
import { Tensor } from '../tensor';
import { denseSpectrum, spectrumStatistics } from './dense';
import { curvatureOperator } from './operator';

/** Inputs and targets, row-major float64: x (m × width), y (m × width). */
export interface RegressionData {
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** m. */
  readonly examples: number;
}

/**
 * Appendix B's regression problem from a data set: x the `width` leading whitened principal
 * components of the images, y the one-hot labels (so width must be the number of classes), and
 * the fraction of the variance the components keep.
 * @throws RangeError when the data set's classes are not `width`.
 */
export function whitenedRegressionData(ds: Dataset, width: number): RegressionData & { readonly explained: number } {
  if (ds.classes !== width) {
    throw new RangeError(`whitenedRegressionData: the targets are one-hot labels, so the width must be the number of classes of the data, ${ds.classes}; got width ${width}`);
  }
  const pcs = principalComponents(ds, width);
  const m = ds.length;
  const y = new Float64Array(m * width);
  for (let i = 0; i < m; i++) y[i * width + ds.labels[i]] = 1;
  return { x: pcs.features, y, examples: m, explained: pcs.explained };
}

/** Options of conditionVersusDepth(). */
export interface ConditionVersusDepthOptions {
  /** Shortcut depths n (0: no shortcut). */
  shortcuts: readonly number[];
  /** Network depths L; those that are not a multiple of n are skipped for that n. */
  depths: readonly number[];
  /** The width d (default 10); data rows must have d values. */
  width?: number;
  /** The initialisation (default: linearNetwork's, 'zero' with shortcuts and 'xavier' without). */
  initialization?: LinearNetworkInitialization;
  /** Runs per point, seeds seed, seed + 1, … (default 1). */
  runs?: number;
  /** The first seed (default 0). */
  seed?: number;
  /** Refuse networks with more parameters (default 4096: the dense Hessian). */
  maxParameters?: number;
  /** Called after each run. */
  onRun?: (shortcut: number, depth: number, run: number) => void;
}

/** A point of the curve. */
export interface ConditionPoint {
  readonly shortcut: number;
  readonly depth: number;
  readonly parameters: number;
  /** max|λ|/|λ|_10% of each run. */
  readonly conditionNumbers10: readonly number[];
  /** Their mean and (sample) standard deviation. */
  readonly mean: number;
  readonly std: number;
  /** max|λ|/min|λ| of each run. */
  readonly conditionNumbers: readonly number[];
  /** max|λ| of each run. */
  readonly maxAbs: readonly number[];
  /** Fraction of negative eigenvalues of each run. */
  readonly negativeFractions: readonly number[];
  readonly seconds: number;
}

function integers(fn: string, name: string, v: unknown, min: number): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min)) {
    throw new RangeError(`${fn}: options.${name} must be a non-empty array of integers ≥ ${min}, got ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`);
  }
  return v as number[];
}

/** The curve of Figure 5 of "Demystifying ResNet" on `data` (see the file header). */
export function conditionVersusDepth(data: RegressionData, options: ConditionVersusDepthOptions): ConditionPoint[] {
  const fn = 'conditionVersusDepth';
  const shortcuts = integers(fn, 'shortcuts', options?.shortcuts, 0);
  const depths = integers(fn, 'depths', options.depths, 1);
  const width = options.width ?? 10;
  const runs = options.runs ?? 1;
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`${fn}: options.runs must be a positive integer, got ${String(options.runs)}`);
  const seed = options.seed ?? 0;
  const maxParameters = options.maxParameters ?? 4096;
  const m = data.examples;
  if (!(data.x instanceof Float64Array) || !(data.y instanceof Float64Array) || data.x.length !== m * width || data.y.length !== m * width) {
    throw new RangeError(`${fn}: data.x and data.y must be Float64Arrays of examples × width = ${m} × ${width} values`);
  }
  const x = Tensor.from(data.x, { shape: [m, width, 1, 1], dtype: 'float64' });
  const y = Tensor.from(data.y, { shape: [m, width], dtype: 'float64' });
  const points: ConditionPoint[] = [];
  try {
    for (const n of shortcuts) {
      for (const depth of depths) {
        if (n > 0 && depth % n !== 0) continue;
        const parameters = depth * width * width;
        if (parameters > maxParameters) {
          throw new RangeError(`${fn}: depth ${depth} at width ${width} has ${parameters} parameters > options.maxParameters = ${maxParameters} (the dense Hessian); lower the depths or raise the limit`);
        }
        const start = performance.now();
        const stats = [];
        for (let r = 0; r < runs; r++) {
          const net = linearNetwork({ width, depth, shortcut: n, dtype: 'float64', seed: seed + r, ...(options.initialization !== undefined ? { initialization: options.initialization } : {}) });
          const op = curvatureOperator(net, { loss: squaredLoss, data: { x, y } });
          try {
            stats.push(spectrumStatistics(denseSpectrum(op, { maxDimension: maxParameters }).values));
          } finally {
            op.dispose();
            net.dispose();
          }
          options.onRun?.(n, depth, r);
        }
        const c10 = stats.map((s) => s.conditionNumber10);
        const mean = c10.reduce((a, b) => a + b, 0) / runs;
        const std = runs > 1 ? Math.sqrt(c10.reduce((a, b) => a + (b - mean) ** 2, 0) / (runs - 1)) : 0;
        points.push({
          shortcut: n,
          depth,
          parameters,
          conditionNumbers10: c10,
          mean,
          std,
          conditionNumbers: stats.map((s) => s.conditionNumber),
          maxAbs: stats.map((s) => s.maxAbs),
          negativeFractions: stats.map((s) => s.negativeFraction),
          seconds: (performance.now() - start) / 1000,
        });
      }
    }
  } finally {
    x.dispose();
    y.dispose();
  }
  return points;
}
