// Small shape helpers shared by the layers.
import { types } from 'node:util';

/** A [height, width] pair. */
export type Pair = readonly [number, number];

/** Validates a number-or-pair option (integers ≥ `min`) and returns it as a pair. */
export function checkPair(fn: string, name: string, v: unknown, min: number): Pair {
  const bad = (): never => {
    throw new RangeError(`${fn}: ${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer or a pair of them, got ${describe(v)}`);
  };
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < min) bad();
    return [v, v];
  }
  if (Array.isArray(v)) {
    if (v.length !== 2 || !v.every((e) => typeof e === 'number' && Number.isInteger(e) && e >= min)) bad();
    return [v[0] as number, v[1] as number];
  }
  throw new TypeError(`${fn}: ${name} must be a number or [number, number], got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(String).join(', ')}]`;
  if (v === null) return 'null';
  return typeof v === 'number' ? String(v) : typeof v;
}

/** The product of the entries of a shape. */
export function prod(shape: readonly number[]): number {
  let p = 1;
  for (const d of shape) p *= d;
  return p;
}

/** "(2, 3, 4)" */
export function fmtShape(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

/** Output size of a window op along one axis (floors). */
export function windowOutput(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/**
 * True for a Float32Array or Float64Array from any realm (arrays made by the addon come from the
 * main realm, which `instanceof` in another realm, e.g. a jest sandbox, does not recognise).
 */
export function isFloatArray(v: unknown): v is Float32Array | Float64Array {
  return ArrayBuffer.isView(v) && (types.isFloat32Array(v) || types.isFloat64Array(v));
}

/** True for an Int32Array from any realm. */
export function isInt32Array(v: unknown): v is Int32Array {
  return ArrayBuffer.isView(v) && types.isInt32Array(v);
}
