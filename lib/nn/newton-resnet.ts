// The Newton residual block and Newton-ResNets ("Newton Residual Learning", ICLR 2020
// submission; /work/shared/papers/newton-resnet.txt), built on GraphBuilder like the ResNets of
// lib/nn/resnet.ts, whose shortcut, stem and head they share.
//
// A residual block xₜ₊₁ = φ(xₜ + f(xₜ)) takes a first-order step f; the Newton block (§3, eq. 3)
// adds a learnable multiple α of a second-order term, the element-wise product of the input and
// the step, normalised by N1 and N2:
//
//   y = φ( x̃ + f(x) + α · N2( N1(x̃) ⊙ f(x) ) )
//
//   x ─┬─► f: (conv3×3 → BN → φ) × convs ─────────────────┬─ o ─────────────────────────┐
//      │                                                  ▼                             │
//      └─► x̃ ─┬─► N1: (conv1×1 → φ2) × xProj ───────────► ⊙                             │
//             │                                           ▼                             │
//             │                         N2: (conv1×1 → BN → φ2) × linProj               │
//             │                                           ▼                             │
//             │                                          ×α                             │
//             │                                           ▼                             │
//             └─────────────────────────────────────────►(+)◄───────────────────────────┘
//                                                         ▼
//                                                         φ ─► y
//
// as Algorithm 1 (res_block(xₜ, n_convs, x_proj, lin_proj, φ, φ2)) and Table 3 spell it out:
//   f    n_convs × o ← φ(BN(conv(o))) — φ after every convolution, the last included (eq. 3's
//        f = C₂(φ(C₁x)) writes no φ after C₂; Algorithm 1 line 4 does, and we follow it);
//   N1   x_proj × x ← φ2(conv1×1(x)) on x̃ (x_proj = 0: the identity);
//   N2   lin_proj × s ← φ2(norm(conv1×1(s))) on the product, norm = batch norm (0: the identity);
//   φ    ReLU, or the identity in the paper's linear networks (§4.2, Table 7: "all activation
//        functions removed", φ2 too);
//   φ2   the identity, or tanh: the float16 ImageNet networks (§4.4) use "a tanh as a
//        normalization for the second order term" against overflow.
// x̃ is x where the block keeps the shape, else the projection shortcut of lib/nn/resnet.ts
// (conv1×1 with the stride, no bias, → BN); N1 and N2 act at the block's output width. The
// 1×1 convolutions have no bias (N2's is followed by batch norm; N1's bias-free like every conv
// of the ResNets). α is one learnable scalar per block (nn.scale): the paper does not give its
// initial value; we start at α = 1 (eq. 3 as written, the second-order term in play from the
// first step; options.alpha changes it, 0 starts the block as the plain residual block).
// The bottleneck block (Newton-ResNet-50, §4.4) has f = conv1×1 → BN → φ → conv3×3/s → BN → φ →
// conv1×1 (4w) → BN → φ and N1, N2 at 4w channels.
//
// Which of x_proj / lin_proj the paper's networks have follows from their parameter counts
// (test/nn.newton-resnet.test.ts checks every entry): the ReLU networks of Tables 1 and 4 have
// two 1×1 convs a block, x_proj = lin_proj = 1 as Table 3 draws them ([2,2,1,1] on CIFAR-10:
// 6,012,240 = 6.0M; x_proj = 2 or lin_proj = 2 would also round to 6.0M), the linear networks of
// Tables 2 and 5 one 1×1 conv per block ([1,1,1,1]: 5,253,326 = 5.3M with lin_proj = 1; x_proj
// = 1 gives 5,251,406, the same to the paper's digits — we take lin_proj, whose batch norm keeps
// the product of two linear maps at scale). These are the defaults: xProj = 1 for ReLU blocks, 0
// for linear ones; linProj = 1.
import { add, batchNorm2d, conv2d, mul, newtonResidual, relu, scale, tanh, type LayerSpec } from './layers';
import { GraphBuilder, type Value } from './graph';
import type { Network } from './network';
import { blockOptions, channels, checkCommon, finish, imageInput, shortcutBranch, stemLayers, type BlockOptions, type ResNetOptions, type ResNetStem } from './resnet';

/** φ of a Newton block: ReLU, or the identity (the paper's linear networks). */
export type NewtonActivation = 'relu' | 'identity';
/** φ2, after each 1×1 conv of N1 and N2: the identity, or tanh (the paper's float16 ImageNet networks). */
export type SecondOrderActivation = 'identity' | 'tanh';

/** The initial α of a Newton block when options.alpha is not given (the paper gives none). */
export const NEWTON_ALPHA_INIT = 1;

/** Options of newtonBlock() and newtonBottleneckBlock(). */
export interface NewtonBottleneckOptions extends BlockOptions {
  /** x_proj: the 1×1 convs (each followed by φ2) of N1 on x̃; 0 makes N1 the identity (default 1 with ReLU, 0 with the identity). */
  xProj?: number;
  /** lin_proj: the 1×1 conv → BN → φ2 stages of N2 on the product; 0 makes N2 the identity (default 1). */
  linProj?: number;
  /** φ: 'relu' (default) or 'identity' (the linear networks). */
  activation?: NewtonActivation;
  /** φ2: 'identity' (default) or 'tanh'. */
  secondOrderActivation?: SecondOrderActivation;
  /** The initial value of the learnable α (default NEWTON_ALPHA_INIT = 1). */
  alpha?: number;
  /**
   * The element-wise tail φ(x̃ + o + α·…) as one fused module, newtonResidual (default true), or
   * as mul, scale, add and φ modules (false): the same function with the same θ layout.
   */
  fused?: boolean;
}

/** Options of newtonBlock(): those of the bottleneck block and the number of 3×3 convolutions of f. */
export interface NewtonBlockOptions extends NewtonBottleneckOptions {
  /** n_convs: the 3×3 conv → BN → φ stages of f, the first with the stride (default 2). */
  convs?: number;
}

interface SecondOrder {
  xProj: number;
  linProj: number;
  phi: LayerSpec[];
  phi2: LayerSpec[];
  alpha: number;
  relu: boolean;
  fused: boolean;
}

function count(fn: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${String(v)}`);
  return v;
}

function oneOf<T extends string>(fn: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new RangeError(`${fn}: ${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(v) ?? String(v)}`);
  return v as T;
}

function secondOrderOptions(fn: string, options: NewtonBottleneckOptions | undefined): SecondOrder {
  const activation = oneOf(fn, 'options.activation', options?.activation ?? 'relu', ['relu', 'identity'] as const);
  const phi2 = oneOf(fn, 'options.secondOrderActivation', options?.secondOrderActivation ?? 'identity', ['identity', 'tanh'] as const);
  const xProj = count(fn, 'options.xProj', options?.xProj, activation === 'relu' ? 1 : 0);
  const linProj = count(fn, 'options.linProj', options?.linProj, 1);
  if (phi2 === 'tanh' && xProj === 0 && linProj === 0) {
    throw new RangeError(`${fn}: options.secondOrderActivation 'tanh' follows the 1×1 convs of N1 and N2 (Algorithm 1), but options.xProj and options.linProj are both 0`);
  }
  const alpha = options?.alpha ?? NEWTON_ALPHA_INIT;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new RangeError(`${fn}: options.alpha must be a finite number, got ${String(alpha)}`);
  const fused = options?.fused ?? true;
  if (typeof fused !== 'boolean') throw new TypeError(`${fn}: options.fused must be a boolean, got ${typeof fused}`);
  return { xProj, linProj, phi: activation === 'relu' ? [relu()] : [], phi2: phi2 === 'tanh' ? [tanh()] : [], alpha, relu: activation === 'relu', fused };
}

/** φ(x̃ + o + α·N2(N1(x̃) ⊙ o)) on the shortcut x̃ and the step o = f(x) of one shape. */
function newtonSum(g: GraphBuilder, skip: Value, o: Value, s: SecondOrder): Value {
  const c = o.shape[0];
  let n1 = skip;
  for (let i = 0; i < s.xProj; i++) n1 = g.chain(n1, [conv2d(c, 1, { bias: false }), ...s.phi2]);
  if (s.fused && s.linProj === 0) return g.add(newtonResidual({ relu: s.relu, alpha: s.alpha }), [skip, o, n1, o]);
  let p = g.add(mul(), [n1, o]);
  for (let i = 0; i < s.linProj; i++) p = g.chain(p, [conv2d(c, 1, { bias: false }), batchNorm2d(), ...s.phi2]);
  if (s.fused) return g.add(newtonResidual({ relu: s.relu, alpha: s.alpha }), [skip, o, p]);
  const second = g.add(scale(s.alpha), p);
  return g.chain(g.add(add(), [skip, o, second]), s.phi);
}

/**
 * Adds a Newton residual block (§3.2, eq. 3; Algorithm 1) on x with `outChannels` channels and
 * returns its output y = φ(x̃ + f(x) + α·N2(N1(x̃) ⊙ f(x))): f is `convs` 3×3 conv → BN → φ
 * stages (the first with the stride), x̃ the identity or a conv1×1/s → BN projection, N1
 * `xProj` conv1×1 → φ2 stages, N2 `linProj` conv1×1 → BN → φ2 stages, α learnable.
 * @throws RangeError naming the option: an identity shortcut where the shape changes, a bad
 *   stride, convs, xProj, linProj, activation, secondOrderActivation or alpha.
 */
export function newtonBlock(g: GraphBuilder, x: Value, outChannels: number, options?: NewtonBlockOptions): Value {
  const fn = 'newtonBlock';
  imageInput(fn, x);
  channels(fn, 'outChannels', outChannels);
  const { stride, shortcut } = blockOptions(fn, options);
  const convs = options?.convs ?? 2;
  if (typeof convs !== 'number' || !Number.isInteger(convs) || convs < 1) throw new RangeError(`${fn}: options.convs must be a positive integer, got ${String(convs)}`);
  const s = secondOrderOptions(fn, options);
  const skip = shortcutBranch(fn, g, x, outChannels, stride, shortcut);
  const layers: LayerSpec[] = [];
  for (let i = 0; i < convs; i++) layers.push(conv2d(outChannels, 3, { stride: i === 0 ? stride : 1, padding: 1, bias: false }), batchNorm2d(), ...s.phi);
  return newtonSum(g, skip, g.chain(x, layers), s);
}

/**
 * Adds a Newton bottleneck block (Newton-ResNet-50, §4.4) on x: f = conv1×1 (`width`) → BN → φ →
 * conv3×3/s → BN → φ → conv1×1 (4·width) → BN → φ, and the second-order term of newtonBlock()
 * at 4·width channels; returns its output.
 * @throws RangeError as newtonBlock(), and for options.convs (the bottleneck has its three).
 */
export function newtonBottleneckBlock(g: GraphBuilder, x: Value, width: number, options?: NewtonBottleneckOptions): Value {
  const fn = 'newtonBottleneckBlock';
  imageInput(fn, x);
  channels(fn, 'width', width);
  const { stride, shortcut } = blockOptions(fn, options);
  if ((options as NewtonBlockOptions | undefined)?.convs !== undefined) {
    throw new RangeError(`${fn}: options.convs is for newtonBlock(); the bottleneck's f is always conv1×1 → conv3×3 → conv1×1`);
  }
  const s = secondOrderOptions(fn, options);
  const out = 4 * width;
  const skip = shortcutBranch(fn, g, x, out, stride, shortcut);
  const o = g.chain(x, [
    conv2d(width, 1, { bias: false }),
    batchNorm2d(),
    ...s.phi,
    conv2d(width, 3, { stride, padding: 1, bias: false }),
    batchNorm2d(),
    ...s.phi,
    conv2d(out, 1, { bias: false }),
    batchNorm2d(),
    ...s.phi,
  ]);
  return newtonSum(g, skip, o, s);
}

/** Options of newtonResnet(). */
export interface NewtonResNetOptions extends ResNetOptions {
  /** Blocks per stage (default [2, 2, 1, 1]); stage s has width·2^s channels (×4 for bottlenecks), stride 2 from the second on. */
  blocks?: readonly number[];
  /** Bottleneck blocks (Newton-ResNet-50) rather than basic ones (default false). */
  bottleneck?: boolean;
  /** Every activation removed: φ and φ2 the identity, the stem without ReLU (§4.2, Table 7; default false). */
  linear?: boolean;
  /** n_convs of the basic blocks (default 2; not for bottlenecks). */
  convs?: number;
  /** x_proj of every block (default 1, 0 for linear networks). */
  xProj?: number;
  /** lin_proj of every block (default 1). */
  linProj?: number;
  /** φ2 of every block (default 'identity'). */
  secondOrderActivation?: SecondOrderActivation;
  /** Initial α of every block (default NEWTON_ALPHA_INIT = 1). */
  alpha?: number;
  /** Every block's tail as the fused newtonResidual module (default true; see NewtonBottleneckOptions.fused). */
  fused?: boolean;
  /** The network's name (default 'newton-resnet-' + the blocks, e.g. 'newton-resnet-2-2-1-1'). */
  name?: string;
}

/**
 * A Newton-ResNet for images of `inputShape` = [C, H, W] and `classes` classes: a stem ('cifar',
 * the default for basic blocks: conv3×3 → BN → ReLU; 'imagenet', the default for bottlenecks:
 * conv7×7/2 → BN → ReLU → max pool 3×3/2), stages of Newton blocks with width, 2·width, 4·width,
 * … channels (stride 2 at the start of every stage but the first, projection shortcuts where the
 * shape changes), global average pooling and a linear classifier; He-initialised (batch-norm γ 1,
 * β 0, α options.alpha). The paper's networks: blocks [2,2,1,1] and [3,3,2,2] (Table 1, CIFAR-10),
 * [3,4,3,2] (Table 4, CIFAR-100), { linear: true } with [1,1,1,1], [2,2,2,2], [3,3,3,3] (Tables
 * 2 and 5), { bottleneck: true, blocks: [3,4,6,3] } (Newton-ResNet-50, Tables 6 and 7).
 * @throws RangeError naming the option that is wrong.
 */
export function newtonResnet(inputShape: readonly [number, number, number], classes: number, options?: NewtonResNetOptions): Network {
  const fn = 'newtonResnet';
  const { width, stem: stemOption } = checkCommon(fn, classes, options, 64);
  const blocks = options?.blocks ?? [2, 2, 1, 1];
  if (!Array.isArray(blocks) || blocks.length === 0 || blocks.some((b) => typeof b !== 'number' || !Number.isInteger(b) || b < 1)) {
    throw new RangeError(`${fn}: options.blocks must be a non-empty array of positive integers (blocks per stage), got ${JSON.stringify(blocks) ?? String(blocks)}`);
  }
  for (const key of ['bottleneck', 'linear'] as const) {
    const v = options?.[key];
    if (v !== undefined && typeof v !== 'boolean') throw new RangeError(`${fn}: options.${key} must be a boolean, got ${typeof v}`);
  }
  const bottleneck = options?.bottleneck ?? false;
  const linear = options?.linear ?? false;
  if (linear && options?.secondOrderActivation === 'tanh') {
    throw new RangeError(`${fn}: options.secondOrderActivation 'tanh' is an activation, and options.linear removes them all`);
  }
  const convs = options?.convs;
  if (convs !== undefined) {
    if (bottleneck) throw new RangeError(`${fn}: options.convs is for basic blocks; a bottleneck block always has three convs`);
    if (typeof convs !== 'number' || !Number.isInteger(convs) || convs < 1) throw new RangeError(`${fn}: options.convs must be a positive integer, got ${String(convs)}`);
  }
  const name = options?.name ?? `newton-resnet-${blocks.join('-')}`;
  if (typeof name !== 'string' || name.length === 0) throw new RangeError(`${fn}: options.name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`);
  const stem: ResNetStem = stemOption ?? (bottleneck ? 'imagenet' : 'cifar');
  const blockOpts: NewtonBlockOptions = {
    activation: linear ? 'identity' : 'relu',
    secondOrderActivation: options?.secondOrderActivation,
    xProj: options?.xProj,
    linProj: options?.linProj,
    alpha: options?.alpha,
    fused: options?.fused,
  };
  if (!bottleneck) blockOpts.convs = convs;
  secondOrderOptions(fn, blockOpts); // checks the block options before any node is added, so errors name newtonResnet
  const g = new GraphBuilder(inputShape, fn);
  let x = g.chain(g.input, stemLayers(stem, width, !linear));
  blocks.forEach((n, s) => {
    const w = width * 2 ** s;
    for (let b = 0; b < n; b++) {
      const o = { ...blockOpts, stride: s > 0 && b === 0 ? 2 : 1 };
      x = bottleneck ? newtonBottleneckBlock(g, x, w, o) : newtonBlock(g, x, w, o);
    }
  });
  return finish(g, x, classes, name, options);
}

/** The named Newton-ResNets of newtonResnetByName(): blocks per stage, block kind, default stem. */
export const NEWTON_RESNETS: Readonly<Record<string, { readonly blocks: readonly number[]; readonly bottleneck: boolean; readonly stem: ResNetStem }>> = Object.freeze({
  /** Table 1: the match of ResNet-18 on CIFAR-10 (6.0M parameters for 10 classes). */
  'newton-resnet18': Object.freeze({ blocks: Object.freeze([2, 2, 1, 1]), bottleneck: false, stem: 'cifar' as const }),
  /** Table 1: the match of ResNet-34 on CIFAR-10 (13.0M parameters for 10 classes). */
  'newton-resnet34': Object.freeze({ blocks: Object.freeze([3, 3, 2, 2]), bottleneck: false, stem: 'cifar' as const }),
  /** Table 6: Newton-ResNet-50, ResNet-50's bottleneck blocks [3, 4, 6, 3], ImageNet stem. */
  'newton-resnet50': Object.freeze({ blocks: Object.freeze([3, 4, 6, 3]), bottleneck: true, stem: 'imagenet' as const }),
});

/** The names newtonResnetByName() knows. */
export const NEWTON_RESNET_NAMES = Object.freeze(Object.keys(NEWTON_RESNETS));

/**
 * The Newton-ResNet called `name` ('newton-resnet18', 'newton-resnet34', 'newton-resnet50'),
 * named so, or null for another name. The name fixes the blocks and the block kind; options.stem
 * overrides the stem (CIFAR for 18/34, ImageNet for 50 by default), the other options pass on
 * to newtonResnet().
 */
export function newtonResnetByName(name: string, inputShape: readonly [number, number, number], classes: number, options?: NewtonResNetOptions): Network | null {
  const preset = typeof name === 'string' && Object.prototype.hasOwnProperty.call(NEWTON_RESNETS, name) ? NEWTON_RESNETS[name] : undefined;
  if (preset === undefined) return null;
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`newtonResnet: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  return newtonResnet(inputShape, classes, { ...options, blocks: preset.blocks, bottleneck: preset.bottleneck, stem: options?.stem ?? preset.stem, name });
}
