/**
 * Reading data files, sync and async, with gzip detected by its magic bytes (1f 8b) rather than the
 * file extension, and every failure turned into a DataFileError naming the function and the file.
 *
 * @packageDocumentation
 */
import { constants as bufferConstants } from 'node:buffer';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { DataFileError, MAX_DATASET_VALUES } from './dataset';

const gunzipAsync = promisify(zlib.gunzip) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

/** True when `buf` starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** The DataFileError of a file that cannot be opened or read: not found, a directory, permission denied, or the system's message. */
export function readError(fn: string, file: string, err: unknown): DataFileError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return new DataFileError(`${fn}: ${file}: file not found`, file);
  if (code === 'EISDIR') return new DataFileError(`${fn}: ${file}: is a directory, expected a file`, file);
  if (code === 'EACCES') return new DataFileError(`${fn}: ${file}: permission denied`, file);
  return new DataFileError(`${fn}: ${file}: cannot read (${(err as Error)?.message ?? String(err)})`, file);
}

function gzipError(fn: string, file: string, err: unknown): DataFileError {
  return new DataFileError(`${fn}: ${file}: corrupt gzip data (${(err as Error)?.message ?? String(err)})`, file);
}

/**
 * Note [bounded decompression]: a gzip file can inflate about 1000-fold, so an unbounded gunzip of a
 * 4 MB "bomb" takes gigabytes and tens of seconds before any check runs. Every gunzip here is given
 * zlib's maxOutputLength, which stops inflating as soon as the output passes it:
 *  - formats with a header (IDX) first inflate just the header ({@link gunzipHead}: at most 1 MiB
 *    of output) and bound the rest by the size the header announces (a {@link GunzipBound});
 *  - formats without one (CIFAR, LIBSVM) are bounded by {@link GZIP_MAX_RATIO} × the compressed
 *    size, and never below {@link GZIP_MIN_BOUND} so that small, very regular files still read.
 */

/** Without a header to go by, gzip data may decompress to this many times its compressed size... */
export const GZIP_MAX_RATIO = 100;
/** ...or to this many bytes (64 MiB) when that is more. Real image data compresses 1.1× (CIFAR) to 10× (LIBSVM text). */
export const GZIP_MIN_BOUND = 64 * 2 ** 20;

/** The most bytes a gzip file may decompress to, and a noun phrase saying why, for messages. */
export interface GunzipLimit {
  /** The bound in bytes. */
  bytes: number;
  /** What the bound is, after "more than": 'the 46 bytes its IDX header announces (16 + 5×2×3)'. */
  what: string;
}

/**
 * How a reader bounds decompression (Note [bounded decompression]): the first `headerBytes`
 * decompressed bytes are inflated first, then `limit(head)` gives the bound, or undefined for the
 * ratio bound (e.g. for a header the parser will reject with a better message). `limit` may throw
 * a DataFileError for a header whose dimensions are absurd.
 */
export interface GunzipBound {
  /** How many decompressed bytes `limit` needs (0: none). */
  headerBytes: number;
  /** The bound from the first min(headerBytes, total) decompressed bytes. */
  limit(head: Buffer): GunzipLimit | undefined;
}

/** The bound for formats without a header: GZIP_MAX_RATIO × compressed size, at least GZIP_MIN_BOUND. */
export function ratioLimit(compressedBytes: number): GunzipLimit {
  const bytes = Math.min(bufferConstants.MAX_LENGTH, Math.max(GZIP_MIN_BOUND, GZIP_MAX_RATIO * compressedBytes));
  return {
    bytes,
    what: `${bytes} bytes (${GZIP_MAX_RATIO}× its compressed size of ${compressedBytes} bytes, and at least ${GZIP_MIN_BOUND})`,
  };
}

const NO_HEADER: GunzipBound = { headerBytes: 0, limit: () => undefined };

/** Output limit of {@link gunzipHead}'s trial inflations. */
const HEAD_OUTPUT_LIMIT = 2 ** 20;

/**
 * The first `want` or more decompressed bytes of gzip data `buf` (all of it when shorter), inflating
 * growing prefixes of the input with Z_SYNC_FLUSH (which returns partial output) and never more
 * than 1 MiB of output: a prefix that inflates to more is bisected.
 * @throws DataFileError for corrupt gzip data.
 */
export function gunzipHead(fn: string, file: string, buf: Buffer, want: number): Buffer {
  let lo = 0; // a prefix length known to give fewer than `want` bytes
  let hi = Infinity; // a prefix length known to give more than HEAD_OUTPUT_LIMIT bytes
  let k = Math.min(buf.length, 256);
  for (;;) {
    let out: Buffer | undefined;
    try {
      out = zlib.gunzipSync(buf.subarray(0, k), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: HEAD_OUTPUT_LIMIT });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw gzipError(fn, file, err);
    }
    if (out !== undefined && (out.length >= want || k === buf.length)) return out;
    if (out === undefined) hi = k;
    else lo = k;
    const next = hi === Infinity ? Math.min(buf.length, k * 4) : Math.floor((lo + hi) / 2);
    // One input byte inflates to at most 8 × 258 bytes, so the bisection always ends above.
    if (next <= lo || next >= hi) throw gzipError(fn, file, new Error('no header within the first 1 MiB of output'));
    k = next;
  }
}

/** The decompression bound of gzip data `buf` for `bound` (Note [bounded decompression]). */
function gunzipLimit(fn: string, file: string, buf: Buffer, bound: GunzipBound): GunzipLimit {
  const head = bound.headerBytes > 0 ? gunzipHead(fn, file, buf, bound.headerBytes) : Buffer.alloc(0);
  return bound.limit(head.subarray(0, bound.headerBytes)) ?? ratioLimit(buf.length);
}

/** The DataFileError for a failed gunzip: over the bound, or corrupt. */
function gunzipError(fn: string, file: string, err: unknown, limit: GunzipLimit): DataFileError {
  if ((err as NodeJS.ErrnoException | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
    return new DataFileError(`${fn}: ${file}: gzip data decompresses to more than ${limit.what}: corrupt or a gzip bomb`, file);
  }
  return gzipError(fn, file, err);
}

/**
 * Reads `file` synchronously, gunzipping it when it is gzip data, within `bound`
 * (default: the ratio bound; Note [bounded decompression]).
 */
export function readDataFileSync(fn: string, file: string, bound: GunzipBound = NO_HEADER): Buffer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw readError(fn, file, err);
  }
  if (!isGzip(buf)) return buf;
  const limit = gunzipLimit(fn, file, buf, bound);
  try {
    return zlib.gunzipSync(buf, { maxOutputLength: limit.bytes });
  } catch (err) {
    throw gunzipError(fn, file, err, limit);
  }
}

/** Reads `file` with fs.promises and gunzips it on the libuv thread pool when it is gzip data, within `bound`. */
export async function readDataFile(fn: string, file: string, bound: GunzipBound = NO_HEADER): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (err) {
    throw readError(fn, file, err);
  }
  if (!isGzip(buf)) return buf;
  const limit = gunzipLimit(fn, file, buf, bound); // the header only: at most 1 MiB, synchronously
  try {
    return await gunzipAsync(buf, { maxOutputLength: limit.bytes });
  } catch (err) {
    throw gunzipError(fn, file, err, limit);
  }
}

/**
 * Bytes of memory this process can still allocate: the system's available memory (os.freemem,
 * MemAvailable on Linux) and, under a cgroup memory limit, what the limit leaves above this
 * process's resident size.
 */
export function availableMemory(): number {
  let available = os.freemem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  if (constrained !== undefined && constrained > 0 && constrained < 2 ** 62) {
    available = Math.min(available, Math.max(0, constrained - process.memoryUsage.rss()));
  }
  return available;
}

/**
 * Why a data set of `values` float32 values cannot be allocated, as the end of a sentence
 * (", more than the 2147483647 a data set can hold" / " needs … bytes but only … are available"),
 * or undefined when it can.
 */
export function datasetSizeProblem(values: number): string | undefined {
  if (values > MAX_DATASET_VALUES) return `, more than the ${MAX_DATASET_VALUES} a data set can hold`;
  const bytes = values * Float32Array.BYTES_PER_ELEMENT;
  const available = availableMemory();
  if (bytes > available) return ` needs ${bytes} bytes but only ${available} bytes of memory are available`;
  return undefined;
}

/**
 * Refuses a data set of `values` float32 values that cannot be allocated (see datasetSizeProblem),
 * before the allocation ("Invalid typed array length" or the OOM killer).
 * @param what the start of the message, saying where the size comes from: "readLibsvm: f: options.shape [1, 2, 3] × 5 images".
 * @throws RangeError `${what} = ${values} values, more than …` or `… values needs … bytes but only …`.
 */
export function checkDatasetSize(what: string, values: number): void {
  const problem = datasetSizeProblem(values);
  if (problem !== undefined) throw new RangeError(`${what} = ${values} values${problem}`);
}

/**
 * Note [stepwise parsing]: the parsers are generators that `yield` between chunks of work (about a
 * million values). The synchronous readers run them straight through ({@link runSteps}); the
 * asynchronous ones ({@link runStepsAsync}) return to the event loop at every yield, so loading the
 * full Fashion-MNIST (47M pixels) never blocks timers or Ctrl-C handling for more than a few ms.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs a stepwise parser to completion synchronously. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs a stepwise parser, yielding to the event loop (setImmediate) at each step. */
export async function runStepsAsync<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Values converted between two yields of a stepwise parser. */
export const STEP_VALUES = 1 << 20;

/** Converts unsigned bytes to float32 values 0..255, in steps of STEP_VALUES. */
export function* bytesToFloat32(bytes: Uint8Array): Steps<Float32Array> {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i += STEP_VALUES) {
    if (i > 0) yield;
    out.set(bytes.subarray(i, Math.min(bytes.length, i + STEP_VALUES)), i); // uint8 → float32 inside V8
  }
  return out;
}
