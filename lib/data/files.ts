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

/** Converts unsigned bytes to float32 values 0..255. */
export function bytesToFloat32(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i];
  return out;
}
