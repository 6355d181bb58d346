/**
 * The self-checking binary container of newton-cnn's files (checkpoints, lib/checkpoint.ts, and
 * model files, lib/model/file.ts): a fixed preamble, a UTF-8 JSON header and raw typed-array
 * sections, with a SHA-256 of everything after the checksum field.
 *
 * ## Layout (all integers little-endian)
 *
 * | offset | size | field                                                               |
 * |-------:|-----:|---------------------------------------------------------------------|
 * |      0 |    8 | magic: 8 ASCII bytes naming the kind of file                        |
 * |      8 |    4 | format version, uint32                                              |
 * |     12 |    4 | reserved, 0                                                         |
 * |     16 |   32 | SHA-256 of every byte from offset 48 to the end of the file         |
 * |     48 |    8 | total file size in bytes, uint64                                    |
 * |     56 |    4 | header length H in bytes, uint32                                    |
 * |     60 |    4 | reserved, 0                                                         |
 * |     64 |    H | header: UTF-8 JSON, padded with spaces to a multiple of 8           |
 * |      … |    … | binary sections at the offsets the header names, 8-byte aligned     |
 *
 * The header's `sections` lists `{ name, dtype, offset, length, byteLength }` for each section;
 * sections hold raw little-endian element bytes (float32, float64 or int32).
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';

const HEADER_START = 64;
const CHECKSUM_START = 16;
const CHECKED_FROM = 48;

/** The element types a section can hold. */
export type SectionDType = 'float32' | 'float64' | 'int32';
/** A section's contents. */
export type SectionArray = Float32Array | Float64Array | Int32Array;

/** Where a section lies in the file, as the header records it. */
export interface SectionInfo {
  name: string;
  dtype: SectionDType;
  offset: number;
  length: number;
  byteLength: number;
}

/** A decoded container: its version, its header (without `sections`) and a section reader. */
export interface DecodedContainer {
  version: number;
  header: Record<string, unknown>;
  /**
   * The section called `name` as a fresh, aligned typed array.
   * @throws ContainerError when it is absent, of another dtype, or outside the file.
   */
  section(name: string, dtypes: readonly SectionDType[]): SectionArray;
  /** Whether the header lists a section called `name`. */
  hasSection(name: string): boolean;
}

/** What decodeContainer expects of the bytes. */
export interface ContainerExpectation {
  /** The 8-byte magic. */
  magic: string;
  /** The versions this code reads; the newest is named in the message for a newer file. */
  versions: readonly number[];
  /** The `format` string the header must carry (e.g. 'newton-cnn model'). */
  format: string;
  /** What the file is, for messages ('checkpoint', 'model file'). */
  what: string;
}

/** A malformed container; `reason` is the message without the caller's prefix. */
export class ContainerError extends Error {
  /** What is wrong, without the function and file prefix. */
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'ContainerError';
    this.reason = reason;
  }
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

function dtypeOf(a: SectionArray): SectionDType {
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Float32Array) return 'float32';
  return 'int32';
}

/**
 * Serialises `header` (any JSON object; its `sections` field is set here) and `sections` with the
 * given magic and version.
 */
export function encodeContainer(magic: string, version: number, header: Record<string, unknown>, sections: readonly (readonly [string, SectionArray])[]): Buffer {
  if (magic.length !== 8) throw new RangeError(`encodeContainer: the magic must be 8 ASCII characters, got ${JSON.stringify(magic)}`);
  // Section offsets depend on the header's length, which depends on the offsets: iterate until
  // the padded length is stable (two rounds in practice).
  let infos: SectionInfo[] = [];
  let headerBytes = Buffer.alloc(0);
  let paddedLength = 0;
  for (let round = 0; round < 8; round++) {
    let offset = HEADER_START + paddedLength;
    infos = sections.map(([name, a]) => {
      const info: SectionInfo = { name, dtype: dtypeOf(a), offset, length: a.length, byteLength: a.byteLength };
      offset = align8(offset + a.byteLength);
      return info;
    });
    headerBytes = Buffer.from(JSON.stringify({ ...header, sections: infos }), 'utf8');
    const need = align8(headerBytes.length);
    if (need === paddedLength) break;
    paddedLength = need;
  }
  const end = infos.length === 0 ? HEADER_START + paddedLength : infos[infos.length - 1].offset + infos[infos.length - 1].byteLength;
  const total = align8(end);
  const out = Buffer.alloc(total);
  out.write(magic, 0, 'latin1');
  out.writeUInt32LE(version, 8);
  out.writeBigUInt64LE(BigInt(total), 48);
  out.writeUInt32LE(paddedLength, 56);
  out.fill(0x20, HEADER_START, HEADER_START + paddedLength);
  headerBytes.copy(out, HEADER_START);
  sections.forEach(([, a], i) => {
    // typed arrays are little-endian on every platform Node supports for this package (x86-64, arm64)
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(out, infos[i].offset);
  });
  createHash('sha256').update(out.subarray(CHECKED_FROM)).digest().copy(out, CHECKSUM_START);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function nonNegativeInteger(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ContainerError(`the header's ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Checks the magic, version, size, checksum and header of container bytes.
 * @throws ContainerError saying what is wrong (the caller prefixes its name and the file).
 */
export function decodeContainer(buf: Buffer, expect: ContainerExpectation): DecodedContainer {
  const { what } = expect;
  if (buf.length < HEADER_START) throw new ContainerError(`truncated: ${buf.length} bytes, shorter than the ${HEADER_START}-byte preamble`);
  const magic = buf.subarray(0, 8).toString('latin1');
  if (magic !== expect.magic) throw new ContainerError(`not a newton-cnn ${what} (magic ${JSON.stringify(magic)}, expected "${expect.magic}")`);
  const version = buf.readUInt32LE(8);
  if (!expect.versions.includes(version)) {
    const newest = Math.max(...expect.versions);
    const known = [...expect.versions].sort((x, y) => x - y);
    const list = known.length === 1 ? `version ${known[0]}` : `versions ${known.slice(0, -1).join(', ')} and ${known[known.length - 1]}`;
    throw new ContainerError(`unsupported ${what} version ${version} (this newton-cnn reads ${list}${version > newest ? '; a newer version needs a newer newton-cnn' : ''})`);
  }
  const size = buf.readBigUInt64LE(48);
  if (size !== BigInt(buf.length)) {
    throw new ContainerError(buf.length < size ? `truncated: ${buf.length} bytes but the ${what} says ${size}` : `${buf.length} bytes but the ${what} says ${size} (trailing data)`);
  }
  const recorded = buf.subarray(CHECKSUM_START, CHECKSUM_START + 32);
  const actual = createHash('sha256').update(buf.subarray(CHECKED_FROM)).digest();
  if (!actual.equals(recorded)) {
    throw new ContainerError(`checksum mismatch (SHA-256 ${actual.toString('hex')} but the file records ${recorded.toString('hex')}): the file is corrupted`);
  }
  const headerLength = buf.readUInt32LE(56);
  if (HEADER_START + headerLength > buf.length) throw new ContainerError(`header length ${headerLength} runs past the end of the file`);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(HEADER_START, HEADER_START + headerLength).toString('utf8'));
  } catch (e) {
    throw new ContainerError(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(header) || header.format !== expect.format) throw new ContainerError(`the header is not a ${expect.format} header`);
  const sections = header.sections;
  if (!Array.isArray(sections)) throw new ContainerError('the header has no sections list');
  const find = (name: string): Record<string, unknown> | undefined => sections.find((x: unknown): x is Record<string, unknown> => isObject(x) && x.name === name);
  const { sections: _omitted, ...rest } = header;
  return {
    version,
    header: rest,
    hasSection: (name) => find(name) !== undefined,
    section(name, dtypes) {
      const s = find(name);
      if (s === undefined) throw new ContainerError(`the header has no '${name}' section`);
      const dtype = s.dtype;
      if (typeof dtype !== 'string' || !(dtypes as readonly string[]).includes(dtype)) {
        throw new ContainerError(`section '${name}' has dtype ${JSON.stringify(dtype)}, expected ${dtypes.join(' or ')}`);
      }
      const offset = nonNegativeInteger(`sections.${name}.offset`, s.offset);
      const length = nonNegativeInteger(`sections.${name}.length`, s.length);
      const width = dtype === 'float64' ? 8 : 4;
      if (s.byteLength !== length * width) throw new ContainerError(`section '${name}' has byteLength ${JSON.stringify(s.byteLength)} but ${length} ${dtype} elements take ${length * width}`);
      if (offset % 8 !== 0 || offset < HEADER_START + headerLength || offset + length * width > buf.length) {
        throw new ContainerError(`section '${name}' (offset ${offset}, ${length * width} bytes) lies outside the file's ${buf.length} bytes`);
      }
      const bytes = new Uint8Array(length * width);
      bytes.set(buf.subarray(offset, offset + length * width));
      if (dtype === 'float64') return new Float64Array(bytes.buffer);
      if (dtype === 'float32') return new Float32Array(bytes.buffer);
      return new Int32Array(bytes.buffer);
    },
  };
}
