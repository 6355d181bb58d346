/**
 * Argument checks of the TypeScript layer. They produce exactly the messages of the native
 * layer (native/napi/convert.cpp), so an error reads the same whichever layer finds it:
 *
 * - `${op}: ${arg} must be a Tensor, got ${what}` (TypeError)
 * - `${op}: options.stride must be a number or [number, number], got string` (TypeError)
 * - `${op}: stride must be a positive integer, got 0` (RangeError)
 * - `${op}: alpha must be a finite number, got NaN` (RangeError)
 *
 * @packageDocumentation
 */
import type { DType } from './types';

/** How a value is named in messages: its typeof, but "null" for null and "array" for arrays. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A plain options object (undefined / null -> `{}` unless `required`); TypeError otherwise. */
export function checkOptions(op: string, value: unknown, required = false): Record<string, unknown> {
  if (!required && (value === undefined || value === null)) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${op}: options must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A finite number: TypeError when not a number, RangeError when NaN or ±Infinity. */
export function checkFinite(op: string, typeName: string, valueName: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${op}: ${typeName} must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${op}: ${valueName} must be a finite number, got ${String(value)}`);
  return value;
}

/** checkFinite, with undefined meaning "not given". */
export function checkOptionalFinite(op: string, typeName: string, valueName: string, value: unknown): number | undefined {
  return value === undefined ? undefined : checkFinite(op, typeName, valueName, value);
}

/** A boolean or undefined. */
export function checkOptionalBoolean(op: string, typeName: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new TypeError(`${op}: ${typeName} must be a boolean, got ${describe(value)}`);
  return value;
}

/** A non-negative safe integer (seeds, offsets), or undefined when `optional`. */
export function checkUint(op: string, typeName: string, valueName: string, value: unknown, optional = false): number | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'number') throw new TypeError(`${op}: ${typeName} must be a number, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${op}: ${valueName} must be a non-negative safe integer, got ${String(value)}`);
  }
  return value;
}

const DTYPES: readonly string[] = ['float32', 'float64', 'int32'];

/** 'float32' | 'float64' | 'int32', or undefined when not given and `optional`. */
export function checkDType(op: string, typeName: string, valueName: string, value: unknown, optional = true): DType | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string') {
    throw new TypeError(`${op}: ${typeName} must be 'float32', 'float64' or 'int32', got ${describe(value)}`);
  }
  if (!DTYPES.includes(value)) {
    throw new RangeError(`${op}: ${valueName} must be 'float32', 'float64' or 'int32', got '${value}'`);
  }
  return value as DType;
}

/** A device string ('cpu', 'cuda', 'cuda:N'; checked natively) or undefined. */
export function checkDevice(op: string, typeName: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new TypeError(`${op}: ${typeName} must be a string ('cpu', 'cuda' or 'cuda:N'), got ${describe(value)}`);
  }
  return value;
}

/** An array of non-negative safe integers. */
export function checkShape(op: string, arg: string, value: unknown): readonly number[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${op}: ${arg} must be an array of non-negative integers, got ${describe(value)}`);
  }
  const shape = value as readonly unknown[];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number') {
      throw new TypeError(`${op}: ${arg} must be an array of non-negative integers, got ${describe(d)} at index ${i}`);
    }
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`${op}: ${arg} must be an array of non-negative integers, got ${String(d)} at index ${i}`);
    }
  }
  return shape as readonly number[];
}

/** `number | [number, number]` holding integers >= min (1: positive, 0: non-negative), or undefined. */
export function checkPair(op: string, key: string, value: unknown, min: 0 | 1): number | [number, number] | undefined {
  if (value === undefined) return undefined;
  let pair: [number, number];
  if (typeof value === 'number') {
    pair = [value, value];
  } else if (Array.isArray(value)) {
    const a = value as readonly unknown[];
    if (a.length !== 2) {
      throw new TypeError(`${op}: options.${key} must be a number or [number, number], got array of length ${a.length}`);
    }
    if (typeof a[0] !== 'number' || typeof a[1] !== 'number') {
      const parts = a.map((x) => (typeof x === 'number' ? String(x) : describe(x)));
      throw new TypeError(`${op}: options.${key} must be a number or [number, number], got [${parts.join(', ')}]`);
    }
    pair = [a[0], a[1]];
  } else {
    throw new TypeError(`${op}: options.${key} must be a number or [number, number], got ${describe(value)}`);
  }
  const what = min > 0 ? 'a positive integer' : 'a non-negative integer';
  for (const d of pair) {
    if (!Number.isSafeInteger(d) || d < min) throw new RangeError(`${op}: ${key} must be ${what}, got ${String(d)}`);
  }
  return typeof value === 'number' ? value : pair;
}

/** "(2, 3)", as shapes are printed in messages. */
export function shapeString(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}
