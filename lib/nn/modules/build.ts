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
  if (spec === null || typeof spec !== 'object') return false;
  return spec.kind === 'add' || spec.kind === 'mul' || spec.kind === 'concat' || spec.kind === 'newtonResidual' || spec.kind === 'cgNetUpdate';
}

const show = (v: unknown): string => {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

// The fields of each module kind and what they must hold (what the spec factories of
// lib/nn/layers.ts produce; a spec written by hand or read from JSON must have them all).
type FieldCheck = (v: unknown) => string | null; // null when fine, else what it must be
const positiveInteger: FieldCheck = (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? null : 'a positive integer');
const finiteNumber: FieldCheck = (v) => (typeof v === 'number' && Number.isFinite(v) ? null : 'a finite number');
const boolean: FieldCheck = (v) => (typeof v === 'boolean' ? null : 'a boolean');
const pair =
  (min: number): FieldCheck =>
  (v) =>
    Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number' && Number.isInteger(e) && e >= min)
      ? null
      : `a pair [a, b] of ${min === 0 ? 'non-negative' : 'positive'} integers`;
const inRange =
  (lo: number, hi: number, hiOpen: boolean): FieldCheck =>
  (v) =>
    typeof v === 'number' && v >= lo && (hiOpen ? v < hi : v <= hi) ? null : `a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}`;
const positiveFinite: FieldCheck = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : 'a finite number > 0');

const SPEC_FIELDS: Readonly<Record<(typeof MODULE_KINDS)[number], ReadonlyArray<readonly [string, FieldCheck]>>> = {
  conv2d: [['outChannels', positiveInteger], ['kernel', pair(1)], ['stride', pair(1)], ['padding', pair(0)], ['bias', boolean]],
  linear: [['outFeatures', positiveInteger], ['bias', boolean]],
  maxPool2d: [['kernel', pair(1)], ['stride', pair(1)], ['padding', pair(0)]],
  avgPool2d: [['kernel', pair(1)], ['stride', pair(1)], ['padding', pair(0)]],
  dropout: [['p', inRange(0, 1, true)]],
  batchNorm2d: [['eps', positiveFinite], ['momentum', inRange(0, 1, false)], ['affine', boolean]],
  scale: [['init', finiteNumber]],
  constantScale: [['factor', finiteNumber]],
  newtonResidual: [['relu', boolean], ['alpha', finiteNumber]],
  cgNetUpdate: [['first', boolean], ['alpha', finiteNumber], ['beta', finiteNumber]],
  relu: [],
  flatten: [],
  identity: [],
  tanh: [],
  globalAvgPool2d: [],
  add: [],
  mul: [],
  concat: [],
};

/**
 * Checks a module spec given by a user (an object or parsed JSON) field by field.
 * @throws TypeError (not an object, no or an unknown kind, a missing field or one of the wrong
 *   type) or RangeError (a number out of its domain), naming `owner`, the layer index, the field
 *   and the value, e.g. `Sequential: layers[0] (conv2d): outChannels must be a positive integer, got -1`.
 */
export function checkModuleSpec(owner: string, index: number, spec: unknown): asserts spec is ModuleSpec {
  const uses = `use ${MODULE_KINDS.map((k) => `${k}()`).join(', ')}`;
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new TypeError(`${owner}: layers[${index}] is ${spec === null ? 'null' : Array.isArray(spec) ? 'an array' : `${typeof spec} ${show(spec)}`}, not a layer spec; ${uses}`);
  }
  const o = spec as Record<string, unknown>;
  const kind = o.kind;
  if (kind === undefined) {
    const hint = 'type' in o ? ` (it has 'type': ${show(o.type)}; a spec names its module in 'kind')` : '';
    throw new TypeError(`${owner}: layers[${index}] has no 'kind'${hint}, so it is not a layer spec; ${uses}`);
  }
  if (typeof kind !== 'string' || !(MODULE_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`${owner}: layers[${index}] is not a layer spec (kind ${show(kind)}); ${uses}`);
  }
  for (const [field, check] of SPEC_FIELDS[kind as (typeof MODULE_KINDS)[number]]) {
    const v = o[field];
    const at = `${owner}: layers[${index}] (${kind}): ${field}`;
    if (v === undefined) throw new TypeError(`${at} is missing; ${kind}() makes a complete spec`);
    const want = check(v);
    if (want === null) continue;
    // a value of the wrong JS type is a TypeError, a number (or numbers) out of range a RangeError
    const numeric = typeof v === 'number' || (Array.isArray(v) && v.every((e) => typeof e === 'number'));
    const wrongType = want === 'a boolean' ? typeof v !== 'boolean' : want.startsWith('a pair') ? !Array.isArray(v) || !numeric : typeof v !== 'number';
    throw new (wrongType ? TypeError : RangeError)(`${at} must be ${want}, got ${show(v)}`);
  }
  if ((kind === 'maxPool2d' || kind === 'avgPool2d') && pair(1)(o.kernel) === null && pair(0)(o.padding) === null) {
    const k = o.kernel as number[];
    const p = o.padding as number[];
    if (p[0] * 2 > k[0] || p[1] * 2 > k[1]) {
      throw new RangeError(`${owner}: layers[${index}] (${kind}): padding must be at most half the kernel, got padding ${show(p)} for kernel ${show(k)}`);
    }
  }
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
  checkModuleSpec(owner, index, spec);
  const kind = spec.kind;
  if (!isMultiInput(spec) && inputShapes.length !== 1) {
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
      // checkModuleSpec knows every kind
      throw new TypeError(`${owner}: layers[${index}] is not a layer spec (kind ${show(kind)})`);
  }
}
