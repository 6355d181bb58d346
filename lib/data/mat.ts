/**
 * MATLAB level-5 MAT files (MATLAB 5 to 7: `save -v6` / `-v7`), written from MathWorks'
 * "MAT-File Format" document: a 128-byte header, then data elements, each an 8-byte tag (data
 * type, byte count) followed by its data padded to 8 bytes, or a 4-byte "small data element"
 * (2 bytes count, 2 bytes type, up to 4 bytes of data). A variable is a miMATRIX element holding
 * sub-elements: array flags (class), dimensions, array name and the real part; `save -v7`
 * wraps each miMATRIX in a miCOMPRESSED element (zlib data). Numeric arrays are column-major.
 *
 * Only what numeric data sets need is read: real, full (not sparse) numeric arrays. MATLAB 7.3
 * files (`-v7.3`) are HDF5 files and are refused with a message saying so.
 *
 * @packageDocumentation
 */
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { DataFileError } from './dataset';

const inflateAsync = promisify(zlib.inflate) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

/** Size of the MAT-file header: 116 bytes of text, 8 bytes subsystem offset, version, endian indicator. */
export const MAT_HEADER_BYTES = 128;

/** Data types of data element tags (MAT-File Format, "Data Types"). */
export const MI = Object.freeze({
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
});

/** Array classes of the array flags sub-element (MAT-File Format, "MATLAB Array Types"). */
export const MX = Object.freeze({
  CELL: 1,
  STRUCT: 2,
  OBJECT: 3,
  CHAR: 4,
  SPARSE: 5,
  DOUBLE: 6,
  SINGLE: 7,
  INT8: 8,
  UINT8: 9,
  INT16: 10,
  UINT16: 11,
  INT32: 12,
  UINT32: 13,
  INT64: 14,
  UINT64: 15,
});

const CLASS_NAMES: Readonly<Record<number, string>> = {
  1: 'cell', 2: 'struct', 3: 'object', 4: 'char', 5: 'sparse', 6: 'double', 7: 'single', 8: 'int8',
  9: 'uint8', 10: 'int16', 11: 'uint16', 12: 'int32', 13: 'uint32', 14: 'int64', 15: 'uint64',
};

/** The numeric data types a real part may be stored as, with their byte sizes. */
const NUMERIC_TYPES: Readonly<Record<number, { bytes: number; name: string }>> = {
  [MI.INT8]: { bytes: 1, name: 'miINT8' },
  [MI.UINT8]: { bytes: 1, name: 'miUINT8' },
  [MI.INT16]: { bytes: 2, name: 'miINT16' },
  [MI.UINT16]: { bytes: 2, name: 'miUINT16' },
  [MI.INT32]: { bytes: 4, name: 'miINT32' },
  [MI.UINT32]: { bytes: 4, name: 'miUINT32' },
  [MI.SINGLE]: { bytes: 4, name: 'miSINGLE' },
  [MI.DOUBLE]: { bytes: 8, name: 'miDOUBLE' },
};

/** The name of data type `type` ('miUINT8', …; 'type N' for one this reader does not know). */
export function matTypeName(type: number): string {
  return NUMERIC_TYPES[type]?.name ?? (type === MI.MATRIX ? 'miMATRIX' : `type ${type}`);
}

/** Values of a real part, in the type they are stored as (MATLAB may store a double array's integers as miUINT8). */
export type MatValues = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** One numeric variable of a MAT file. */
export interface MatArray {
  /** The variable's name. */
  name: string;
  /** Its MATLAB class: 'double', 'single', 'uint8', …. */
  className: string;
  /** Its dimensions, as MATLAB gives them (at least 2). */
  dims: readonly number[];
  /** Its real part, column-major (the first dimension varies fastest), as stored. */
  values: MatValues;
}

/** The byte order of a MAT file, from its endian indicator. */
export type MatEndian = 'LE' | 'BE';
type Endian = MatEndian;

/** A data element: its tag type, its data, and where its tag starts (for messages). */
export interface MatElement {
  type: number;
  data: Buffer;
  offset: number;
}

/** Where element offsets in messages are counted from: the file, or a compressed element's inflated data. */
export interface MatPlace {
  fn: string;
  file: string;
  /** ' in the compressed element at byte N' or ''. */
  where: string;
}

type Place = MatPlace;

/** The DataFileError "FN: FILE: PROBLEM" (+ where, for an element inside compressed data). */
export function matError(p: MatPlace, problem: string): DataFileError {
  return new DataFileError(`${p.fn}: ${p.file}: ${problem}${p.where}`, p.file);
}
const fail = matError;

function u32(buf: Buffer, offset: number, endian: Endian): number {
  return endian === 'LE' ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}

/**
 * Reads the 128-byte header and returns the file's byte order.
 * @throws DataFileError for a file shorter than the header, a level-4 or 7.3 (HDF5) MAT file, or a wrong version or endian indicator.
 */
export function matEndian(fn: string, file: string, buf: Buffer): Endian {
  const p: Place = { fn, file, where: '' };
  if (buf.length < MAT_HEADER_BYTES) {
    throw fail(p, `${buf.length} bytes, shorter than the ${MAT_HEADER_BYTES}-byte MAT-file header; truncated or not a MAT file`);
  }
  const text = buf.toString('latin1', 0, 116);
  if (text.startsWith('MATLAB 7.3')) {
    throw fail(p, 'a MATLAB 7.3 MAT file (HDF5), which is not supported: save it with -v7 or -v6');
  }
  if (!text.startsWith('MATLAB 5.0 MAT-file') && buf.subarray(0, 4).includes(0)) {
    throw fail(p, 'not a level-5 MAT file (a level-4 MAT file or another format; the header text does not start with "MATLAB 5.0 MAT-file")');
  }
  const indicator = buf.toString('latin1', 126, 128);
  if (indicator !== 'IM' && indicator !== 'MI') {
    throw fail(p, `endian indicator at byte 126 is ${JSON.stringify(indicator)}, not "IM" or "MI": not a level-5 MAT file`);
  }
  const endian: Endian = indicator === 'IM' ? 'LE' : 'BE';
  const version = endian === 'LE' ? buf.readUInt16LE(124) : buf.readUInt16BE(124);
  if (version !== 0x0100) {
    throw fail(p, `MAT-file version 0x${version.toString(16).padStart(4, '0')} is not 0x0100 (level 5)`);
  }
  return endian;
}

/** A data element's tag, read where the element lies (in a buffer or a file). */
export interface MatTag {
  /** Its data type (MI). */
  type: number;
  /** Where its data starts: 8 bytes after the tag, or 4 for a small data element. */
  start: number;
  /** Its data's byte count. */
  size: number;
  /** Where the next element starts: after the data and, except for miCOMPRESSED, the padding to 8 bytes (at most `end`). */
  next: number;
}

/**
 * The tag of the data element at byte `at` of a range that ends at `end`, in the normal (8-byte)
 * or the small-element format; `head` holds the bytes from `at` on (at least 8 when 8 remain).
 * The padding of the range's last element may be missing.
 * @throws DataFileError for a tag or an element that runs past `end` (truncated).
 */
export function matTag(p: MatPlace, head: Buffer, endian: MatEndian, at: number, end: number): MatTag {
  if (end - at < 8) throw fail(p, `truncated: ${end - at} bytes at byte ${at}, too few for a data element tag (8)`);
  const first = u32(head, 0, endian);
  const small = first >>> 16;
  if (small !== 0) {
    // Small data element: 2 bytes count, 2 bytes type, the data in the next 4 bytes.
    if (small > 4) throw fail(p, `small data element at byte ${at} announces ${small} bytes, more than the 4 it can hold`);
    return { type: first & 0xffff, start: at + 4, size: small, next: at + 8 };
  }
  const size = u32(head, 4, endian);
  if (size > end - at - 8) {
    throw fail(p, `truncated: the data element at byte ${at} (type ${first}) announces ${size} bytes but only ${end - at - 8} follow`);
  }
  const next = at + 8 + size;
  return { type: first, start: at + 8, size, next: first === MI.COMPRESSED ? next : Math.min(end, next + ((8 - (size % 8)) % 8)) };
}

/**
 * The data elements of buf[start, end): each tag ({@link matTag}) and its data, checked to lie
 * inside the range.
 * @throws DataFileError for an element that runs past the end (truncated).
 */
function matElements(p: Place, buf: Buffer, endian: Endian, start: number, end: number): MatElement[] {
  const out: MatElement[] = [];
  let at = start;
  while (at < end) {
    const t = matTag(p, buf.subarray(at, at + 8), endian, at, end);
    out.push({ type: t.type, data: buf.subarray(t.start, t.start + t.size), offset: at });
    at = t.next;
  }
  return out;
}

/**
 * Note [bounded inflation]: a miCOMPRESSED element announces only its compressed size, but what
 * it holds is one data element whose tag (its first 8 inflated bytes) announces the rest. So the
 * first bytes are inflated from a short prefix of the zlib data ({@link inflateTag}), and the whole
 * element is inflated with zlib's maxOutputLength set to the size its tag announces (plus padding):
 * an element that would inflate further is refused as soon as it passes the bound, and a tag that
 * announces more than deflate can produce from the compressed bytes (1032:1) is refused at once.
 */

/** The most output deflate produces per input byte (a 258-byte match per 2 bits, plus slack). */
export const DEFLATE_MAX_RATIO = 1032;

/**
 * The first 8 inflated bytes (the tag) of zlib data `z`, inflating growing prefixes of it with
 * Z_SYNC_FLUSH (which returns partial output); a prefix of k bytes inflates to at most 1032·k.
 * @throws DataFileError for corrupt zlib data or one that inflates to fewer than 8 bytes.
 */
function inflateTag(p: Place, z: Buffer): Buffer {
  for (let k = Math.min(z.length, 64); ; k = Math.min(z.length, k * 4)) {
    let out: Buffer;
    try {
      out = zlib.inflateSync(z.subarray(0, k), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: DEFLATE_MAX_RATIO * k + 1024 });
    } catch (err) {
      throw fail(p, `corrupt zlib data (${(err as Error).message})`);
    }
    if (out.length >= 8) return out.subarray(0, 8);
    if (k === z.length) throw fail(p, `compressed data inflates to ${out.length} bytes, too few for a data element tag (8)`);
  }
}

/** The bound (in bytes) and the announced size of a compressed element's inflated data (Note [bounded inflation]). */
function inflateBound(p: Place, z: Buffer, endian: Endian): { bound: number; announced: number } {
  const tag = inflateTag(p, z);
  const first = u32(tag, 0, endian);
  const announced = first >>> 16 !== 0 ? 8 : 8 + u32(tag, 4, endian);
  const bound = announced + ((8 - (announced % 8)) % 8);
  if (bound > DEFLATE_MAX_RATIO * z.length + 1024) {
    throw fail(p, `its inflated element announces ${announced} bytes, more than deflate can produce from ${z.length} compressed bytes: corrupt`);
  }
  if (bound > bufferConstants.MAX_LENGTH) {
    throw fail(p, `its inflated element announces ${announced} bytes, more than a Buffer can hold (${bufferConstants.MAX_LENGTH})`);
  }
  return { bound, announced };
}

/** The DataFileError of a failed inflation: over the announced size, or corrupt. */
function inflateError(p: Place, err: unknown, announced: number): DataFileError {
  if ((err as NodeJS.ErrnoException | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
    return fail(p, `compressed data inflates to more than the ${announced} bytes its element tag announces: corrupt or a zlib bomb`);
  }
  return fail(p, `corrupt zlib data (${(err as Error)?.message ?? String(err)})`);
}

/** Checks that inflated data holds the announced bytes. */
function checkInflated(p: Place, out: Buffer, announced: number): Buffer {
  if (out.length < announced) {
    throw fail(p, `truncated: compressed data inflates to ${out.length} bytes but its element tag announces ${announced}`);
  }
  return out;
}

/** The place of messages about the data of the miCOMPRESSED element whose tag is at byte `offset` of the file. */
export function compressedPlace(p: MatPlace, offset: number): MatPlace {
  return { ...p, where: ` (in the compressed element at byte ${offset})` };
}

/** Inflates a miCOMPRESSED element synchronously within its bound (Note [bounded inflation]). */
function inflateElementSync(p: Place, e: MatElement, endian: Endian): Buffer {
  const { bound, announced } = inflateBound(p, e.data, endian);
  try {
    return checkInflated(p, zlib.inflateSync(e.data, { maxOutputLength: bound }), announced);
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    throw inflateError(p, err, announced);
  }
}

/** Inflates a miCOMPRESSED element on the libuv thread pool within its bound. */
async function inflateElement(p: Place, e: MatElement, endian: Endian): Promise<Buffer> {
  const { bound, announced } = inflateBound(p, e.data, endian);
  let out: Buffer;
  try {
    out = await inflateAsync(e.data, { maxOutputLength: bound });
  } catch (err) {
    throw inflateError(p, err, announced);
  }
  return checkInflated(p, out, announced);
}

/** The values of a numeric data element, in its stored type and the file's byte order. */
function numericValues(p: Place, e: MatElement, endian: Endian, what: string): MatValues {
  const t = NUMERIC_TYPES[e.type];
  if (t === undefined) throw fail(p, `${what} has data type ${e.type}, not a numeric type this reader supports`);
  if (e.data.length % t.bytes !== 0) {
    throw fail(p, `${what}: ${e.data.length} bytes of ${t.name} is not a multiple of ${t.bytes}`);
  }
  const n = e.data.length / t.bytes;
  const d = e.data;
  const le = endian === 'LE';
  switch (e.type) {
    case MI.UINT8:
      return new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + n)); // a copy, detached from the file buffer
    case MI.INT8:
      return new Int8Array(d.buffer.slice(d.byteOffset, d.byteOffset + n));
    case MI.INT16:
      return Int16Array.from({ length: n }, (_, i) => (le ? d.readInt16LE(2 * i) : d.readInt16BE(2 * i)));
    case MI.UINT16:
      return Uint16Array.from({ length: n }, (_, i) => (le ? d.readUInt16LE(2 * i) : d.readUInt16BE(2 * i)));
    case MI.INT32:
      return Int32Array.from({ length: n }, (_, i) => (le ? d.readInt32LE(4 * i) : d.readInt32BE(4 * i)));
    case MI.UINT32:
      return Uint32Array.from({ length: n }, (_, i) => (le ? d.readUInt32LE(4 * i) : d.readUInt32BE(4 * i)));
    case MI.SINGLE: {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = le ? d.readFloatLE(4 * i) : d.readFloatBE(4 * i);
      return out;
    }
    default: {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = le ? d.readDoubleLE(8 * i) : d.readDoubleBE(8 * i);
      return out;
    }
  }
}

/** What the array flags, dimensions and name sub-elements of a real numeric array say. */
interface MatrixInfo {
  name: string;
  className: string;
  dims: number[];
  /** The product of the dimensions. */
  count: number;
}

/**
 * Checks the first three sub-elements of the miMATRIX element at byte `offset` (array flags,
 * dimensions, name) and returns what they say, or undefined for arrays that are not real full
 * numeric ones (cell, struct, char, sparse, …), which a numeric data set never needs.
 * @throws DataFileError for missing or malformed sub-elements, complex data, 64-bit integers.
 */
function matrixInfo(p: Place, offset: number, endian: Endian, flags: MatElement, dimsEl: MatElement | undefined, nameEl: MatElement | undefined): MatrixInfo | undefined {
  const at = `the miMATRIX element at byte ${offset}`;
  if (flags.type !== MI.UINT32 || flags.data.length !== 8) {
    throw fail(p, `${at}: its first sub-element is not array flags (miUINT32, 8 bytes) but type ${flags.type}, ${flags.data.length} bytes`);
  }
  const word = u32(flags.data, 0, endian);
  const classId = word & 0xff;
  const className = CLASS_NAMES[classId] ?? `class ${classId}`;
  if (classId < MX.DOUBLE || classId > MX.UINT64) return undefined;
  if (dimsEl === undefined || dimsEl.type !== MI.INT32 || dimsEl.data.length < 8 || dimsEl.data.length % 4 !== 0) {
    throw fail(p, `${at}: no dimensions sub-element (miINT32, at least 2 values)`);
  }
  const dims = Array.from({ length: dimsEl.data.length / 4 }, (_, i) => (endian === 'LE' ? dimsEl.data.readInt32LE(4 * i) : dimsEl.data.readInt32BE(4 * i)));
  if (dims.some((d) => d < 0)) throw fail(p, `${at}: negative dimension in [${dims.join(', ')}]`);
  if (nameEl === undefined || (nameEl.type !== MI.INT8 && nameEl.type !== MI.UTF8)) {
    throw fail(p, `${at}: no array name sub-element (miINT8)`);
  }
  const name = nameEl.data.toString('latin1');
  if ((word & 0x0800) !== 0) throw fail(p, `variable '${name}' is complex; only real arrays are supported`);
  if (classId === MX.INT64 || classId === MX.UINT64) throw fail(p, `variable '${name}' is of class ${className}, which this reader does not support`);
  return { name, className, dims, count: dims.reduce((a, b) => a * b, 1) };
}

function noRealPart(p: Place, info: MatrixInfo): DataFileError {
  return fail(p, `variable '${info.name}' [${info.dims.join('×')}] has no real part sub-element`);
}

/**
 * Parses the data of a miMATRIX element: array flags, dimensions, name, real part. Returns
 * undefined for arrays that are not real full numeric ones (cell, struct, char, sparse, …), which
 * a numeric data set never needs.
 * @throws DataFileError for missing or malformed sub-elements, complex data, or a real part whose
 *   length is not the product of the dimensions.
 */
function parseMatrix(p: Place, e: MatElement, endian: Endian): MatArray | undefined {
  const subs = matElements(p, e.data, endian, 0, e.data.length);
  if (subs.length === 0) return undefined; // an empty array
  const [flags, dimsEl, nameEl, real] = subs;
  const info = matrixInfo(p, e.offset, endian, flags, dimsEl, nameEl);
  if (info === undefined) return undefined;
  const { name, className, dims, count } = info;
  if (real === undefined) {
    if (count === 0) return { name, className, dims, values: new Float64Array(0) };
    throw noRealPart(p, info);
  }
  const values = numericValues(p, real, endian, `the real part of variable '${name}'`);
  if (values.length !== count) {
    throw fail(p, `variable '${name}' has dimensions [${dims.join('×')}] = ${count} values but its real part holds ${values.length}`);
  }
  return { name, className, dims, values };
}

/** What the start of a miMATRIX element says of a real numeric array: enough to find its real part without reading it. */
export interface MatMatrixHeader {
  name: string;
  className: string;
  dims: readonly number[];
  /** The real part's tag, positions counted from the start of the miMATRIX element's data; absent for an empty array stored without one. */
  real?: MatTag;
}

/**
 * The array flags, dimensions, name and real part tag of a miMATRIX element from the first bytes
 * of its data, `head`, of `size` in all (the element's tag is at byte `offset`, for messages):
 * for an array whose data need not be read (a large one in a file, or in compressed data being
 * inflated). Gives 'more' when `head` ends before them, 'skip' for an array that is not a real full
 * numeric one (as {@link parseMat} skips it), and checks what {@link parseMat} checks of them, with
 * the same messages.
 * @throws DataFileError for missing, malformed or truncated sub-elements, complex data, 64-bit
 *   integers, a non-empty array without a real part.
 */
export function matrixHeader(p: MatPlace, head: Buffer, endian: MatEndian, offset: number, size: number): MatMatrixHeader | 'more' | 'skip' {
  let at = 0;
  // The tag of the next sub-element: undefined after the last, 'more' when head ends first.
  const nextTag = (): MatTag | undefined | 'more' => {
    if (at >= size) return undefined;
    if (head.length < Math.min(size, at + 8)) return 'more';
    return matTag(p, head.subarray(at, at + 8), endian, at, size);
  };
  const subs: MatElement[] = [];
  while (subs.length < 3) {
    const t = nextTag();
    if (t === 'more') return 'more';
    if (t === undefined) break;
    if (head.length < t.start + t.size) return 'more';
    subs.push({ type: t.type, data: head.subarray(t.start, t.start + t.size), offset: at });
    at = t.next;
  }
  if (subs.length === 0) return 'skip'; // an empty array
  const [flags, dimsEl, nameEl] = subs;
  const info = matrixInfo(p, offset, endian, flags, dimsEl, nameEl);
  if (info === undefined) return 'skip';
  const real = nextTag();
  if (real === 'more') return 'more';
  const { name, className, dims, count } = info;
  if (real === undefined) {
    if (count === 0) return { name, className, dims };
    throw noRealPart(p, info);
  }
  return { name, className, dims, real };
}

/** The top-level elements of a MAT file, after its header. */
function topElements(fn: string, file: string, buf: Buffer): { endian: Endian; elements: MatElement[]; p: Place } {
  const endian = matEndian(fn, file, buf);
  const p: Place = { fn, file, where: '' };
  return { endian, elements: matElements(p, buf, endian, MAT_HEADER_BYTES, buf.length), p };
}

/** The variable a (decompressed) top-level element holds, if it is a real numeric array. */
function variableOf(p: Place, e: MatElement, endian: Endian): MatArray | undefined {
  if (e.type !== MI.MATRIX) return undefined; // other top-level elements (subsystem data, …) are skipped
  return parseMatrix(p, e, endian);
}

/** The one element inflated data holds. */
function inflatedElement(p: Place, out: Buffer, endian: Endian): MatElement {
  const [e] = matElements(p, out, endian, 0, out.length);
  return e;
}

/**
 * The variable that top-level element `e` (miMATRIX, or miCOMPRESSED holding one) of a MAT file
 * holds, if it is a real numeric array; compressed data are inflated on the libuv thread pool
 * within the size they announce (Note [bounded inflation]). `p` names the function and the file.
 * @throws DataFileError as {@link parseMat} does for the element.
 */
export async function matVariableAsync(p: MatPlace, e: MatElement, endian: MatEndian): Promise<MatArray | undefined> {
  if (e.type !== MI.COMPRESSED) return variableOf(p, e, endian);
  const q = compressedPlace(p, e.offset);
  return variableOf(q, inflatedElement(q, await inflateElement(q, e, endian), endian), endian);
}

/**
 * The real numeric variables of the level-5 MAT file contents `buf`, by name; other variables
 * (cells, structs, chars, sparse) are skipped. Compressed elements are inflated within the size
 * they announce (Note [bounded inflation]).
 * @throws DataFileError naming the file and the problem: header, truncation, corrupt zlib data,
 *   an element that inflates beyond its announced size, malformed arrays.
 */
export function parseMat(fn: string, file: string, buf: Buffer): Map<string, MatArray> {
  const { endian, elements, p } = topElements(fn, file, buf);
  const vars = new Map<string, MatArray>();
  for (const e of elements) {
    const q = e.type === MI.COMPRESSED ? compressedPlace(p, e.offset) : p;
    const el = e.type === MI.COMPRESSED ? inflatedElement(q, inflateElementSync(q, e, endian), endian) : e;
    const v = variableOf(q, el, endian);
    if (v !== undefined) vars.set(v.name, v);
  }
  return vars;
}

/** parseMat with the compressed elements inflated on the libuv thread pool. */
export async function parseMatAsync(fn: string, file: string, buf: Buffer): Promise<Map<string, MatArray>> {
  const { endian, elements, p } = topElements(fn, file, buf);
  const vars = new Map<string, MatArray>();
  for (const e of elements) {
    const v = await matVariableAsync(p, e, endian);
    if (v !== undefined) vars.set(v.name, v);
  }
  return vars;
}
