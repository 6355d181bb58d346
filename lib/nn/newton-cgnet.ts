// The CG block, the Newton-CG block and the Newton-CGNets of "Newton design: designing CNNs with
// the family of Newton's methods" (Shen, Yang, She, Wang, Ma, Lin; /work/shared/papers/
// newton-cgnet.txt, §3.4 and §4.1), built on GraphBuilder like the ResNets of lib/nn/resnet.ts.
//
// A Newton-CG block unrolls N steps of the conjugate-gradient method with learnable step sizes
// (Algorithm 2, BN, dropout and ReLU placed as §4.1.2 says):
//
//   y₀ = x                                  (x̃ = P(x) where the block changes the shape, below)
//   for t = 0 … N−1                         one CG block
//     g⁽¹⁾ = Dropout(BN(W₁ ∗ yₜ))            line 3
//     g⁽²⁾ = BN(W₂ ∗ Dropout(yₜ))            line 4
//     g⁽³⁾ = BN(W₄ ∗ Dropout(ReLU(BN(W₃ ∗ yₜ))))   line 5, with the ReLU "after conv3"
//     gₜ   = yₜ + g⁽¹⁾ + g⁽²⁾ + g⁽³⁾          line 6
//     dₜ   = −gₜ  (t = 0),   −gₜ + βₜ₋₁·dₜ₋₁  (t ≥ 1)
//     yₜ₊₁ = yₜ + αₜ·dₜ
//   output ReLU(x + y_N)                    line 14
//
//   yₜ ──┬─► conv W₁ → BN → Dropout ─────────────────────────────┐
//        ├─► Dropout → conv W₂ → BN ─────────────────────────────┤
//        ├─► conv W₃ → BN → ReLU → Dropout → conv W₄ → BN ───────┤
//        ├──────────────────────────────────────────────────────(+)─► gₜ ─► ×(−1) ─(+)─► dₜ ─► ×αₜ ─┐
//        │                                   (t ≥ 1) dₜ₋₁ ─► ×βₜ₋₁ ─┘                            │
//        └──────────────────────────────────────────────────────────────────────────────────────(+)─► yₜ₊₁
//
// Every convolution is 3×3 with padding 1 and no bias, followed by batch norm (§4.1.2: "BN after
// each convolution kernel"; the bias would be cancelled by BN's mean). The ReLU of branch 3 sits
// after conv3's BN (conv → BN → ReLU as everywhere in ResNets); dropout with a non-negative mask
// commutes with the ReLU, so Dropout(ReLU(·)) = ReLU(Dropout(·)) exactly. α₀…α_{N−1} and
// β₀…β_{N−2} are learnable scalars (nn.scale), initialised to 1.0 (§4.1.2), stored as the
// paper's αₜ, βₜ themselves: the signs of dₜ = −gₜ + βd and yₜ₊₁ = yₜ + αd come from a fixed
// nn.constantScale(−1) on gₜ, which has no parameter. A block has the paper's 2N − 1 scalars.
//
// Where a Newton-CG block changes the shape (the first of a stage: stride 2, twice the channels)
// the additions need "a linear projection to match the dimensions ... with a 1×1 convolution"
// (§4.1.2, following ResNet): P(x) = BN(conv1×1/s(x)), ResNet's option-B shortcut. Where it goes
// (options.transition):
//   'strided'   (default) the convolutions of CG block 0 read x itself with the stride, as the
//               first convolution of a ResNet stage does; P(x) stands for y₀ = x in every
//               addition (the y₀ of g₀ and of y₁ = y₀ + α₀d₀, and the x of ReLU(x + y_N)).
//               Projections only where an addition needs one, which is what the paper says.
//   'projected' y₀ = P(x) and the whole block runs at the output shape.
// Both are Algorithm 2 exactly where the shape is kept. The paper's parameter counts decide for
// 'strided': on ImageNet (below) only it gives Table 5's 21.7M (21,650,227; 'projected'
// 22,092,595), and on CIFAR it gives 1.68M / 2.61M / 3.43M for Newton-CGNet-56 / 82 / 110 against
// the paper's 1.70M / 2.62M / 3.45M ('projected': 1.75M / 2.68M / 3.50M). The per-CG-block
// increments of Table 3 (0.19–0.20M) are exactly 4 3×3 convolutions at 16/32/64 channels; no
// natural convention we tried reproduces the constant offset of every count in Tables 3–5
// (test/nn.newton-cgnet.test.ts lists ours).
//
// The CIFAR/SVHN networks L-{N₁, N₂, N₃} (§4.1.2) have the ResNet CIFAR stem (conv3×3 16 → BN →
// ReLU), three Newton-CG blocks of N₁, N₂, N₃ CG blocks at 16, 32, 64 channels (stride 2 at the
// second and third), global average pooling and a linear classifier. A CG block is 2 layers deep
// (W₁, W₂, W₃ read yₜ, W₄ follows W₃), so L = 2(N₁ + N₂ + N₃) + 2 counting the stem and the
// classifier as ResNet's 6n + 2 does: 10-{1,1,2}, 16-{2,2,3}, 22-{3,3,4}, 28-{4,4,5} (Table 3),
// 56-{9,9,9}, 82-{13,13,14}, 110-{18,18,18} (Table 4). Dropout p = 0.2 by default (C10+/C100+;
// 0.3 for SVHN, 0.4 for C10/C100 without augmentation).
//
// Newton-CGNet-34 for ImageNet (§4.1.5) is ResNet-34 with its third stage (6 basic blocks of 256
// channels) replaced by one Newton-CG block of 6 CG blocks whose branches are narrower and
// concatenated: gₜ = yₜ + [g⁽¹⁾, g⁽²⁾, g⁽³⁾] with W₁: 3×3, 64; W₂: 3×3, 64; W₃: 3×3, 256 → W₄: 3×3,
// 128 (64 + 64 + 128 = 256), joined by nn.concat(); NEWTON_CGNET34_PARAMETERS is its count.
//
// Initialisation (§4.1.2): He for the convolutions, Xavier for the fully connected layer.
// Network.init applies one initialiser to every weight, so the builders run it with He-normal
// and then redraw the classifier's weight with Xavier (the draw Network.init('xavier') would
// make for that layer). An explicit options.initializer applies to every weight instead.
import { drawParameter, type Initializer } from './init';
import { add, batchNorm2d, cgNetUpdate, concat, constantScale, conv2d, dropout as dropoutLayer, globalAvgPool2d, linear, maxPool2d, relu, scale, type LayerSpec } from './layers';
import type { ModelOptions } from './models';
import { GraphBuilder, type Value } from './graph';
import type { Network } from './network';
import { basicBlock, type ShortcutKind } from './resnet';
import { mixSeed } from './seed';
import { copy } from '../ops';

/** Where a Newton-CG block that changes the shape puts its stride (see the header): 'strided' (default) or 'projected'. */
export type CgTransition = 'strided' | 'projected';

/** The dropout probability of the Newton-CGNets when none is given (C10+ / C100+ / ImageNet). */
export const NEWTON_CGNET_DROPOUT = 0.2;

/**
 * The widths of a CG block's branches: g⁽¹⁾, g⁽²⁾, g⁽³⁾ = W₁, W₂, W₄'s outputs and W₃'s output
 * `hidden`. Without it every width is the block's channel count and the branches are summed;
 * with outputs that add up to the channel count they are concatenated (Newton-CGNet-34).
 */
export interface CgBranches {
  readonly outputs: readonly [number, number, number];
  readonly hidden: number;
}

/** Options of cgGradient(). */
export interface CgGradientOptions {
  /** Stride of W₁, W₂, W₃ (default 1; 2 only in CG block 0 of a 'strided' downsampling Newton-CG block). */
  stride?: number;
  /** Dropout probability p of the three branches, in [0, 1) (default 0.2; 0 leaves the dropout layers out). */
  dropout?: number;
  /** The value added as yₜ (default: the input itself); CG block 0 of a 'strided' block passes P(x). */
  identity?: Value;
  /** Narrow, concatenated branches (Newton-CGNet-34); default: full-width branches, summed. */
  branches?: CgBranches;
}

/** The state of the CG iteration between CG blocks: yₜ and dₜ₋₁ (null before the first). */
export interface CgState {
  readonly y: Value;
  readonly d: Value | null;
}

/** Options of cgBlock(): cgGradient()'s, but the identity, which is state.y. */
export interface CgBlockOptions extends Omit<CgGradientOptions, 'identity'> {
  /** What W₁, W₂, W₃ read (default state.y): x in CG block 0 of a 'strided' downsampling block, with options.stride. */
  input?: Value;
  /**
   * The update d, y′ as one fused module, cgNetUpdate (default true; summed branches only — the
   * concatenated ones of Newton-CGNet-34 always use add), or as constantScale, scale and add
   * modules (false): the same function with α, β at the same offsets of θ.
   */
  fused?: boolean;
}

/** Options of newtonCgBlock(). */
export interface NewtonCgBlockOptions {
  /** N, the number of CG blocks (default 1). */
  blocks?: number;
  /** Stride of the block (1 or 2; default 1). */
  stride?: number;
  /** Dropout probability p (default 0.2). */
  dropout?: number;
  /** The projection P: 'auto' (only where the shape changes; default), 'projection' (always) or 'identity' (never). */
  shortcut?: ShortcutKind;
  /** The CG updates as fused cgNetUpdate modules (default true; see CgBlockOptions.fused). */
  fused?: boolean;
  /** Where the stride goes when the shape changes (default 'strided'). */
  transition?: CgTransition;
  /** Narrow, concatenated branches (Newton-CGNet-34). */
  branches?: CgBranches;
}

function checkOptionsObject(fn: string, options: unknown): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
}

function positive(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function dropoutRate(fn: string, p: unknown): number {
  const v = p ?? NEWTON_CGNET_DROPOUT;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) throw new RangeError(`${fn}: options.dropout must be a number in [0, 1), got ${String(p)}`);
  return v;
}

function imageValue(fn: string, name: string, x: unknown): Value {
  const v = x as Value | null;
  if (v === null || typeof v !== 'object' || !Array.isArray(v.shape) || v.shape.length !== 3) {
    const got = v !== null && typeof v === 'object' && Array.isArray(v.shape) ? `[${v.shape.join(', ')}]` : typeof x;
    throw new RangeError(`${fn}: ${name} must be an image value [C, H, W] of the builder, got ${got}`);
  }
  return v;
}

function checkBranches(fn: string, branches: unknown, channels: number): CgBranches | null {
  if (branches === undefined) return null;
  const b = branches as CgBranches | null;
  if (b === null || typeof b !== 'object' || !Array.isArray(b.outputs) || b.outputs.length !== 3) {
    throw new TypeError(`${fn}: options.branches must be { outputs: [c1, c2, c3], hidden }`);
  }
  b.outputs.forEach((c, i) => positive(fn, `options.branches.outputs[${i}]`, c));
  positive(fn, 'options.branches.hidden', b.hidden);
  const summed = b.outputs.every((c) => c === channels);
  const sum = b.outputs[0] + b.outputs[1] + b.outputs[2];
  if (!summed && sum !== channels) {
    throw new RangeError(
      `${fn}: options.branches.outputs must each be ${channels} (summed branches) or add up to ${channels} (concatenated branches), got [${b.outputs.join(', ')}]`,
    );
  }
  return b;
}

const conv3 = (k: number, stride = 1): LayerSpec => conv2d(k, 3, { stride, padding: 1, bias: false });

/**
 * Adds the gradient gₜ of one CG block (Algorithm 2, lines 3–6; Figure 2(b)) on `y`:
 * gₜ = identity + Dropout(BN(W₁∗y)) + BN(W₂∗Dropout(y)) + BN(W₄∗Dropout(ReLU(BN(W₃∗y)))),
 * with `channels` output channels; returns gₜ.
 * @throws RangeError where the identity's shape is not the output's (give options.identity).
 */
export function cgGradient(g: GraphBuilder, y: Value, channels: number, options?: CgGradientOptions): Value {
  const { identity, terms } = cgGradientTerms(g, y, channels, options);
  return g.add(add(), [identity, ...terms]);
}

/** The addends of gₜ: the identity term and the three branches (or their concatenation). */
function cgGradientTerms(g: GraphBuilder, y: Value, channels: number, options?: CgGradientOptions): { identity: Value; terms: Value[] } {
  const fn = 'cgGradient';
  checkOptionsObject(fn, options);
  imageValue(fn, 'y', y);
  positive(fn, 'channels', channels);
  const stride = positive(fn, 'options.stride', options?.stride ?? 1);
  const p = dropoutRate(fn, options?.dropout);
  const branches = checkBranches(fn, options?.branches, channels);
  const identity = options?.identity === undefined ? y : imageValue(fn, 'options.identity', options.identity);
  const [c1, c2, c3] = branches?.outputs ?? [channels, channels, channels];
  const hidden = branches?.hidden ?? channels;
  const summed = c1 === channels && c2 === channels && c3 === channels;
  const size = (n: number) => Math.floor((n + 2 - 3) / stride) + 1;
  const want = [channels, size(y.shape[1]), size(y.shape[2])];
  if (identity.shape.join() !== want.join()) {
    throw new RangeError(
      `${fn}: the identity term has shape [${identity.shape.join(', ')}] but the branches give [${want.join(', ')}]; pass options.identity (the projection of y) where the stride or the channel count changes`,
    );
  }
  const drop: LayerSpec[] = p > 0 ? [dropoutLayer(p)] : [];
  const g1 = g.chain(y, [conv3(c1, stride), batchNorm2d(), ...drop]);
  const g2 = g.chain(y, [...drop, conv3(c2, stride), batchNorm2d()]);
  const g3 = g.chain(y, [conv3(hidden, stride), batchNorm2d(), relu(), ...drop, conv3(c3), batchNorm2d()]);
  return { identity, terms: summed ? [g1, g2, g3] : [g.add(concat(), [g1, g2, g3])] };
}

/**
 * Adds one CG block (Algorithm 2, lines 3–12; the grey region of Figure 2(a)) on the state
 * (yₜ, dₜ₋₁): gₜ by cgGradient(), dₜ = −gₜ (first block) or −gₜ + βₜ₋₁·dₜ₋₁, yₜ₊₁ = yₜ + αₜ·dₜ,
 * with learnable αₜ, βₜ₋₁ starting at 1.0. Returns (yₜ₊₁, dₜ).
 */
export function cgBlock(g: GraphBuilder, state: CgState, channels: number, options?: CgBlockOptions): CgState {
  const fn = 'cgBlock';
  checkOptionsObject(fn, options);
  if (state === null || typeof state !== 'object') throw new TypeError(`${fn}: state must be { y, d } (d null before the first CG block)`);
  const y = imageValue(fn, 'state.y', state.y);
  const d = state.d === null ? null : imageValue(fn, 'state.d', state.d);
  const input = options?.input === undefined ? y : imageValue(fn, 'options.input', options.input);
  const fused = options?.fused ?? true;
  if (typeof fused !== 'boolean') throw new TypeError(`${fn}: options.fused must be a boolean, got ${typeof fused}`);
  const { identity, terms } = cgGradientTerms(g, input, channels, { stride: options?.stride, dropout: options?.dropout, branches: options?.branches, identity: y });
  if (fused && terms.length === 3) {
    // d and y′ in one kernel (lib/nn/modules/fused.ts), β then α in θ as below
    const [y1, dt] = g.addOutputs(cgNetUpdate({ first: d === null }), d === null ? [identity, ...terms] : [identity, ...terms, d]);
    return { y: y1, d: dt };
  }
  const gt = g.add(add(), [identity, ...terms]);
  const minusG = g.add(constantScale(-1), gt);
  const dt = d === null ? minusG : g.add(add(), [minusG, g.add(scale(1), d)]);
  return { y: g.add(add(), [y, g.add(scale(1), dt)]), d: dt };
}

/**
 * Adds a Newton-CG block (Algorithm 2) of options.blocks CG blocks on x with `channels` output
 * channels; returns ReLU(x̃ + y_N), x̃ = x or its projection BN(conv1×1/s(x)).
 * @throws RangeError for shortcut 'identity' where the stride or channel count changes.
 */
export function newtonCgBlock(g: GraphBuilder, x: Value, channels: number, options?: NewtonCgBlockOptions): Value {
  const fn = 'newtonCgBlock';
  checkOptionsObject(fn, options);
  imageValue(fn, 'x', x);
  positive(fn, 'channels', channels);
  const blocks = positive(fn, 'options.blocks', options?.blocks ?? 1);
  const stride = positive(fn, 'options.stride', options?.stride ?? 1);
  const p = dropoutRate(fn, options?.dropout);
  const shortcut = options?.shortcut ?? 'auto';
  if (shortcut !== 'auto' && shortcut !== 'identity' && shortcut !== 'projection') {
    throw new RangeError(`${fn}: options.shortcut must be 'auto', 'identity' or 'projection', got ${JSON.stringify(shortcut) ?? String(shortcut)}`);
  }
  const transition = options?.transition ?? 'strided';
  if (transition !== 'strided' && transition !== 'projected') {
    throw new RangeError(`${fn}: options.transition must be 'strided' or 'projected', got ${JSON.stringify(transition) ?? String(transition)}`);
  }
  const branches = checkBranches(fn, options?.branches, channels) ?? undefined;
  const changes = stride !== 1 || x.shape[0] !== channels;
  if (shortcut === 'identity' && changes) {
    throw new RangeError(
      `${fn}: without a projection the block needs stride 1 and as many channels in as out, got stride ${stride} and ${x.shape[0]} → ${channels} channels; use shortcut 'projection' or 'auto'`,
    );
  }
  const project = shortcut === 'projection' || (shortcut === 'auto' && changes);
  const x0 = project ? g.chain(x, [conv2d(channels, 1, { stride, bias: false }), batchNorm2d()]) : x;
  let state: CgState = { y: x0, d: null };
  for (let t = 0; t < blocks; t++) {
    const first = t === 0 && transition === 'strided' && x0 !== x ? { input: x, stride } : {};
    state = cgBlock(g, state, channels, { dropout: p, branches, fused: options?.fused, ...first });
  }
  return g.add(relu(), g.add(add(), [x0, state.y]));
}

/** The CIFAR/SVHN Newton-CGNets of the paper: depth L → [N₁, N₂, N₃] (Tables 3 and 4). */
export const NEWTON_CGNET_CONFIGS: Readonly<Record<number, readonly [number, number, number]>> = Object.freeze({
  10: [1, 1, 2],
  16: [2, 2, 3],
  22: [3, 3, 4],
  28: [4, 4, 5],
  56: [9, 9, 9],
  82: [13, 13, 14],
  110: [18, 18, 18],
});

/** The depths L of NEWTON_CGNET_CONFIGS. */
export const NEWTON_CGNET_DEPTHS = Object.freeze([10, 16, 22, 28, 56, 82, 110] as const);

/** Options of newtonCgNet(). */
export interface NewtonCgNetOptions extends ModelOptions {
  /** [N₁, N₂, N₃]: CG blocks per Newton-CG block (default [9, 9, 9], Newton-CGNet-56). */
  blocks?: readonly number[];
  /** Channels of the stem and the first Newton-CG block (default 16); the others double it. */
  width?: number;
  /** Dropout probability p (default 0.2). */
  dropout?: number;
  /** Where the downsampling blocks put their stride (default 'strided'). */
  transition?: CgTransition;
  /** The CG updates as fused cgNetUpdate modules (default true). */
  fused?: boolean;
  /** The network's name (default 'newton-cgnet' + L). */
  name?: string;
}

/** Options of newtonCgNet34ImageNet(). */
export interface NewtonCgNet34Options extends ModelOptions {
  /** Channels of the first stage (default 64); the others double it, the CG branches scale with it. */
  width?: number;
  /** Dropout probability p (default 0.2, the paper's ImageNet setting). */
  dropout?: number;
  /** Where the Newton-CG block puts its stride (default 'strided'). */
  transition?: CgTransition;
}

/** Parameters of Newton-CGNet-34 for 1,000 classes: ResNet-34's 21,797,672 less its third stage (6,822,400) plus the Newton-CG block (6,674,955): 21.7M as Table 5. */
export const NEWTON_CGNET34_PARAMETERS = 21_650_227;

/** Builds, He-initialises (the classifier Xavier, unless options.initializer says otherwise) and returns the network ending at `features`. */
function finish(g: GraphBuilder, features: Value, classes: number, name: string, options: ModelOptions | undefined): Network {
  const out = g.chain(features, [globalAvgPool2d(), linear(classes)]);
  const net = g.build(out, { dtype: options?.dtype, device: options?.device, name });
  try {
    const seed = options?.seed ?? 0;
    const initializer: Initializer = options?.initializer ?? 'he-normal';
    net.init(initializer, { seed, scale: options?.scale });
    if (options?.initializer === undefined) {
      const info = net.layers()[net.layers().length - 1];
      const slot = info.weight!;
      const view = net.parameters.view(slot.offset, slot.shape);
      try {
        const w = drawParameter('xavier', info, mixSeed(seed, info.index), 1, view);
        copy(view, w);
        w.dispose();
      } finally {
        view.dispose();
      }
    }
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}

function modelOptions(fn: string, classes: unknown, options: unknown, defaultWidth: number): number {
  positive(fn, 'classes', classes);
  checkOptionsObject(fn, options);
  const o = options as { width?: unknown } | undefined;
  return o?.width === undefined ? defaultWidth : positive(fn, 'options.width', o.width);
}

/**
 * The CIFAR/SVHN Newton-CGNet L-{N₁, N₂, N₃} (§4.1.2) for images of `inputShape` = [C, H, W]:
 * stem conv3×3 (16) → BN → ReLU, Newton-CG blocks of N₁, N₂, N₃ CG blocks at 16, 32, 64 channels
 * (stride 2 at the second and third), global average pooling, linear. Depth L = 2(N₁+N₂+N₃) + 2.
 */
export function newtonCgNet(inputShape: readonly [number, number, number], classes: number, options?: NewtonCgNetOptions): Network {
  const fn = 'newtonCgNet';
  const width = modelOptions(fn, classes, options, 16);
  const blocks = options?.blocks ?? NEWTON_CGNET_CONFIGS[56];
  if (!Array.isArray(blocks) || blocks.length !== 3) throw new RangeError(`${fn}: options.blocks must be [N1, N2, N3], got ${JSON.stringify(blocks) ?? String(blocks)}`);
  blocks.forEach((n, i) => positive(fn, `options.blocks[${i}]`, n));
  const depth = 2 * (blocks[0] + blocks[1] + blocks[2]) + 2;
  const name = options?.name ?? `newton-cgnet${depth}`;
  const g = new GraphBuilder(inputShape, name);
  let x = g.chain(g.input, [conv3(width), batchNorm2d(), relu()]);
  for (let s = 0; s < 3; s++) {
    x = newtonCgBlock(g, x, width << s, { blocks: blocks[s], stride: s > 0 ? 2 : 1, dropout: options?.dropout, transition: options?.transition, fused: options?.fused });
  }
  return finish(g, x, classes, name, options);
}

/**
 * Newton-CGNet-34 for ImageNet (§4.1.5): ResNet-34 (ImageNet stem; 3, 4, 3 basic blocks of 64,
 * 128, 512 channels in stages 1, 2, 4) whose third stage is one Newton-CG block of 6 CG blocks
 * at 256 channels with concatenated branches W₁ 64, W₂ 64, W₃ 256 → W₄ 128 (eq. 18).
 * NEWTON_CGNET34_PARAMETERS parameters for 1,000 classes.
 */
export function newtonCgNet34ImageNet(inputShape: readonly [number, number, number], classes: number, options?: NewtonCgNet34Options): Network {
  const fn = 'newton-cgnet34';
  const width = modelOptions(fn, classes, options, 64);
  const g = new GraphBuilder(inputShape, fn);
  let x = g.chain(g.input, [conv2d(width, 7, { stride: 2, padding: 3, bias: false }), batchNorm2d(), relu(), maxPool2d(3, { stride: 2, padding: 1 })]);
  for (let b = 0; b < 3; b++) x = basicBlock(g, x, width);
  for (let b = 0; b < 4; b++) x = basicBlock(g, x, 2 * width, { stride: b === 0 ? 2 : 1 });
  x = newtonCgBlock(g, x, 4 * width, {
    blocks: 6,
    stride: 2,
    dropout: options?.dropout,
    transition: options?.transition,
    branches: { outputs: [width, width, 2 * width], hidden: 4 * width },
  });
  for (let b = 0; b < 3; b++) x = basicBlock(g, x, 8 * width, { stride: b === 0 ? 2 : 1 });
  return finish(g, x, classes, fn, options);
}

/** The names newtonCgNetByName() knows: 'newton-cgnet' + a depth of NEWTON_CGNET_DEPTHS, and 'newton-cgnet34' (ImageNet). */
export const NEWTON_CGNET_NAMES = Object.freeze([...NEWTON_CGNET_DEPTHS.map((d) => `newton-cgnet${d}`), 'newton-cgnet34'] as const);

/**
 * The Newton-CGNet called `name`, or null: 'newton-cgnet10' … 'newton-cgnet110' (the CIFAR/SVHN
 * networks of NEWTON_CGNET_CONFIGS) or 'newton-cgnet34' (ImageNet).
 */
export function newtonCgNetByName(name: string, inputShape: readonly [number, number, number], classes: number, options?: ModelOptions & { dropout?: number; transition?: CgTransition }): Network | null {
  const m = typeof name === 'string' ? /^newton-cgnet(\d+)$/.exec(name) : null;
  if (m === null) return null;
  const depth = Number(m[1]);
  if (depth === 34) return newtonCgNet34ImageNet(inputShape, classes, options);
  const blocks = NEWTON_CGNET_CONFIGS[depth];
  return blocks === undefined ? null : newtonCgNet(inputShape, classes, { ...options, blocks });
}
