// VGG13 with batch norm for CIFAR-sized images, as modified by Zhang, Chen & Liu, "On the Local
// Hessian in Back-propagation" (NeurIPS 2018), section 4.1, for their scale-amended SGD
// experiments (lib/optim/scale-amended-sgd.ts):
//
//   "We modify the VGG nets by keeping the last fully connected layers and removing the
//    intermediate two fully connected layers and all the biases. Each intermediate layer of the
//    VGG nets concatenates a BN layer right before the activation function and the BN has no
//    trainable parameters."
//
//   [conv3×3 (no bias) → BN → ReLU] × 2, max pool 2×2      w channels        (w = 64)
//   [conv3×3 (no bias) → BN → ReLU] × 2, max pool 2×2      2w
//   [conv3×3 (no bias) → BN → ReLU] × 2, max pool 2×2      4w
//   [conv3×3 (no bias) → BN → ReLU] × 2, max pool 2×2      8w
//   [conv3×3 (no bias) → BN → ReLU] × 2, max pool 2×2      8w
//   flatten → linear(classes) (no bias)
//
// Convolutions have stride 1 and padding 1 (VGG configuration B, Simonyan & Zisserman 2015);
// on 32×32 CIFAR images the five pools leave 1×1×8w, so the classifier is 8w → classes (512 →
// 10 or 100). The paper's network is the default (affine: false, classifierBias: false); affine
// batch norm (learnable γ, β) and a classifier bias are options, which with conv biases would
// make the usual CIFAR VGG13-BN (see test/nn.vgg.test.ts for the counts). He-normal initialised
// (the convolutions' and the classifier's weights; batch-norm γ = 1, β = 0 when affine).
import { batchNorm2d, conv2d, flatten, linear, maxPool2d, relu, type LayerSpec } from './layers';
import type { ModelOptions } from './models';
import type { Network } from './network';
import { initializedSequential } from './sequential';

/** VGG13's convolution widths relative to the first stage's (×w/64 for `width` w), 'M' a 2×2 max pool. */
export const VGG13_CONFIG: readonly (number | 'M')[] = Object.freeze([64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']);

/** Options of vgg13bn(). */
export interface Vgg13BnOptions extends ModelOptions {
  /**
   * Learnable batch-norm γ and β (default false: the paper's "the BN has no trainable
   * parameters"; true: the usual affine batch norm).
   */
  affine?: boolean;
  /** Channels of the first stage (default 64); the stages have w, 2w, 4w, 8w, 8w channels. */
  width?: number;
  /** A bias on the classifier (default false: the paper removes "all the biases"). */
  classifierBias?: boolean;
}

function checkOptions(fn: string, classes: unknown, options: unknown): { affine: boolean; width: number; classifierBias: boolean } {
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1) throw new RangeError(`${fn}: classes must be a positive integer, got ${String(classes)}`);
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const o = (options ?? {}) as Vgg13BnOptions;
  const bool = (name: 'affine' | 'classifierBias'): boolean => {
    const v = o[name] ?? false;
    if (typeof v !== 'boolean') throw new TypeError(`${fn}: options.${name} must be a boolean, got ${typeof v}`);
    return v;
  };
  const width = o.width ?? 64;
  if (typeof width !== 'number' || !Number.isInteger(width) || width < 1) throw new RangeError(`${fn}: options.width must be a positive integer, got ${String(width)}`);
  return { affine: bool('affine'), width, classifierBias: bool('classifierBias') };
}

/**
 * The layer specifications of VGG13-BN for `classes` outputs (see vgg13bn for the options).
 * @throws RangeError / TypeError for bad classes or options.
 */
export function vgg13bnLayers(classes: number, options?: Pick<Vgg13BnOptions, 'affine' | 'width' | 'classifierBias'>): LayerSpec[] {
  const { affine, width, classifierBias } = checkOptions('vgg13bnLayers', classes, options);
  const layers: LayerSpec[] = [];
  for (const c of VGG13_CONFIG) {
    if (c === 'M') layers.push(maxPool2d(2, { stride: 2 }));
    else layers.push(conv2d((c / 64) * width, 3, { padding: 1, bias: false }), batchNorm2d({ affine }), relu());
  }
  layers.push(flatten(), linear(classes, { bias: classifierBias }));
  return layers;
}

/**
 * VGG13 with batch norm (Zhang et al. 2018's variant: no biases, batch norm without γ/β before
 * every ReLU, one linear classifier) for images of `inputShape` = [C, H, W] (at least 32×32:
 * five 2×2 max pools) and `classes` classes, He-initialised. On 3×32×32 images it has 9,407,168
 * parameters for 10 classes (9,402,048 in the convolutions, 5,120 in the classifier); affine
 * batch norm adds 5,888 (γ and β of its 2,944 channels).
 * @throws RangeError for images smaller than 32×32 or bad options.
 */
export function vgg13bn(inputShape: readonly [number, number, number], classes: number, options?: Vgg13BnOptions): Network {
  const fn = 'vgg13bn';
  const layers = vgg13bnLayers(classes, options);
  if (Array.isArray(inputShape) && inputShape.length === 3 && (inputShape[1] < 32 || inputShape[2] < 32)) {
    throw new RangeError(`${fn}: images must be at least 32×32 (five 2×2 max pools), got ${String(inputShape[1])}×${String(inputShape[2])}`);
  }
  return initializedSequential(fn, inputShape, layers, options);
}
