// The 3-layer and 5-layer CNNs of Table 4 of "Newton methods for convolutional neural
// networks" (Wang, Tan, Lin), for any input shape and number of classes.
//
//   cnn3: conv 5×5 32 → pool → conv 3×3 64 → pool → conv 3×3 64 → pool → full
//   cnn5: conv 5×5 32 → pool → conv 3×3 32 → conv 3×3 64 → pool → conv 3×3 64 → conv 3×3 128 → pool → full
// Every conv has stride 1 and padding (h − 1)/2 (the output keeps the input's size), a bias and
// a ReLU; pools are 2×2 max pools with stride 2 (odd sizes floor: 7 → 3); the final linear layer
// has no activation. Weights are He-normal initialised (the paper's choice) unless told otherwise.
import type { Initializer } from './init';
import { conv2d, flatten, linear, maxPool2d, relu, type LayerSpec } from './layers';
import type { FloatDType, Network } from './network';
import { newtonCgNetByName, NEWTON_CGNET_NAMES } from './newton-cgnet';
import { newtonResnetByName, NEWTON_RESNET_NAMES } from './newton-resnet';
import { resnetByName, type ResNetStem } from './resnet';
import { vgg13bn } from './vgg';
import { initializedSequential, type Sequential } from './sequential';

/** Options of cnn3() / cnn5(). */
export interface ModelOptions {
  /** Element type (default 'float32'). */
  dtype?: FloatDType;
  /** Device (default 'cpu'). */
  device?: string;
  /** Initialiser of the weights (default 'he-normal'). */
  initializer?: Initializer;
  /** Seed of the initialisation (default 0). */
  seed?: number;
  /** Scale of 'xavier-small' (default 0.01) or gain of 'orthogonal' (default 1). */
  scale?: number;
}

/** Options of modelByName(): ModelOptions, and the stem of the ResNets (lib/nn/resnet.ts). */
export interface NamedModelOptions extends ModelOptions {
  /** The ResNet stem: 'imagenet' (ResNet-18…101's default) or 'cifar'; not for cnn3/cnn5. */
  stem?: ResNetStem;
}

function convBlock(filters: number, kernel: number, pool: boolean): LayerSpec[] {
  const layers: LayerSpec[] = [conv2d(filters, kernel, { padding: 'same' }), relu()];
  if (pool) layers.push(maxPool2d(2, { stride: 2 }));
  return layers;
}

/** Layer specifications of the paper's 3-layer CNN for `classes` outputs. */
export function cnn3Layers(classes: number): LayerSpec[] {
  return [...convBlock(32, 5, true), ...convBlock(64, 3, true), ...convBlock(64, 3, true), flatten(), linear(classes)];
}

/** Layer specifications of the paper's 5-layer CNN for `classes` outputs. */
export function cnn5Layers(classes: number): LayerSpec[] {
  return [
    ...convBlock(32, 5, true),
    ...convBlock(32, 3, false),
    ...convBlock(64, 3, true),
    ...convBlock(64, 3, false),
    ...convBlock(128, 3, true),
    flatten(),
    linear(classes),
  ];
}

function build(name: string, inputShape: readonly [number, number, number], classes: number, layers: (k: number) => LayerSpec[], options?: ModelOptions): Sequential {
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`${name}: classes must be a positive integer, got ${String(classes)}`);
  }
  return initializedSequential(name, inputShape, layers(classes), options);
}

/** The paper's 3-layer CNN (Table 4) for images of `inputShape` = [C, H, W] and `classes` classes; He-initialised. */
export function cnn3(inputShape: readonly [number, number, number], classes: number, options?: ModelOptions): Sequential {
  return build('cnn3', inputShape, classes, cnn3Layers, options);
}

/** The paper's 5-layer CNN (Table 4) for images of `inputShape` = [C, H, W] and `classes` classes; He-initialised. */
export function cnn5(inputShape: readonly [number, number, number], classes: number, options?: ModelOptions): Sequential {
  return build('cnn5', inputShape, classes, cnn5Layers, options);
}

/** The names modelByName() knows, for messages and the CLI. */
export const MODEL_NAMES: readonly string[] = Object.freeze([
  'cnn3', 'cnn5', 'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110',
  ...NEWTON_RESNET_NAMES,
  ...NEWTON_CGNET_NAMES,
  'vgg13bn',
]);

/**
 * A model by name: 'cnn3', 'cnn5' (Sequential), 'resnet18' … 'resnet152' (ImageNet stem unless
 * options.stem is 'cifar'), a CIFAR ResNet 'resnet20', 'resnet32', … 'resnet110' (any 6n + 2),
 * a Newton-ResNet ('newton-resnet18', '-34', '-50'), a Newton-CGNet ('newton-cgnet56', …) or
 * 'vgg13bn' (the local-Hessian paper's VGG13 with batch norm).
 */
export function modelByName(name: string, inputShape: readonly [number, number, number], classes: number, options?: NamedModelOptions): Network {
  const stem = options?.stem;
  if (name === 'cnn3' || name === 'cnn5') {
    if (stem !== undefined) throw new RangeError(`modelByName: options.stem is for the ResNets, not ${name}`);
    return name === 'cnn3' ? cnn3(inputShape, classes, options) : cnn5(inputShape, classes, options);
  }
  if (name === 'vgg13bn') {
    if (stem !== undefined) throw new RangeError(`modelByName: options.stem is for the ResNets, not ${name}`);
    return vgg13bn(inputShape, classes, options);
  }
  if (typeof name === 'string' && name.startsWith('newton-cgnet')) {
    if (stem !== undefined) throw new RangeError(`modelByName: options.stem is for the ResNets, not ${name}`);
    const net = newtonCgNetByName(name, inputShape, classes, options);
    if (net !== null) return net;
  }
  const net = typeof name === 'string' ? (resnetByName(name, inputShape, classes, options) ?? newtonResnetByName(name, inputShape, classes, options)) : null;
  if (net !== null) return net;
  throw new RangeError(`modelByName: name must be one of ${MODEL_NAMES.join(', ')} (or resnet<6n+2>), got ${JSON.stringify(name) ?? String(name)}`);
}
