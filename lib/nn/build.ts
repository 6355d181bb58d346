// Turns a layer specification into a built layer for a known input shape.
import { Conv2dLayer } from './impl/conv2d';
import { DropoutLayer } from './impl/dropout';
import { FlattenLayer } from './impl/flatten';
import { LinearLayer } from './impl/linear';
import { AvgPoolLayer, MaxPoolLayer } from './impl/pool';
import { ReluLayer } from './impl/relu';
import type { ExampleShape, Layer } from './layer';
import type { LayerSpec } from './layers';

/** Builds layer `index` from `spec` for per-example input `inputShape`, its parameters at θ[offset…]. */
export function buildLayer(spec: LayerSpec, index: number, inputShape: ExampleShape, offset: number): Layer {
  switch (spec.kind) {
    case 'conv2d':
      return Conv2dLayer.create(spec, index, inputShape, offset);
    case 'linear':
      return LinearLayer.create(spec, index, inputShape, offset);
    case 'relu':
      return ReluLayer.create(index, inputShape);
    case 'maxPool2d':
      return MaxPoolLayer.create(spec, index, inputShape);
    case 'avgPool2d':
      return AvgPoolLayer.create(spec, index, inputShape);
    case 'flatten':
      return FlattenLayer.create(index, inputShape);
    case 'dropout':
      return DropoutLayer.create(spec, index, inputShape);
    default: {
      const kind = (spec as { kind?: unknown } | null)?.kind;
      throw new TypeError(`Sequential: layers[${index}] is not a layer spec (kind ${JSON.stringify(kind) ?? String(kind)}); use conv2d(), linear(), relu(), maxPool2d(), avgPool2d(), flatten() or dropout()`);
    }
  }
}
