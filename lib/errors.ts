/**
 * Helpers of the TypeScript layer's own argument checks (networks, data, training). The ops
 * are checked natively (README.md, "Errors"); these write messages the same way:
 * `${fn}: ${arg} must be …, got …`, a TypeError for a value of the wrong type.
 *
 * @packageDocumentation
 */

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

/** "(2, 3)", as shapes are printed in messages. */
export function shapeString(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

/**
 * An allocation that cannot succeed: the tensor does not fit in the memory that is really
 * available (host: MemAvailable + SwapFree, the memory cgroup's limit minus its usage, or
 * NEWTON_MEMORY_LIMIT_BYTES; GPU: the device's free memory). The message names the op, the
 * requested size and what was available:
 * `Tensor.zeros: out of memory allocating 4.00 GiB (4294967296 bytes) for a float32 tensor of
 * shape (1073741824) on cpu: only 1.20 GiB available (MemAvailable 1.20 GiB + SwapFree 0 bytes)`.
 * The library keeps working afterwards (free something, or allocate less, and go on).
 *
 * A RangeError, as every out-of-memory error has always been (README.md, "Errors"); like
 * Node's own errors its `name` stays 'RangeError' and `code` says which kind it is.
 *
 * @example
 * try { Tensor.zeros([1e6, 1e6]); } catch (e) { if (e instanceof OutOfMemoryError) … }
 */
export class OutOfMemoryError extends RangeError {
  /** 'NEWTON_OUT_OF_MEMORY'. */
  readonly code = 'NEWTON_OUT_OF_MEMORY';

  constructor(message: string) {
    super(message);
  }
}
