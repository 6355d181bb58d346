/**
 * Tensor: an n-dimensional array of float32, float64 or int32 owned by the native addon.
 *
 * @packageDocumentation
 */
import * as util from 'util';

import { checkOptions, describe, shapeString } from './errors';
import { native, type NativeTensor } from './native';
import type { DType, NestedArray, Shape, TensorData, TensorOptions } from './types';

// Node 20 defines Symbol.dispose (as the registered Symbol.for('nodejs.dispose')) in its main
// realm only; other realms (vm contexts, jest's test environment) lack it, and then neither
// `using` nor Tensor[Symbol.dispose] works. Define it there as the same registered symbol.
if (typeof Symbol.dispose !== 'symbol') {
  Object.defineProperty(Symbol, 'dispose', {
    value: Symbol.for('nodejs.dispose'),
    writable: false,
    enumerable: false,
    configurable: false,
  });
}

let wrapHandle: (handle: NativeTensor) => Tensor;
let handleOfTensor: (value: unknown, op: string, arg: string) => NativeTensor;
// True only while wrapHandle runs the constructor: `new Tensor(…)` from anywhere else is refused.
let constructing = false;

/** The tensors created in each open {@link tidy} scope, innermost last. */
const scopes: Set<Tensor>[] = [];
/** Tensors exempted from every scope by {@link keep}. */
const kept = new WeakSet<Tensor>();

/**
 * An n-dimensional array in native memory (row-major; images are NCHW).
 *
 * Tensors hold native memory: call {@link Tensor.dispose} (or use `using t = ...`) to free
 * it at once; a tensor that is never disposed is freed when it is garbage collected.
 *
 * @example
 * const t = Tensor.from([[1, 2, 3], [4, 5, 6]]);  // float32, shape [2, 3]
 * t.shape;        // [2, 3]
 * t.toArray();    // Float32Array [1, 2, 3, 4, 5, 6]
 * t.dispose();
 */
export class Tensor implements Disposable {
  readonly #handle: NativeTensor;

  /** The extents, e.g. [N, C, H, W]; frozen. */
  readonly shape: readonly number[];
  /** The element type. */
  readonly dtype: DType;
  /** Where the data lives: 'cpu' or 'cuda:N'. */
  readonly device: string;
  /** The element count (the product of the extents; 1 for a 0-d tensor). */
  readonly size: number;
  /** The number of dimensions (shape.length). */
  readonly ndim: number;

  private constructor(handle: NativeTensor) {
    if (!constructing) {
      throw new TypeError(
        'Tensor: the constructor is internal and cannot be called directly; create tensors with ' +
          'Tensor.from(data, { shape, dtype }), Tensor.zeros(shape), Tensor.full(shape, value) or an op ' +
          '(randomNormal, add, …)',
      );
    }
    constructing = false;
    this.#handle = handle;
    this.shape = Object.freeze(handle.shape.slice());
    this.dtype = handle.dtype;
    this.device = handle.device;
    this.size = handle.size;
    this.ndim = this.shape.length;
  }

  static {
    wrapHandle = (handle) => {
      constructing = true;
      let t: Tensor;
      try {
        t = new Tensor(handle);
      } finally {
        constructing = false;
      }
      if (scopes.length > 0) scopes[scopes.length - 1].add(t);
      return t;
    };
    handleOfTensor = (value, op, arg) => {
      if (typeof value === 'object' && value !== null && #handle in value) return (value as Tensor).#handle;
      throw new TypeError(`${op}: ${arg} must be a Tensor, got ${describe(value)}`);
    };
  }

  /**
   * A tensor holding a copy of `data`.
   *
   * - a Float32Array / Float64Array / Int32Array: its dtype unless `options.dtype` is given
   *   (then converted; int32 needs integers); shape `options.shape`, default `[length]`;
   * - a nested array of numbers: shape inferred (it must be rectangular, else RangeError),
   *   dtype default float32;
   * - a number: a 0-d tensor (shape []).
   *
   * @example
   * Tensor.from(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] }); // float64 (2, 2)
   * Tensor.from([[1, 2], [3, 4]], { dtype: 'float64' });          // float64 (2, 2)
   * Tensor.from(3.5).shape;                                        // []
   */
  static from(data: TensorData | NestedArray, options?: TensorOptions & { shape?: Shape }): Tensor {
    const op = 'Tensor.from';
    // The addon checks the option values (types, shape, dtype, device) as it does for every op.
    const opts = checkOptions(op, options) as TensorOptions & { shape?: Shape };
    const { dtype, device, shape } = opts;
    if (ArrayBuffer.isView(data)) {
      if (!util.types.isFloat32Array(data) && !util.types.isFloat64Array(data) && !util.types.isInt32Array(data)) {
        const name = (data as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        throw new TypeError(`${op}: data must be a Float32Array, Float64Array or Int32Array, got ${name}`);
      }
      return wrapHandle(native().fromTypedArray(data, shape ?? null, dtype, device));
    }
    if (typeof data === 'number') {
      return wrapHandle(native().fromTypedArray(Float64Array.of(data), shape ?? [], dtype ?? 'float32', device));
    }
    if (Array.isArray(data)) {
      const { values, shape: inferred } = flattenNested(op, data);
      return wrapHandle(native().fromTypedArray(values, shape ?? inferred, dtype ?? 'float32', device));
    }
    throw new TypeError(
      `${op}: data must be a Float32Array, Float64Array, Int32Array, a number or a nested array of numbers, got ${describe(data)}`,
    );
  }

  /**
   * A tensor of `shape` filled with zeros (dtype default float32, device default cpu).
   *
   * @example
   * Tensor.zeros([2, 3], { dtype: 'float64' });
   */
  static zeros(shape: Shape, options?: TensorOptions): Tensor {
    const opts = checkOptions('Tensor.zeros', options) as TensorOptions;
    return wrapHandle(native().zeros(shape, opts.dtype, opts.device));
  }

  /**
   * A tensor of `shape` with every element equal to `value` (finite; an integer for int32).
   *
   * @example
   * Tensor.full([3], 0.5).toArray(); // Float32Array [0.5, 0.5, 0.5]
   */
  static full(shape: Shape, value: number, options?: TensorOptions): Tensor {
    const opts = checkOptions('Tensor.full', options) as TensorOptions;
    return wrapHandle(native().full(shape, value, opts.dtype, opts.device));
  }

  /** True once {@link Tensor.dispose} has run; a disposed tensor can no longer be used. */
  get disposed(): boolean {
    return this.#handle.disposed;
  }

  /**
   * A fresh copy of the elements, row-major: a Float32Array, Float64Array or Int32Array
   * by dtype.
   */
  toArray(): TensorData {
    const h = this.#handle;
    const out = this.dtype === 'float32' ? new Float32Array(this.size) : this.dtype === 'float64' ? new Float64Array(this.size) : new Int32Array(this.size);
    native().readInto(h, out);
    return out;
  }

  /**
   * Like {@link Tensor.toArray}, but the copy runs on a worker thread, so the event loop
   * keeps running while a large tensor is read (or, on a GPU, while the work queued before
   * the read finishes). The tensor may be disposed before the promise settles.
   *
   * @example
   * const values = await t.toArrayAsync();
   */
  async toArrayAsync(): Promise<TensorData> {
    const h = this.#handle;
    const out = this.dtype === 'float32' ? new Float32Array(this.size) : this.dtype === 'float64' ? new Float64Array(this.size) : new Int32Array(this.size);
    await native().readIntoAsync(h, out);
    return out;
  }

  /**
   * The elements as nested arrays of numbers (a number for a 0-d tensor).
   *
   * @example
   * Tensor.from([[1, 2], [3, 4]]).toNested(); // [[1, 2], [3, 4]]
   */
  toNested(): NestedArray {
    const data = this.toArray();
    if (this.ndim === 0) return data[0];
    const shape = this.shape;
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = shape[dim];
      const out: NestedArray[] = new Array<NestedArray>(n);
      if (dim === shape.length - 1) {
        for (let i = 0; i < n; i++) out[i] = data[offset + i];
        return out;
      }
      let stride = 1;
      for (let d = dim + 1; d < shape.length; d++) stride *= shape[d];
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }

  /** The value of a tensor with exactly one element (any shape); RangeError otherwise. */
  item(): number {
    return native().item(this.#handle);
  }

  /**
   * The same elements under another shape with the same element count. The result shares
   * memory with this tensor: writes through one are seen by the other.
   *
   * @example
   * Tensor.zeros([2, 6]).reshape([3, 4]);
   */
  reshape(shape: Shape): Tensor {
    return wrapHandle(native().reshape(this.#handle, shape));
  }

  /**
   * Elements [offset, offset + product(shape)) of this tensor (in row-major order) as a
   * tensor of `shape` that shares memory with this one; RangeError when they do not fit.
   * Networks keep all parameters in one flat vector θ with a view per layer.
   *
   * @example
   * const theta = Tensor.zeros([10]);
   * const w = theta.view(0, [2, 3]);  // θ[0..6)
   * const b = theta.view(6, [2]);     // θ[6..8)
   */
  view(offset: number, shape: Shape): Tensor {
    return wrapHandle(native().view(this.#handle, offset, shape));
  }

  /** A copy with its own memory. */
  clone(): Tensor {
    return wrapHandle(native().clone(this.#handle));
  }

  /**
   * Frees the tensor's memory now (views made with reshape keep the memory alive until
   * they are disposed too). Idempotent; using the tensor afterwards throws an Error
   * "<op>: <arg>: tensor is disposed".
   */
  dispose(): void {
    this.#handle.dispose();
  }

  /** Same as {@link Tensor.dispose}, for `using t = Tensor.zeros(...)`. */
  [Symbol.dispose](): void {
    this.#handle.dispose();
  }

  /** "Tensor(float32, (2, 3), cpu)". */
  toString(): string {
    return `Tensor(${this.dtype}, ${shapeString(this.shape)}, ${this.device}${this.disposed ? ', disposed' : ''})`;
  }

  /** What console.log shows: the metadata and, for small tensors, the values. */
  [util.inspect.custom](): string {
    if (this.disposed || this.size > 100) return this.toString();
    return `${this.toString().slice(0, -1)}, ${JSON.stringify(this.toNested())})`;
  }
}

/**
 * Runs `fn` and disposes every tensor created while it runs, except the tensors in its result
 * (a Tensor, or arrays, plain objects, Maps and Sets holding tensors, at any depth) and those
 * passed to {@link keep}. Returns fn's result. If fn throws, every tensor it created (but the
 * kept ones) is disposed and the exception is rethrown.
 *
 * Scopes nest: the tensors an inner tidy returns belong to the enclosing scope, which disposes
 * them in turn unless it returns them too. `fn` must be synchronous: tensors created after an
 * `await` would escape the scope, so a returned Promise is a TypeError (nothing is disposed
 * then: the async work may still use its tensors).
 *
 * Tensors reachable only through other objects (a class instance, a closure) are not seen:
 * keep() them, or return them in an array or plain object.
 *
 * @example
 * const loss = tidy(() => {
 *   const z = linear(x, w, b);          // disposed when tidy returns
 *   return softmaxCrossEntropy(z, y);   // a number
 * });
 * const y2 = tidy(() => relu(add(x, x))); // the sum is disposed, the ReLU returned
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`tidy: fn must be a function, got ${describe(fn)}`);
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    closeScope(scope, new Set());
    throw err;
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    scopes.splice(scopes.lastIndexOf(scope), 1);
    const parent = scopes[scopes.length - 1];
    if (parent) for (const t of scope) parent.add(t);
    throw new TypeError('tidy: fn must be synchronous, but it returned a Promise (tensors created after an await would escape the scope)');
  }
  const returned = new Set<Tensor>();
  collectTensors(result, returned, new Set());
  closeScope(scope, returned);
  return result;
}

/**
 * Exempts `t` from disposal by every enclosing (and later) {@link tidy} scope; returns it.
 * The tensor is then the caller's to dispose.
 *
 * @example
 * let best: Tensor | undefined;
 * tidy(() => { const t = randomNormal([3], { seed: 1 }); best = keep(t); });
 */
export function keep<T extends Tensor>(t: T): T {
  handleOfTensor(t, 'keep', 't');
  kept.add(t);
  return t;
}

/** Leaves `scope`: disposes its tensors but `returned` and the kept ones; hands `returned` to the enclosing scope. */
function closeScope(scope: Set<Tensor>, returned: Set<Tensor>): void {
  const at = scopes.lastIndexOf(scope);
  if (at >= 0) scopes.splice(at, 1);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) continue;
    if (returned.has(t)) parent?.add(t);
    else t.dispose();
  }
}

/** Adds the tensors in `value` (a Tensor, or arrays / plain objects / Maps / Sets of them) to `out`. */
function collectTensors(value: unknown, out: Set<Tensor>, seen: Set<object>): void {
  if (value === null || typeof value !== 'object') return;
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, seen);
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      collectTensors(k, out, seen);
      collectTensors(v, out, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) collectTensors(v, out, seen);
  } else {
    // A plain object of any realm: its prototype is null or some realm's Object.prototype.
    const proto = Object.getPrototypeOf(value);
    if (proto === null || Object.getPrototypeOf(proto) === null) {
      for (const v of Object.values(value)) collectTensors(v, out, seen);
    }
  }
}

/** The flat float64 values and the shape of a rectangular nested array. */
function flattenNested(op: string, data: readonly NestedArray[]): { values: Float64Array; shape: number[] } {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = (cur as readonly NestedArray[])[0];
  }
  let count = 1;
  for (const d of shape) count *= d;
  const values = new Float64Array(count);
  let k = 0;
  const visit = (value: unknown, depth: number, where: string): void => {
    if (depth < shape.length) {
      if (!Array.isArray(value)) {
        if (typeof value === 'number') {
          throw new RangeError(
            `${op}: nested array is ragged: data${where} is a number but should be an array of length ${shape[depth]} ` +
              `(shape ${shapeString(shape)} inferred from the first elements)`,
          );
        }
        throw new TypeError(`${op}: data${where} must be a number or an array of numbers, got ${describe(value)}`);
      }
      const a = value as readonly unknown[];
      if (a.length !== shape[depth]) {
        throw new RangeError(
          `${op}: nested array is ragged: data${where} has length ${a.length} but should have length ${shape[depth]} ` +
            `(shape ${shapeString(shape)} inferred from the first elements)`,
        );
      }
      for (let i = 0; i < a.length; i++) visit(a[i], depth + 1, `${where}[${i}]`);
      return;
    }
    if (typeof value === 'number') {
      values[k++] = value;
      return;
    }
    if (Array.isArray(value)) {
      throw new RangeError(
        `${op}: nested array is ragged: data${where} is an array but should be a number ` +
          `(shape ${shapeString(shape)} inferred from the first elements)`,
      );
    }
    throw new TypeError(`${op}: data${where} must be a number, got ${describe(value)}`);
  };
  visit(data, 0, '');
  return { values, shape };
}

/** The native handle of a Tensor argument; TypeError `${op}: ${arg} must be a Tensor, got …` otherwise. @internal */
export function handleOf(value: unknown, op: string, arg: string): NativeTensor {
  return handleOfTensor(value, op, arg);
}

/** The native handle of an optional Tensor argument (null / undefined -> null). @internal */
export function optionalHandleOf(value: unknown, op: string, arg: string): NativeTensor | null {
  return value === undefined || value === null ? null : handleOfTensor(value, op, arg);
}

/** Wraps a tensor the addon returned. @internal */
export function wrapNative(handle: NativeTensor): Tensor {
  return wrapHandle(handle);
}
