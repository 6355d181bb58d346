// The n-shortcut linear networks of Li, Jiao, Han & Weissman, "Demystifying ResNet" (ICLR 2017
// submission, arXiv:1611.01186), built on GraphBuilder (lib/nn/graph.ts) as ordinary Networks,
// so every pass, product and trainer of the library applies to them.
//
//   n-shortcut (§3.2, Definition 2, eq. 5)   y = Π_{r=1..R} (W_{r,n} ⋯ W_{r,1} + I) x,  depth L = R·n
//
//     input [d, 1, 1] → flatten ─┬→ linear → … → linear (n layers) ─(+)─┬→ … R units … → y
//                                └───────────── identity ─────────────┘
//
//   no shortcut (shortcut 0)       y = W_L ⋯ W_1 x, the plain deep linear network of Saxe et al.
//
// Every layer is a bias-free d × d linear map W_{r,l} ∈ R^{d×d} (eq. 4–5: the mappings are
// products of matrices, no offsets), the shortcuts are identities, input and output have the
// width d (Definition 2.1: d_x = d_y). Trained with the Frobenius loss (eq. 6)
// L(w) = (1/2m)‖Y − WX‖²_F, which is the library's squaredLoss (Σ_μ ‖y_μ − z_μ‖²) divided by
// 2m: the same stationary points, and Hessians that differ by the factor 1/(2m) only (the
// library's Hessian products, which take the mean loss, are 2× the paper's Hessian).
//
// Initialisations (§4.1, §5):
//   'zero'        the paper's "zero initialization with small random perturbations": "We first
//                 Xavier initialize the weight matrixes, and then multiply a small constant
//                 (0.01) to them" — the library's 'xavier-small' with scale = perturbation
//                 (default 0.01): U(±perturbation·√(6/(d_in + d_out))), standard deviation
//                 perturbation·√(2/(d_in + d_out)) (0.01/√d for d × d layers). perturbation 0
//                 gives exactly the zero point of Theorem 1.
//   'xavier'      Glorot & Bengio's U(±√(6/(d_in + d_out))) (the library's 'xavier').
//   'orthogonal'  Saxe et al.'s random orthogonal matrices (the library's 'orthogonal', × gain).
//   'he-normal'   N(0, 2/d_in), for comparison (not in the paper).
// Deterministic in the seed, the same θ on every backend (Network.init).
//
// ReLUs (option relu; §3.2 Definition 3, §5.3 Figure 10, Appendix B): σ_mid = ReLU between
// consecutive weight matrices of every residual unit's transformation path (for n = 2 one ReLU
// in the middle of each unit), none on the shortcuts and none pre or post (so Theorem 1's
// σ_mid(0) = σ_post(0) = 0 holds). Without shortcuts the ReLUs go where a 2-shortcut network of
// the same depth has them, "we added ReLUs at the same positions in linear networks as in
// 2-shortcuts networks" (Appendix B): after layers 1, 3, 5, … (never after the last), so the
// plain and the 2-shortcut networks of a depth have the same number of ReLU units (§5.3).
//
// Sizes of the paper (Appendix B): whitened MNIST, the 10 greatest principal components as the
// input and the one-hot label as the output, so d = 10; the network has L·d² = 100·L parameters.
import { add, flatten, linear, relu as reluLayer } from './layers';
import { GraphBuilder, type Value } from './graph';
import type { FloatDType, Network } from './network';

/** How linearNetwork() initialises the weights (see LinearNetworkOptions.initialization). */
export type LinearNetworkInitialization = 'zero' | 'xavier' | 'orthogonal' | 'he-normal';

/** The initialisations linearNetwork() takes. */
export const LINEAR_NETWORK_INITIALIZATIONS: readonly LinearNetworkInitialization[] = Object.freeze(['zero', 'xavier', 'orthogonal', 'he-normal'] as const);

/** Options of linearNetwork(). */
export interface LinearNetworkOptions {
  /** d: the width of every layer, and of the input and output when there are shortcuts (the paper: 10). */
  width: number;
  /** L: the number of weight matrices (layers); a multiple of `shortcut` when it is not 0. */
  depth: number;
  /**
   * n: the depth of the identity shortcuts, one around every n consecutive layers (the
   * n-shortcut network of Definition 2; 1, 2, 3 in the paper, any n dividing the depth
   * here), or 0 for none (a plain deep linear network).
   */
  shortcut: number;
  /**
   * Per-example input shape [C, H, W], flattened to C·H·W features (default [width, 1, 1]); with
   * shortcuts C·H·W must be the width. Feed inputs (N, C, H, W): (N, d, 1, 1) for the default.
   */
  inputShape?: readonly [number, number, number];
  /** Shorthand for inputShape [inputFeatures, 1, 1] (give one of the two). */
  inputFeatures?: number;
  /** Width of the output (default: the width; with shortcuts it must be the width). */
  outputs?: number;
  /**
   * 'zero' (Xavier × perturbation: the paper's small perturbation of zero), 'xavier',
   * 'orthogonal' or 'he-normal'. Default: 'zero' with shortcuts, 'xavier' without (the pairings
   * of the paper's §5).
   */
  initialization?: LinearNetworkInitialization;
  /**
   * With 'zero': the factor on the Xavier draw (default 0.01, the paper's); 0 gives all weights
   * exactly 0. Only with initialization 'zero'.
   */
  perturbation?: number;
  /** With 'orthogonal': the gain, W Wᵀ = gain²·I (default 1). Only with initialization 'orthogonal'. */
  gain?: number;
  /**
   * Add ReLUs at the mid positions (default false: a linear network): between consecutive layers
   * of every residual unit; without shortcuts after layers 1, 3, 5, … (the 2-shortcut network's
   * positions, Appendix B). Not with shortcut 1, which has no mid position.
   */
  relu?: boolean;
  /** Seed of the initialisation (non-negative safe integer, default 0). */
  seed?: number;
  /** Element type (default 'float32'; 'float64' for Hessian spectra and derivative checks). */
  dtype?: FloatDType;
  /** Device (default 'cpu'). */
  device?: string;
  /** The network's name (default 'linear-n<shortcut>-L<depth>-d<width>', e.g. 'linear-n2-L16-d10'). */
  name?: string;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'width', 'depth', 'shortcut', 'inputShape', 'inputFeatures', 'outputs', 'initialization', 'perturbation', 'gain', 'relu', 'seed', 'dtype', 'device', 'name',
]);

const FN = 'linearNetwork';

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(String).join(', ')}]` : String(v);
}

function positiveInteger(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${FN}: options.${name} must be a positive integer, got ${show(v)}`);
  return v;
}

/**
 * An n-shortcut linear network (Li et al., "Demystifying ResNet", §3.2, Definition 2, eq. 5):
 * `depth` bias-free width × width linear layers, with an identity shortcut around every
 * `shortcut` = n consecutive layers (R = depth / n residual units, y = Π_r (W_{r,n}⋯W_{r,1} + I)x),
 * or none for shortcut 0 (y = W_L⋯W_1 x). The input [width, 1, 1] (or options.inputShape) is
 * flattened first; the output has the width. Nodes: flatten, then per unit its n linear layers
 * (with options.relu a ReLU between consecutive ones) and an add of [unit output, unit input];
 * without shortcuts flatten and the depth layers (ReLUs after layers 1, 3, … with relu). θ
 * holds the layers' weights in order (W_{1,1}, W_{1,2}, …), each (out, in) row-major:
 * depth·width² parameters with shortcuts. Initialised as options.initialization says.
 * @throws TypeError for options that are not an object; RangeError, naming the option, for bad
 *   or unknown options, a depth that is not a multiple of the shortcut, or an input / output
 *   width other than the width with shortcuts.
 */
export function linearNetwork(options: LinearNetworkOptions): Network {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${FN}: options must be an object with width, depth and shortcut, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new RangeError(`${FN}: unknown option '${key}' (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  }
  const width = positiveInteger('width', options.width);
  const depth = positiveInteger('depth', options.depth);
  const n = options.shortcut;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new RangeError(`${FN}: options.shortcut must be 0 (no shortcuts) or a positive integer n (an identity shortcut every n layers), got ${show(n)}`);
  }
  if (n > 0 && depth % n !== 0) {
    throw new RangeError(`${FN}: options.depth must be a multiple of options.shortcut (${n} layers per residual unit), got depth ${depth}`);
  }

  let inputShape: readonly [number, number, number];
  if (options.inputShape !== undefined && options.inputFeatures !== undefined) {
    throw new RangeError(`${FN}: give options.inputShape or options.inputFeatures, not both`);
  }
  if (options.inputShape !== undefined) {
    const s = options.inputShape as unknown;
    if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) {
      throw new RangeError(`${FN}: options.inputShape must be [C, H, W] with positive integers, got ${Array.isArray(s) ? show(s) : s === null ? 'null' : typeof s}`);
    }
    inputShape = [s[0], s[1], s[2]];
  } else {
    inputShape = [options.inputFeatures === undefined ? width : positiveInteger('inputFeatures', options.inputFeatures), 1, 1];
  }
  const features = inputShape[0] * inputShape[1] * inputShape[2];
  const outputs = options.outputs === undefined ? width : positiveInteger('outputs', options.outputs);
  if (n > 0 && features !== width) {
    throw new RangeError(
      `${FN}: with shortcuts the input must have the width (${width} features: the shortcuts are identities, Definition 2), got ${features} features from inputShape ${show(inputShape)}`,
    );
  }
  if (n > 0 && outputs !== width) {
    throw new RangeError(`${FN}: with shortcuts options.outputs must be the width (${width}; the shortcuts are identities, Definition 2), got ${outputs}`);
  }

  const initialization = options.initialization ?? (n > 0 ? 'zero' : 'xavier');
  if (!LINEAR_NETWORK_INITIALIZATIONS.includes(initialization)) {
    throw new RangeError(`${FN}: options.initialization must be one of ${LINEAR_NETWORK_INITIALIZATIONS.map((s) => `'${s}'`).join(', ')}, got ${show(initialization)}`);
  }
  let perturbation = 0.01;
  if (options.perturbation !== undefined) {
    if (initialization !== 'zero') throw new RangeError(`${FN}: options.perturbation is for initialization 'zero' only, got initialization '${initialization}'`);
    const p = options.perturbation as unknown;
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) throw new RangeError(`${FN}: options.perturbation must be a finite number ≥ 0, got ${show(p)}`);
    perturbation = p;
  }
  let gain = 1;
  if (options.gain !== undefined) {
    if (initialization !== 'orthogonal') throw new RangeError(`${FN}: options.gain is for initialization 'orthogonal' only, got initialization '${initialization}'`);
    const gv = options.gain as unknown;
    if (typeof gv !== 'number' || !Number.isFinite(gv) || gv <= 0) throw new RangeError(`${FN}: options.gain must be a positive finite number, got ${show(gv)}`);
    gain = gv;
  }
  const relu = options.relu ?? false;
  if (typeof relu !== 'boolean') throw new TypeError(`${FN}: options.relu must be a boolean, got ${show(relu)}`);
  if (relu && n === 1) throw new RangeError(`${FN}: options.relu needs a mid position, which a 1-shortcut network has not (one layer per residual unit); use shortcut 0, 2 or more`);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${FN}: options.seed must be a non-negative safe integer, got ${show(seed)}`);
  if (options.name !== undefined && typeof options.name !== 'string') throw new TypeError(`${FN}: options.name must be a string, got ${typeof options.name}`);
  const name = options.name ?? `linear-n${n}-L${depth}-d${width}${relu ? '-relu' : ''}`;

  const g = new GraphBuilder(inputShape, FN);
  let x: Value = g.add(flatten(), g.input);
  if (n === 0) {
    for (let l = 0; l < depth; l++) {
      x = g.add(linear(l === depth - 1 ? outputs : width, { bias: false }), x);
      if (relu && l % 2 === 0 && l < depth - 1) x = g.add(reluLayer(), x);
    }
  } else {
    for (let r = 0; r < depth / n; r++) {
      const h = g.chain(
        x,
        Array.from({ length: n }, (_, l) => (relu && l < n - 1 ? [linear(width, { bias: false }), reluLayer()] : [linear(width, { bias: false })])).flat(),
      );
      x = g.add(add(), [h, x]);
    }
  }
  const net = g.build(x, { dtype: options.dtype, device: options.device, name });
  try {
    if (initialization === 'zero') {
      if (perturbation > 0) net.init('xavier-small', { seed, scale: perturbation });
      else net.setParameters(new Float64Array(net.numParameters));
    } else {
      net.init(initialization, { seed, scale: initialization === 'orthogonal' ? gain : undefined });
    }
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}
