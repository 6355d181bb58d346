// Turns a module specification into a built module for known input shapes.
import type { ModuleSpec } from '../layers';
import type { ExampleShape, Module } from '../module';
import { BatchNorm2dModule } from './batchnorm';
import { ConcatModule } from './concat';
import { Conv2dModule } from './conv2d';
import { DropoutModule } from './dropout';
import { AddModule, ConstantScaleModule, MulModule, ScaleModule, TanhModule } from './elementwise';
import { FlattenModule } from './flatten';
import { CgNetUpdateModule, NewtonResidualModule } from './fused';
import { LinearModule } from './linear';
import { AvgPool2dModule, GlobalAvgPool2dModule, MaxPool2dModule } from './pool';
import { ReluModule } from './relu';

/** The names of every module kind, for messages. */
export const MODULE_KINDS = [
  'conv2d', 'linear', 'relu', 'maxPool2d', 'avgPool2d', 'flatten', 'dropout',
  'batchNorm2d', 'add', 'mul', 'concat', 'scale', 'constantScale', 'tanh', 'identity', 'globalAvgPool2d',
 'newtonResidual', 'cgNetUpdate',
] as const;

/** Modules that take several inputs (everything else takes one). */
export function isMultiInput(spec: ModuleSpec): boolean {
  return spec.kind === 'add' || spec.kind === 'mul' || spec.kind === 'concat' || spec.kind === 'newtonResidual' || spec.kind === 'cgNetUpdate';
}

/**
 * Builds node `index` of `owner` ('Sequential', 'Network') from `spec` for per-example inputs
 * `inputShapes`, its parameters at θ[offset…] and its buffers at buffers[bufferOffset…].
 */
export function buildModule(
  spec: ModuleSpec,
  owner: string,
  index: number,
  inputShapes: readonly ExampleShape[],
  offset: number,
  bufferOffset: number,
): Module {
  const kind = (spec as { kind?: unknown } | null)?.kind;
  if (!isMultiInput(spec) && inputShapes.length !== 1 && typeof kind === 'string' && (MODULE_KINDS as readonly string[]).includes(kind)) {
    throw new RangeError(`${owner}: layer ${index} (${kind}) takes one input, got ${inputShapes.length}`);
  }
  switch (spec.kind) {
    case 'conv2d':
      return new Conv2dModule(spec, owner, index, inputShapes, offset);
    case 'linear':
      return new LinearModule(spec, owner, index, inputShapes, offset);
    case 'relu':
      return new ReluModule(index, inputShapes);
    case 'maxPool2d':
      return new MaxPool2dModule(spec, owner, index, inputShapes);
    case 'avgPool2d':
      return new AvgPool2dModule(spec, owner, index, inputShapes);
    case 'flatten':
      return new FlattenModule(index, inputShapes, 'flatten');
    case 'identity':
      return new FlattenModule(index, inputShapes, 'identity');
    case 'dropout':
      return new DropoutModule(spec, index, inputShapes);
    case 'batchNorm2d':
      return new BatchNorm2dModule(spec, owner, index, inputShapes, offset, bufferOffset);
    case 'add':
      return new AddModule(owner, index, inputShapes);
    case 'mul':
      return new MulModule(owner, index, inputShapes);
    case 'concat':
      return new ConcatModule(owner, index, inputShapes);
    case 'scale':
      return new ScaleModule(spec, index, inputShapes, offset);
    case 'constantScale':
      return new ConstantScaleModule(spec, index, inputShapes);
    case 'tanh':
      return new TanhModule(index, inputShapes);
    case 'newtonResidual':
      return new NewtonResidualModule(spec, owner, index, inputShapes, offset);
    case 'cgNetUpdate':
      return new CgNetUpdateModule(spec, owner, index, inputShapes, offset);
    case 'globalAvgPool2d':
      return new GlobalAvgPool2dModule(owner, index, inputShapes);
    default:
      throw new TypeError(
        `${owner}: layers[${index}] is not a layer spec (kind ${JSON.stringify(kind) ?? String(kind)}); use ${MODULE_KINDS.map((k) => `${k}()`).join(', ')}`,
      );
  }
}
