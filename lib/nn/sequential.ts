// Sequential: a chain of modules — each layer's input is the previous layer's output — as a
// Network (lib/nn/network.ts): one θ (weight then bias of each layer, in layer order), the one
// graph executor, every product.
import { describe } from '../errors';
import { isMultiInput, buildModule } from './modules/build';
import type { LayerSpec } from './layers';
import type { ModelOptions } from './models';
import type { ExampleShape, Module } from './module';
import { checkInputShape, checkNetworkOptions, Network, type NetworkOptions } from './network';

/** Options of the Sequential constructor. */
export type SequentialOptions = NetworkOptions;

/** A feed-forward chain of layers applied in order to (N, C, H, W) inputs, producing (N, outputSize). */
export class Sequential extends Network {
  /** The layer specifications the network was built from. */
  readonly specs: readonly LayerSpec[];

  /**
   * Builds the network for per-example inputs of shape `inputShape`.
   * @throws RangeError when a layer does not fit its input (e.g. the image is too small for the
   *   pools), when the last layer's output is not flat, or on bad options.
   */
  constructor(inputShape: readonly [number, number, number], layers: readonly LayerSpec[], options?: SequentialOptions) {
    const fn = 'Sequential';
    const shape0 = checkInputShape(fn, inputShape);
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new RangeError(`${fn}: layers must be a non-empty array of layer specs, got ${Array.isArray(layers) ? 'an empty array' : describe(layers)}`);
    }
    const o = checkNetworkOptions(fn, options);
    const modules: Module[] = [];
    const inputs: number[][] = [];
    let shape: ExampleShape = shape0;
    let offset = 0;
    let bufferOffset = 0;
    layers.forEach((spec, i) => {
      if (spec !== null && typeof spec === 'object' && isMultiInput(spec)) {
        throw new RangeError(`${fn}: layers[${i}] (${spec.kind}) takes several inputs; build the network with GraphBuilder`);
      }
      const m = buildModule(spec, fn, i, [shape], offset, bufferOffset);
      modules.push(m);
      inputs.push([i - 1]);
      offset += m.info.parameterCount;
      bufferOffset += m.info.buffers.reduce((a, b) => a + b.size, 0);
      shape = m.info.outputShape;
    });
    super(fn, shape0, { modules, inputs }, layers, { dtype: o.dtype, device: o.device, name: o.name ?? 'sequential' });
    this.specs = Object.freeze([...layers]);
  }
}

/**
 * A Sequential of `layers` named `name`, initialised (He-normal unless options.initializer says
 * otherwise, seed options.seed): what the model builders (cnn3, cnn5, vgg13bn) return.
 * @throws RangeError naming `name` for bad classes or options.
 */
export function initializedSequential(name: string, inputShape: readonly [number, number, number], layers: readonly LayerSpec[], options?: ModelOptions): Sequential {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`${name}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const model = new Sequential(inputShape, layers, { dtype: options?.dtype, device: options?.device, name });
  try {
    model.init(options?.initializer ?? 'he-normal', { seed: options?.seed ?? 0, scale: options?.scale });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
