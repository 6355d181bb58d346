// Residual blocks and the ResNets of He et al. (2016), built on GraphBuilder (lib/nn/graph.ts).
//
//   basic block        x → conv3×3/s → BN → ReLU → conv3×3 → BN ─┐
//                      x → shortcut ─────────────────────────────(+)→ ReLU
//   bottleneck block   x → conv1×1 → BN → ReLU → conv3×3/s → BN → ReLU → conv1×1 (4w) → BN ─┐
//                      x → shortcut ───────────────────────────────────────────────────────(+)→ ReLU
//   shortcut           identity, or a projection conv1×1/s (no bias) → BN where the stride or
//                      the channel count changes (the stride sits on the 3×3 conv, as in
//                      torchvision's ResNet v1.5).
//   linear             options.linear (blocks: activation 'identity') removes every ReLU, of the
//                      stem, inside the blocks and after the sums: the linear ResNet baselines of
//                      the Newton-ResNet paper (Tables 2, 5 and 7, "all activation functions
//                      removed"), affine in the input once batch norm uses its running statistics.
//
// ResNet-18/34 (basic) and -50/101/152 (bottleneck) have four stages of 64, 128, 256, 512 channels
// (×4 for bottlenecks), stride 2 at the start of stages 2–4, global average pooling and a linear
// classifier; the ImageNet stem is conv7×7/2 → BN → ReLU → maxpool 3×3/2, the CIFAR stem a
// conv3×3 → BN → ReLU. The CIFAR ResNets of depth 6n + 2 have the CIFAR stem with 16 channels
// and three stages of n basic blocks of 16, 32, 64 channels; where a stage halves the image
// they use a projection shortcut (the paper's option B) — the paper's parameter counts are for
// its zero-padding option A, which has 2,752 fewer parameters. Convolutions have no bias (batch
// norm follows each), the classifier has one.
import { add, batchNorm2d, conv2d, globalAvgPool2d, linear, maxPool2d, relu, type LayerSpec } from './layers';
import type { ModelOptions } from './models';
import { GraphBuilder, type Value } from './graph';
import type { Network } from './network';

/** The shortcut of a block: 'identity', 'projection' (conv1×1/s + BN), or 'auto' (projection only where the shape changes). */
export type ShortcutKind = 'auto' | 'identity' | 'projection';

/** Options of basicBlock() and bottleneckBlock(). */
export interface BlockOptions {
  /** Stride of the block (1 or 2; default 1). */
  stride?: number;
  /** The shortcut (default 'auto'). */
  shortcut?: ShortcutKind;
}

/** Options of basicBlock() and bottleneckBlock(): those of every block, and the activation. */
export interface ResidualBlockOptions extends BlockOptions {
  /** φ, after the inner batch norms and after the sum: 'relu' (default) or 'identity' (every ReLU removed: the linear ResNets). */
  activation?: 'relu' | 'identity';
}

/** The ReLU of a block, or nothing for activation 'identity'. */
function blockActivation(fn: string, options: ResidualBlockOptions | undefined): LayerSpec[] {
  const a = options?.activation === undefined ? 'relu' : options.activation;
  if (a !== 'relu' && a !== 'identity') throw new RangeError(`${fn}: options.activation must be 'relu' or 'identity', got ${JSON.stringify(a) ?? String(a)}`);
  return a === 'relu' ? [relu()] : [];
}

/** Validates a block's stride and shortcut (shared with lib/nn/newton-resnet.ts). */
export function blockOptions(fn: string, options: BlockOptions | undefined): { stride: number; shortcut: ShortcutKind } {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const stride = options?.stride ?? 1;
  if (typeof stride !== 'number' || !Number.isInteger(stride) || stride < 1) {
    throw new RangeError(`${fn}: options.stride must be a positive integer, got ${String(stride)}`);
  }
  const shortcut = options?.shortcut ?? 'auto';
  if (shortcut !== 'auto' && shortcut !== 'identity' && shortcut !== 'projection') {
    throw new RangeError(`${fn}: options.shortcut must be 'auto', 'identity' or 'projection', got ${JSON.stringify(shortcut) ?? String(shortcut)}`);
  }
  return { stride, shortcut };
}

/** `v` as a positive integer, or a RangeError naming `name` (shared with lib/nn/newton-resnet.ts). */
export function channels(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/** The shortcut branch from x to `outChannels` channels at `stride`. */
export function shortcutBranch(fn: string, g: GraphBuilder, x: Value, outChannels: number, stride: number, kind: ShortcutKind): Value {
  const changes = stride !== 1 || x.shape[0] !== outChannels;
  if (kind === 'identity' && changes) {
    throw new RangeError(
      `${fn}: an identity shortcut needs stride 1 and as many channels in as out, got stride ${stride} and ${x.shape[0]} → ${outChannels} channels; use shortcut 'projection' or 'auto'`,
    );
  }
  if (kind === 'identity' || (kind === 'auto' && !changes)) return x;
  return g.chain(x, [conv2d(outChannels, 1, { stride, bias: false }), batchNorm2d()]);
}

/** Checks that x is an image value [C, H, W] (shared with lib/nn/newton-resnet.ts). */
export function imageInput(fn: string, x: Value): void {
  if (x === null || typeof x !== 'object' || !Array.isArray(x.shape) || x.shape.length !== 3) {
    const got = x !== null && typeof x === 'object' && Array.isArray(x.shape) ? `[${x.shape.join(', ')}]` : typeof x;
    throw new RangeError(`${fn}: x must be an image value [C, H, W] of the builder, got ${got}`);
  }
}

/**
 * Adds a basic block (two 3×3 convolutions) on x with `outChannels` channels; returns its output.
 * With options.activation 'identity' the block has no ReLU (x̃ + BN(conv(BN(conv(x))))).
 * @throws RangeError for an identity shortcut where the stride or channel count changes, or a bad activation.
 */
export function basicBlock(g: GraphBuilder, x: Value, outChannels: number, options?: ResidualBlockOptions): Value {
  const fn = 'basicBlock';
  imageInput(fn, x);
  channels(fn, 'outChannels', outChannels);
  const { stride, shortcut } = blockOptions(fn, options);
  const phi = blockActivation(fn, options);
  const skip = shortcutBranch(fn, g, x, outChannels, stride, shortcut);
  const h = g.chain(x, [
    conv2d(outChannels, 3, { stride, padding: 1, bias: false }),
    batchNorm2d(),
    ...phi,
    conv2d(outChannels, 3, { padding: 1, bias: false }),
    batchNorm2d(),
  ]);
  return g.chain(g.add(add(), [h, skip]), phi);
}

/**
 * Adds a bottleneck block on x: 1×1 to `width` channels, 3×3 (with the stride), 1×1 to
 * 4·width channels; returns its output. options.activation 'identity' removes its ReLUs.
 */
export function bottleneckBlock(g: GraphBuilder, x: Value, width: number, options?: ResidualBlockOptions): Value {
  const fn = 'bottleneckBlock';
  imageInput(fn, x);
  channels(fn, 'width', width);
  const { stride, shortcut } = blockOptions(fn, options);
  const phi = blockActivation(fn, options);
  const out = 4 * width;
  const skip = shortcutBranch(fn, g, x, out, stride, shortcut);
  const h = g.chain(x, [
    conv2d(width, 1, { bias: false }),
    batchNorm2d(),
    ...phi,
    conv2d(width, 3, { stride, padding: 1, bias: false }),
    batchNorm2d(),
    ...phi,
    conv2d(out, 1, { bias: false }),
    batchNorm2d(),
  ]);
  return g.chain(g.add(add(), [h, skip]), phi);
}

/** The stem of a ResNet: 'imagenet' (conv7×7/2, max pool 3×3/2) or 'cifar' (conv3×3, no pooling). */
export type ResNetStem = 'imagenet' | 'cifar';

/** Options of the ResNet builders. */
export interface ResNetOptions extends ModelOptions {
  /** The stem (ImageNet ResNets default to 'imagenet'; the CIFAR family is always 'cifar'). */
  stem?: ResNetStem;
  /** Channels of the first stage (default 64 for ResNet-18…101, 16 for the CIFAR family); later stages double it. */
  width?: number;
  /**
   * Every activation removed: no ReLU in the stem, the blocks or after the sums (default false);
   * the linear ResNet-18/-50 of the Newton-ResNet paper's Tables 2, 5 and 7.
   */
  linear?: boolean;
}

/** options.linear as a boolean (false when absent). */
function linearOption(fn: string, options: ResNetOptions | undefined): boolean {
  const v = options?.linear ?? false;
  if (typeof v !== 'boolean') throw new RangeError(`${fn}: options.linear must be a boolean, got ${typeof v}`);
  return v;
}

/** The ImageNet ResNet depths and their blocks per stage. */
const IMAGENET_DEPTHS: Readonly<Record<number, { block: 'basic' | 'bottleneck'; stages: readonly number[] }>> = Object.freeze({
  18: { block: 'basic', stages: [2, 2, 2, 2] },
  34: { block: 'basic', stages: [3, 4, 6, 3] },
  50: { block: 'bottleneck', stages: [3, 4, 6, 3] },
  101: { block: 'bottleneck', stages: [3, 4, 23, 3] },
  152: { block: 'bottleneck', stages: [3, 8, 36, 3] },
});

/** The depths resnet() builds. */
export const RESNET_DEPTHS = Object.freeze([18, 34, 50, 101, 152] as const);
/** The depths cifarResNet() is usually built with (any 6n + 2 works). */
export const CIFAR_RESNET_DEPTHS = Object.freeze([20, 32, 44, 56, 110] as const);

/** Validates classes, options, options.width and options.stem of a ResNet builder (shared with lib/nn/newton-resnet.ts). */
export function checkCommon(fn: string, classes: unknown, options: ResNetOptions | undefined, defaultWidth: number): { width: number; stem: ResNetStem | undefined } {
  channels(fn, 'classes', classes);
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const width = options?.width === undefined ? defaultWidth : channels(fn, 'options.width', options.width);
  const stem = options?.stem;
  if (stem !== undefined && stem !== 'imagenet' && stem !== 'cifar') {
    throw new RangeError(`${fn}: options.stem must be 'imagenet' or 'cifar', got ${JSON.stringify(stem) ?? String(stem)}`);
  }
  return { width, stem };
}

/**
 * The layers of a ResNet stem with `width` channels: 'imagenet' conv7×7/2 → BN → ReLU → max pool
 * 3×3/2, 'cifar' conv3×3 → BN → ReLU; without the ReLU where `activation` is false (the linear
 * networks of lib/nn/newton-resnet.ts).
 */
export function stemLayers(stem: ResNetStem, width: number, activation = true): LayerSpec[] {
  const act = activation ? [relu()] : [];
  return stem === 'imagenet'
    ? [conv2d(width, 7, { stride: 2, padding: 3, bias: false }), batchNorm2d(), ...act, maxPool2d(3, { stride: 2, padding: 1 })]
    : [conv2d(width, 3, { padding: 1, bias: false }), batchNorm2d(), ...act];
}

/** Builds the network of `g` ending at `features` with a global-average-pool + linear head, initialised. */
export function finish(g: GraphBuilder, features: Value, classes: number, name: string, options: ResNetOptions | undefined): Network {
  const out = g.chain(features, [globalAvgPool2d(), linear(classes)]);
  const net = g.build(out, { dtype: options?.dtype, device: options?.device, name });
  try {
    net.init(options?.initializer ?? 'he-normal', { seed: options?.seed ?? 0, scale: options?.scale });
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}

/**
 * ResNet-18, -34, -50, -101 or -152 for images of `inputShape` = [C, H, W] and `classes` classes,
 * He-initialised (batch-norm γ 1, β 0); options.linear without any ReLU. For 1,000 classes and
 * the ImageNet stem ResNet-18 has 11,689,512 parameters and ResNet-50 25,557,032, as the
 * reference implementations (the linear networks as many: a ReLU has none).
 */
export function resnet(depth: number, inputShape: readonly [number, number, number], classes: number, options?: ResNetOptions): Network {
  const fn = `resnet${String(depth)}`;
  const arch = typeof depth === 'number' ? IMAGENET_DEPTHS[depth] : undefined;
  if (arch === undefined) throw new RangeError(`resnet: depth must be one of ${RESNET_DEPTHS.join(', ')}, got ${String(depth)}`);
  const { width, stem } = checkCommon(fn, classes, options, 64);
  const isLinear = linearOption(fn, options);
  const activation = isLinear ? 'identity' : 'relu';
  const g = new GraphBuilder(inputShape, fn);
  let x = g.chain(g.input, stemLayers(stem ?? 'imagenet', width, !isLinear));
  arch.stages.forEach((blocks, s) => {
    const w = width << s;
    for (let b = 0; b < blocks; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      x = arch.block === 'basic' ? basicBlock(g, x, w, { stride, activation }) : bottleneckBlock(g, x, w, { stride, activation });
    }
  });
  return finish(g, x, classes, fn, options);
}

/**
 * The CIFAR ResNet of depth 6n + 2 (20, 32, 44, 56, 110, …): the CIFAR stem, three stages of n
 * basic blocks with 16, 32 and 64 channels (options.width scales them), projection shortcuts
 * where a stage halves the image (options.linear: without any ReLU). ResNet-56 has about 0.85M
 * parameters, ResNet-110 1.73M.
 */
export function cifarResNet(depth: number, inputShape: readonly [number, number, number], classes: number, options?: ResNetOptions): Network {
  const fn = `resnet${String(depth)}`;
  if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new RangeError(`cifarResNet: depth must be 6n + 2 with n ≥ 1 (20, 32, 44, 56, 110, …), got ${String(depth)}`);
  }
  const { width, stem } = checkCommon(fn, classes, options, 16);
  if (stem === 'imagenet') throw new RangeError(`${fn}: the CIFAR ResNets have the CIFAR stem; use resnet(${RESNET_DEPTHS.join(' | ')}, …) for the ImageNet stem`);
  const isLinear = linearOption(fn, options);
  const n = (depth - 2) / 6;
  const g = new GraphBuilder(inputShape, fn);
  let x = g.chain(g.input, stemLayers('cifar', width, !isLinear));
  for (let s = 0; s < 3; s++) {
    for (let b = 0; b < n; b++) x = basicBlock(g, x, width << s, { stride: s > 0 && b === 0 ? 2 : 1, activation: isLinear ? 'identity' : 'relu' });
  }
  return finish(g, x, classes, fn, options);
}

/**
 * The ResNet called `name`, or null: 'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152'
 * (resnet()), or 'resnet' + another depth 6n + 2 ('resnet20', 'resnet56', 'resnet110', …;
 * cifarResNet()). Depths 50 and 152 are the ImageNet networks; the CIFAR networks of those
 * depths are cifarResNet(50 | 152, …).
 */
export function resnetByName(name: string, inputShape: readonly [number, number, number], classes: number, options?: ResNetOptions): Network | null {
  const m = /^resnet(\d+)$/.exec(name);
  if (m === null) return null;
  const depth = Number(m[1]);
  if (depth in IMAGENET_DEPTHS) return resnet(depth, inputShape, classes, options);
  if (depth >= 8 && (depth - 2) % 6 === 0) return cifarResNet(depth, inputShape, classes, options);
  return null;
}
