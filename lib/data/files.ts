/**
 * Reading data files, sync and async, with gzip detected by its magic bytes (1f 8b) rather than the
 * file extension, and every failure turned into a DataFileError naming the function and the file.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { DataFileError } from './dataset';

const gunzipAsync = promisify(zlib.gunzip);

/** True when `buf` starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function readError(fn: string, file: string, err: unknown): DataFileError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return new DataFileError(`${fn}: ${file}: file not found`, file);
  if (code === 'EISDIR') return new DataFileError(`${fn}: ${file}: is a directory, expected a file`, file);
  if (code === 'EACCES') return new DataFileError(`${fn}: ${file}: permission denied`, file);
  return new DataFileError(`${fn}: ${file}: cannot read (${(err as Error)?.message ?? String(err)})`, file);
}

function gzipError(fn: string, file: string, err: unknown): DataFileError {
  return new DataFileError(`${fn}: ${file}: corrupt gzip data (${(err as Error)?.message ?? String(err)})`, file);
}

/** Reads `file` synchronously, gunzipping it when it is gzip data. */
export function readDataFileSync(fn: string, file: string): Buffer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw readError(fn, file, err);
  }
  if (!isGzip(buf)) return buf;
  try {
    return zlib.gunzipSync(buf);
  } catch (err) {
    throw gzipError(fn, file, err);
  }
}

/** Reads `file` with fs.promises and gunzips it on the libuv thread pool when it is gzip data. */
export async function readDataFile(fn: string, file: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (err) {
    throw readError(fn, file, err);
  }
  if (!isGzip(buf)) return buf;
  try {
    return await gunzipAsync(buf);
  } catch (err) {
    throw gzipError(fn, file, err);
  }
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
