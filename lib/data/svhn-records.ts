/**
 * SVHN's `.mat` files (lib/data/svhn.ts) opened as {@link RecordFile}s, for sets larger than
 * memory (extra_32x32.mat holds 531,131 images, 1.6 GB of pixels): the labels are read now, the
 * images when batches need them, by the native core (note [record batches] in
 * native/core/record_batch.h, layout 'hwc-columns').
 *
 * ```ts
 * const train = await openSvhnRecords(['train_32x32.mat', 'extra_32x32.mat']);
 * const loader = new DataLoader(normalizeRecords(train, await recordChannelStats(train)), { batchSize: 128, augment: 'crop-flip' });
 * ```
 *
 * Note [streamed MAT files]: a file is walked element by element with reads at offsets, and X's
 * pixels are never read into memory:
 *  - an uncompressed X (`save -v6`) is a miMATRIX element whose real part, H·W·C·N uint8 values
 *    in MATLAB's column-major order, lies in the file as it is: the record source points at it
 *    (offset = the real part's data, a record per image of H·W·C bytes);
 *  - a compressed X (`save -v7`, as SVHN is distributed) is a miCOMPRESSED element, zlib data
 *    that can only be read from its start. It is inflated once, as a stream, and the real part's
 *    bytes are written as they come to a cache file in `cacheDir`, which the record source then
 *    points at (offset 0, the same layout). The cache file's name holds a hash of the .mat file's
 *    absolute path, its size and its modification time, so a changed file is inflated again (and
 *    the copy of its previous version removed); it is written under a temporary name and renamed
 *    when complete, so a cache file is always whole, and one of the right size is reused.
 *    Inflation is bounded by the size the inflated element's tag announces, which must be that of
 *    X's header and real part (Note [bounded inflation] in mat.ts): a zlib bomb stops as soon as
 *    it passes it;
 *  - y (N doubles) and the headers of other variables are read into memory and parsed by mat.ts.
 * The checks and messages are those of readSvhn (lib/data/svhn.ts), with one more condition: X
 * must be stored as uint8 (miUINT8), as SVHN's is, since its bytes are the records.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import * as zlib from 'node:zlib';

import { fsyncDirectory, removeStaleTemporaries, temporaryPathFor } from '../atomic-file';
import type { NativeRecordSource } from '../native';
import { DataFileError, describe, type RecordFile } from './dataset';
import { isGzip, readError } from './files';
import {
  compressedPlace,
  DEFLATE_MAX_RATIO,
  MAT_HEADER_BYTES,
  matEndian,
  matError,
  matrixHeader,
  matTag,
  matTypeName,
  matVariableAsync,
  MI,
  type MatArray,
  type MatEndian,
  type MatMatrixHeader,
  type MatPlace,
  type MatTag,
} from './mat';
import { checkSvhnLabels, checkSvhnShapes, svhnClass, svhnImages, svhnMissingVariable } from './svhn';

/** Options of {@link openSvhnRecords}. */
export interface OpenSvhnRecordsOptions {
  /** Name of the data set (default: the first file, as readSvhn names it). */
  name?: string;
  /** Where inflated copies of compressed X arrays are kept (default {@link defaultSvhnCacheDir}). */
  cacheDir?: string;
}

/** The default cache folder of {@link openSvhnRecords}: newton-cnn-cache in the system's temporary folder. */
export function defaultSvhnCacheDir(): string {
  return path.join(os.tmpdir(), 'newton-cnn-cache');
}

/** Bytes of a miMATRIX element read first for its header (flags, dimensions, name, real part tag). */
const HEAD_BYTES = 4096;
/** A header longer than this (a name or dimensions of megabytes) is refused. */
const HEAD_MAX_BYTES = 2 ** 20;
/** Read and inflate in chunks of this size while the header is looked for... */
const HEAD_CHUNK = 64 * 2 ** 10;
/** ...and of this size while X is copied to its cache file. */
const COPY_CHUNK = 2 ** 20;

/** Where a file's X lies: in the file itself, or in the inflated data of a compressed element. */
type XData =
  | { kind: 'file'; offset: number }
  | {
      kind: 'compressed';
      /** The place of messages about the element's data. */
      place: MatPlace;
      /** The zlib data: the file's bytes [zStart, zStart + zSize). */
      zStart: number;
      zSize: number;
      /** X's pixels are the inflated bytes [dataStart, dataStart + H·W·C·N). */
      dataStart: number;
      /** 8 + the size the inflated element's tag announces. */
      announced: number;
      /** Inflated bytes beyond this (announced, padded to 8) are an error. */
      limit: number;
    };

/** One SVHN file, walked and checked, still open. */
interface SvhnRecordFile {
  file: string;
  fd: fs.promises.FileHandle;
  size: number;
  mtimeNs: bigint;
  /** [C, H, W]. */
  shape: [number, number, number];
  count: number;
  /** Classes 0..9, one per image. */
  labels: Int32Array;
  x: XData;
}

/** A variable found in a file: its header, and where its data are. */
interface Found {
  header: MatMatrixHeader;
  /** The place of messages about it. */
  place: MatPlace;
  x: XData;
}

/** Up to `length` bytes of the file from `position` on (fewer only at its end). */
async function readAt(fd: fs.promises.FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fd.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** Exactly `length` bytes from `position`, which the file was seen to hold. */
async function readExactly(p: MatPlace, fd: fs.promises.FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = await readAt(fd, position, length);
  if (buf.length < length) throw matError(p, `short read at byte ${position + buf.length} (the file changed while it was read?)`);
  return buf;
}

function headerTooLong(p: MatPlace, offset: number): DataFileError {
  return matError(p, `the miMATRIX element at byte ${offset}: its header (array flags, dimensions, name) is longer than ${HEAD_MAX_BYTES} bytes`);
}

/** The header of the uncompressed miMATRIX element whose tag `t` is at byte `offset`, read in growing prefixes. */
async function fileMatrixHeader(p: MatPlace, fd: fs.promises.FileHandle, endian: MatEndian, offset: number, t: MatTag): Promise<MatMatrixHeader | 'skip'> {
  for (let n = Math.min(t.size, HEAD_BYTES); ; n = Math.min(t.size, n * 16)) {
    const h = matrixHeader(p, await readExactly(p, fd, t.start, n), endian, offset, t.size);
    if (h !== 'more') return h;
    if (n >= HEAD_MAX_BYTES) throw headerTooLong(p, offset);
  }
}

/** The file's bytes [start, start + size), in chunks of `chunk` bytes read at their offsets. */
async function* fileBytes(fd: fs.promises.FileHandle, start: number, size: number, chunk: number): AsyncGenerator<Buffer, void, undefined> {
  for (let at = start; at < start + size; at += chunk) {
    const n = Math.min(chunk, start + size - at);
    const buf = await readAt(fd, at, n);
    if (buf.length < n) throw new Error(`short read at byte ${at + buf.length} (the file changed while it was read?)`);
    yield buf;
  }
}

/**
 * The inflated bytes of the zlib data at the file's bytes [start, start + size), in chunks of
 * about `chunk` bytes, inflated on the libuv thread pool as they are asked for; stopping early
 * ends the reading (the file stays open: a file stream's destroy would close it). Errors are those
 * of the file or of zlib.
 */
async function* inflated(fd: fs.promises.FileHandle, start: number, size: number, chunk: number): AsyncGenerator<Buffer, void, undefined> {
  const input = Readable.from(fileBytes(fd, start, size, chunk), { objectMode: false });
  const out: AsyncIterable<Buffer> = pipeline(input, zlib.createInflate({ chunkSize: chunk }), () => {
    // a failure destroys `out` with the error, which the loop below then throws
  });
  for await (const bytes of out) yield bytes;
}

/** The DataFileError of a failed inflation: zlib's error (corrupt data) or the file's. */
function inflateFailure(p: MatPlace, err: unknown): DataFileError {
  if (err instanceof DataFileError) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) return matError(p, `corrupt zlib data (${e.message})`);
  return readError(p.fn, p.file, err);
}

/** The DataFileError of inflated data shorter than their tag announces (mat.ts's wording). */
function truncatedInflation(p: MatPlace, got: number, announced: number): DataFileError {
  return matError(p, `truncated: compressed data inflates to ${got} bytes but its element tag announces ${announced}`);
}

/**
 * What the miCOMPRESSED element with tag `t` holds, from the first inflated bytes: the header of a
 * real numeric array, or 'skip' for anything else; the announced size checked against what deflate
 * can produce from the element's compressed bytes.
 */
async function compressedHeader(q: MatPlace, fd: fs.promises.FileHandle, endian: MatEndian, t: MatTag): Promise<{ header: MatMatrixHeader; announced: number } | 'skip'> {
  const decide = (head: Buffer, ended: boolean): { header: MatMatrixHeader; announced: number } | 'skip' | 'more' => {
    if (head.length < 8) {
      if (ended) throw matError(q, `compressed data inflates to ${head.length} bytes, too few for a data element tag (8)`);
      return 'more';
    }
    const first = endian === 'LE' ? head.readUInt32LE(0) : head.readUInt32BE(0);
    if (first >>> 16 !== 0 || first !== MI.MATRIX) return 'skip'; // a small element, or not an array
    const size = endian === 'LE' ? head.readUInt32LE(4) : head.readUInt32BE(4);
    const announced = 8 + size;
    const bound = announced + ((8 - (announced % 8)) % 8);
    if (bound > DEFLATE_MAX_RATIO * t.size + 1024) {
      throw matError(q, `its inflated element announces ${announced} bytes, more than deflate can produce from ${t.size} compressed bytes: corrupt`);
    }
    if (ended && head.length < announced) throw truncatedInflation(q, head.length, announced);
    const header = matrixHeader(q, head.subarray(8), endian, 0, size);
    if (header === 'more' || header === 'skip') return header;
    return { header, announced };
  };
  let head = Buffer.alloc(0);
  try {
    for await (const bytes of inflated(fd, t.start, t.size, HEAD_CHUNK)) {
      head = Buffer.concat([head, bytes]);
      const r = decide(head, false);
      if (r !== 'more') return r;
      if (head.length >= HEAD_MAX_BYTES) throw headerTooLong(q, 0);
    }
  } catch (err) {
    throw inflateFailure(q, err);
  }
  const r = decide(head, true);
  if (r === 'more') throw truncatedInflation(q, head.length, head.length); // unreachable: an ended element is decided
  return r;
}

/**
 * Walks the top-level elements of an open SVHN file and checks it: X's header and where its
 * pixels lie, y read and mapped to classes. Other variables are skipped unread.
 */
async function walkSvhnFile(fn: string, file: string, fd: fs.promises.FileHandle): Promise<SvhnRecordFile> {
  const stat = await fd.stat({ bigint: true });
  if (stat.isDirectory()) throw new DataFileError(`${fn}: ${file}: is a directory, expected a file`, file);
  const size = Number(stat.size);
  const head = await readAt(fd, 0, MAT_HEADER_BYTES);
  if (isGzip(head)) {
    throw new DataFileError(`${fn}: ${file}: is gzip-compressed; streaming reads .mat files as MATLAB saves them (gunzip it, or read it into memory with readSvhn)`, file);
  }
  const endian = matEndian(fn, file, head);
  const p: MatPlace = { fn, file, where: '' };
  const names = new Set<string>();
  let x: Found | undefined;
  let y: MatArray | undefined;
  for (let at = MAT_HEADER_BYTES; at < size; ) {
    const t = matTag(p, await readAt(fd, at, Math.min(8, size - at)), endian, at, size);
    if (t.type === MI.MATRIX) {
      const header = await fileMatrixHeader(p, fd, endian, at, t);
      if (header !== 'skip') {
        names.add(header.name);
        if (header.name === 'X') x = { header, place: p, x: { kind: 'file', offset: t.start + (header.real?.start ?? 0) } };
        if (header.name === 'y') y = await matVariableAsync(p, { type: t.type, data: await readExactly(p, fd, t.start, t.size), offset: at }, endian);
      }
    } else if (t.type === MI.COMPRESSED) {
      const q = compressedPlace(p, at);
      const found = await compressedHeader(q, fd, endian, t);
      if (found !== 'skip') {
        const { header, announced } = found;
        names.add(header.name);
        if (header.name === 'X') {
          const dataStart = 8 + (header.real?.start ?? 0);
          const limit = announced + ((8 - (announced % 8)) % 8);
          x = { header, place: q, x: { kind: 'compressed', place: q, zStart: t.start, zSize: t.size, dataStart, announced, limit } };
          // The bound is X's header and pixels: nothing may follow the real part (Note [streamed MAT files]).
          const real = header.real;
          if (real !== undefined && real.next < announced - 8) {
            throw matError(q, `the miMATRIX element at byte 0: ${announced - 8 - real.next} bytes follow X's real part (an imaginary part or other sub-elements), which an image array does not have`);
          }
        }
        if (header.name === 'y') y = await matVariableAsync(p, { type: t.type, data: await readExactly(p, fd, t.start, t.size), offset: at }, endian);
      }
    }
    at = t.next;
  }
  if (x === undefined || y === undefined) throw svhnMissingVariable(fn, file, x === undefined ? 'X' : 'y', names);
  const { shape, count } = svhnImages(fn, file, x.header.dims);
  const real = x.header.real;
  if (real !== undefined && real.type !== MI.UINT8) {
    throw new DataFileError(
      `${fn}: ${file}: X (class ${x.header.className}) is stored as ${matTypeName(real.type)}, not miUINT8: streaming reads images stored as uint8, as SVHN's are (read the file into memory with readSvhn)`,
      file,
    );
  }
  const values = count * shape[0] * shape[1] * shape[2];
  const held = real?.size ?? 0;
  if (held !== values) {
    throw matError(x.place, `variable 'X' has dimensions [${x.header.dims.join('×')}] = ${values} values but its real part holds ${held}`);
  }
  checkSvhnLabels(fn, file, y, count);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = svhnClass(fn, file, y.values[i], i);
  return { file, fd, size, mtimeNs: stat.mtimeNs, shape, count, labels, x: x.x };
}

/** The DataFileError of a cache folder or file that cannot be written. */
function cacheError(fn: string, file: string, cacheDir: string, err: unknown): DataFileError {
  return new DataFileError(`${fn}: ${file}: cannot write the inflated copy of its X in ${cacheDir} (${(err as Error).message})`, file);
}

/** Writes all of `bytes` at `position`. */
async function writeAll(out: fs.promises.FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await out.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Inflates the compressed X of `f` and writes its `bytes` pixel bytes to `out`, within the element's bound. */
async function inflateX(fn: string, f: SvhnRecordFile, x: Extract<XData, { kind: 'compressed' }>, out: fs.promises.FileHandle, bytes: number, cacheDir: string): Promise<void> {
  const q = x.place;
  const dataEnd = x.dataStart + bytes;
  let pos = 0;
  try {
    for await (const chunk of inflated(f.fd, x.zStart, x.zSize, COPY_CHUNK)) {
      const end = pos + chunk.length;
      if (end > x.limit) throw matError(q, `compressed data inflates to more than the ${x.announced} bytes its element tag announces: corrupt or a zlib bomb`);
      const from = Math.max(pos, x.dataStart);
      const to = Math.min(end, dataEnd);
      if (to > from) {
        try {
          await writeAll(out, chunk.subarray(from - pos, to - pos), from - x.dataStart);
        } catch (err) {
          throw cacheError(fn, f.file, cacheDir, err);
        }
      }
      pos = end;
    }
  } catch (err) {
    throw inflateFailure(q, err);
  }
  if (pos < x.announced) throw truncatedInflation(q, pos, x.announced);
}

/**
 * The cache file holding the pixels of the compressed X of `f`: the one of this version of the
 * file when it exists with the right size, else made now (Note [streamed MAT files]).
 */
async function cachedX(fn: string, f: SvhnRecordFile, x: Extract<XData, { kind: 'compressed' }>, cacheDir: string): Promise<string> {
  const abs = path.resolve(f.file);
  const stem = `${path.basename(abs).replace(/[^A-Za-z0-9._-]/g, '_')}.${createHash('sha256').update(abs).digest('hex').slice(0, 16)}.`;
  const name = `${stem}${f.size}.${f.mtimeNs}.X.u8`;
  const target = path.join(cacheDir, name);
  const bytes = f.count * f.shape[0] * f.shape[1] * f.shape[2];
  const existing = await fs.promises.stat(target).catch(() => undefined);
  if (existing !== undefined && existing.isFile() && existing.size === bytes) return target;
  let out: fs.promises.FileHandle;
  const tmp = temporaryPathFor(target);
  try {
    await fs.promises.mkdir(cacheDir, { recursive: true });
    await removeStaleTemporaries(target);
    out = await fs.promises.open(tmp, 'wx');
  } catch (err) {
    throw cacheError(fn, f.file, cacheDir, err);
  }
  try {
    try {
      await inflateX(fn, f, x, out, bytes, cacheDir);
      await out.sync().catch((err: unknown) => {
        throw cacheError(fn, f.file, cacheDir, err);
      });
    } finally {
      await out.close();
    }
    await fs.promises.rename(tmp, target).catch((err: unknown) => {
      throw cacheError(fn, f.file, cacheDir, err);
    });
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDirectory(cacheDir).catch(() => undefined); // the copy is whole either way; a lost rename only costs a second inflation
  // The copies of earlier versions of this file are of no further use.
  for (const other of await fs.promises.readdir(cacheDir).catch(() => [])) {
    if (other !== name && other.startsWith(stem) && other.endsWith('.X.u8')) await fs.promises.rm(path.join(cacheDir, other), { force: true }).catch(() => undefined);
  }
  return target;
}

/**
 * SVHN `.mat` files (train_32x32.mat, extra_32x32.mat, …; compressed or not, not gzipped) as one
 * {@link RecordFile} of shape [C, H, W] from X's H×W×C (SVHN: [3, 32, 32]), 10 classes, labels
 * 0..9 (10 → 0), images in file order: the batches gatherBatch and a DataLoader make of it are
 * bit-identical to those of readSvhn on the same files in memory. The labels are read now, the
 * pixels when batches need them: straight from an uncompressed file, or from an inflated copy of
 * a compressed X in `options.cacheDir`, made on the first open of each version of the file
 * (Note [streamed MAT files]).
 * @throws DataFileError naming the file: missing, gzipped, not a level-5 MAT file, truncated,
 *   corrupt or over-inflating compressed data, no X or y, X's dimensions or storage (not uint8),
 *   y's count, a label outside 1..10, images of another shape than the first file's, a cache
 *   folder that cannot be written; TypeError for bad arguments.
 */
export async function openSvhnRecords(files: readonly string[], options: OpenSvhnRecordsOptions = {}): Promise<RecordFile> {
  const fn = 'openSvhnRecords';
  if (!Array.isArray(files) || files.length === 0 || !files.every((f) => typeof f === 'string' && f !== '')) {
    throw new TypeError(`${fn}: files must be a non-empty array of file paths, got ${describe(files)}`);
  }
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  if (options.name !== undefined && typeof options.name !== 'string') throw new TypeError(`${fn}: options.name must be a string, got ${describe(options.name)}`);
  if (options.cacheDir !== undefined && (typeof options.cacheDir !== 'string' || options.cacheDir === '')) {
    throw new TypeError(`${fn}: options.cacheDir must be a folder path, got ${describe(options.cacheDir)}`);
  }
  const cacheDir = path.resolve(options.cacheDir ?? defaultSvhnCacheDir());
  const opened: fs.promises.FileHandle[] = [];
  try {
    const walked: SvhnRecordFile[] = [];
    for (const file of files) {
      let fd: fs.promises.FileHandle;
      try {
        fd = await fs.promises.open(file, 'r');
      } catch (err) {
        throw readError(fn, file, err);
      }
      opened.push(fd);
      try {
        walked.push(await walkSvhnFile(fn, file, fd));
      } catch (err) {
        throw err instanceof DataFileError ? err : readError(fn, file, err);
      }
    }
    checkSvhnShapes(fn, walked);
    // Every file is checked before any X is inflated.
    const sources: string[] = [];
    const offsets: number[] = [];
    for (const f of walked) {
      if (f.x.kind === 'file' || f.count === 0) {
        sources.push(path.resolve(f.file));
        offsets.push(f.x.kind === 'file' ? f.x.offset : 0);
      } else {
        sources.push(await cachedX(fn, f, f.x, cacheDir));
        offsets.push(0);
      }
    }
    const [c, h, w] = walked[0].shape;
    const counts = walked.map((f) => f.count);
    const labels = new Int32Array(counts.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const f of walked) {
      labels.set(f.labels, at);
      at += f.count;
    }
    const source: NativeRecordSource = { files: sources, offsets, counts, recordBytes: c * h * w, imageOffset: 0, layout: 'hwc-columns' };
    return Object.freeze({
      kind: 'records',
      name: options.name ?? files[0],
      source: Object.freeze(source),
      labels,
      shape: Object.freeze([c, h, w] as [number, number, number]),
      classes: 10,
      length: labels.length,
    });
  } finally {
    for (const fd of opened) await fd.close();
  }
}
