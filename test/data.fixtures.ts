// Small data files written into a temporary directory for the lib/data tests, and a small
// learnable data set for the training tests.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { createDataset, gatherBatch, type AnyDataset, type Dataset } from '../lib/data';
import { prng } from './helpers';

/** A fresh temporary directory (removed by removeDir). */
export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cnn-data-'));
}

/** The values of the batch of `order` from `ds` (gatherBatch), as plain arrays to compare. */
export function batchValues(ds: AnyDataset, order: Int32Array): { x: number[]; y: number[]; labels: number[] } {
  const b = gatherBatch(ds, order, 0, order.length);
  try {
    return { x: Array.from(b.x.toArray()), y: Array.from(b.y.toArray()), labels: Array.from(b.labels) };
  } finally {
    b.x.dispose();
    b.y.dispose();
  }
}

/** Removes a directory made by makeTempDir. */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** IDX image bytes: magic, count, rows, cols (big-endian), then pixels (default: (i·7 + k) mod 256). */
export function idxImages(count: number, rows: number, cols: number, pixel?: (i: number, k: number) => number): Buffer {
  const buf = Buffer.alloc(16 + count * rows * cols);
  buf.writeUInt32BE(0x803, 0);
  buf.writeUInt32BE(count, 4);
  buf.writeUInt32BE(rows, 8);
  buf.writeUInt32BE(cols, 12);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < rows * cols; k++) buf[16 + i * rows * cols + k] = pixel ? pixel(i, k) : (i * 7 + k) % 256;
  }
  return buf;
}

/** IDX label bytes: magic, count, then the labels. */
export function idxLabels(labels: readonly number[]): Buffer {
  const buf = Buffer.alloc(8 + labels.length);
  buf.writeUInt32BE(0x801, 0);
  buf.writeUInt32BE(labels.length, 4);
  labels.forEach((l, i) => (buf[8 + i] = l));
  return buf;
}

/** CIFAR records: label byte(s) then 3072 pixels; pixel k of record r is (r·11 + k) mod 256. */
export function cifarRecords(labels: readonly (number | readonly [number, number])[]): Buffer {
  const labelBytes = typeof labels[0] === 'number' ? 1 : 2;
  const record = labelBytes + 3072;
  const buf = Buffer.alloc(labels.length * record);
  labels.forEach((l, r) => {
    const base = r * record;
    if (typeof l === 'number') buf[base] = l;
    else [buf[base], buf[base + 1]] = l;
    for (let k = 0; k < 3072; k++) buf[base + labelBytes + k] = (r * 11 + k) % 256;
  });
  return buf;
}

/** Writes `data` (gzipped when gzip is true) to dir/name and returns the path. */
export function writeFile(dir: string, name: string, data: Buffer | string, gzip = false): string {
  const file = path.join(dir, name);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  fs.writeFileSync(file, gzip ? zlib.gzipSync(bytes) : bytes);
  return file;
}

/** Escapes a string for use inside a RegExp. */
export function re(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Three classes of 8×8 images: a horizontal bar, a vertical bar, a diagonal, at random offsets, plus noise. */
export function bars(n: number, seed: number): Dataset {
  const r = prng(seed);
  const images = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    const k = 1 + Math.floor(r() * 6);
    for (let h = 0; h < 8; h++) {
      for (let w = 0; w < 8; w++) {
        const on = c === 0 ? h === k : c === 1 ? w === k : h === w;
        images[i * 64 + h * 8 + w] = (on ? 1 : 0) + 0.4 * (r() - 0.5);
      }
    }
  }
  return createDataset({ name: `bars-${seed}`, images, labels, shape: [1, 8, 8], classes: 3 });
}

/** A variable for matFile: name, MATLAB class (6 double, 9 uint8, …), dimensions, and the real part's data type (miUINT8 2, miDOUBLE 9, …) and values. */
export interface MatVar {
  name: string;
  classId: number;
  dims: readonly number[];
  type: number;
  values: ArrayLike<number>;
}

const MAT_TYPE_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8 };

/** A little-endian MAT-5 data element: tag (small format for ≤ 4 bytes unless `big`) + data padded to 8. */
export function matElement(type: number, data: Buffer, big = false): Buffer {
  if (data.length <= 4 && !big) {
    const el = Buffer.alloc(8);
    el.writeUInt32LE(((data.length << 16) | type) >>> 0, 0);
    data.copy(el, 4);
    return el;
  }
  const el = Buffer.alloc(8 + data.length + ((8 - (data.length % 8)) % 8));
  el.writeUInt32LE(type, 0);
  el.writeUInt32LE(data.length, 4);
  data.copy(el, 8);
  return el;
}

/** The numbers `values` as `type` (a MAT data type), little-endian. */
function matData(type: number, values: ArrayLike<number>): Buffer {
  const bytes = MAT_TYPE_BYTES[type];
  const buf = Buffer.alloc(values.length * bytes);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (type === 1) buf.writeInt8(v, i);
    else if (type === 2) buf.writeUInt8(v, i);
    else if (type === 3) buf.writeInt16LE(v, 2 * i);
    else if (type === 4) buf.writeUInt16LE(v, 2 * i);
    else if (type === 5) buf.writeInt32LE(v, 4 * i);
    else if (type === 6) buf.writeUInt32LE(v, 4 * i);
    else if (type === 7) buf.writeFloatLE(v, 4 * i);
    else buf.writeDoubleLE(v, 8 * i);
  }
  return buf;
}

/** The miMATRIX element (14) of a variable: array flags, dimensions, name, real part. */
export function matMatrix(v: MatVar): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(v.classId, 0);
  const body = Buffer.concat([
    matElement(6, flags),
    matElement(5, matData(5, v.dims)),
    matElement(1, Buffer.from(v.name, 'latin1')),
    matElement(v.type, matData(v.type, v.values)),
  ]);
  return matElement(14, body, true);
}

/** The 128-byte header of a little-endian level-5 MAT file. */
export function matHeader(): Buffer {
  const h = Buffer.alloc(128, 0x20);
  h.write('MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: newton-cnn tests', 0, 'latin1');
  h.fill(0, 116, 124);
  h.writeUInt16LE(0x0100, 124);
  h.write('IM', 126, 'latin1');
  return h;
}

/** A level-5 MAT file holding `vars`, each in a miCOMPRESSED element (15) when `compressed` (save -v7) or plain (save -v6). */
export function matFile(vars: readonly MatVar[], compressed: boolean): Buffer {
  const els = vars.map((v) => {
    const m = matMatrix(v);
    if (!compressed) return m;
    const z = zlib.deflateSync(m);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(z.length, 4);
    return Buffer.concat([tag, z]);
  });
  return Buffer.concat([matHeader(), ...els]);
}

/** Pixel (h, w, c) of SVHN-like image i: (i·13 + h·5 + w·3 + c·70) mod 256. */
export function svhnPixel(i: number, c: number, h: number, w: number): number {
  return (i * 13 + h * 5 + w * 3 + c * 70) % 256;
}

/**
 * An SVHN-like MAT file: X [size×size×3×N] uint8 (column-major, pixels svhnPixel of images
 * first..first+N−1, first default 0) and y [N×1] double labels 1..10, stored as miDOUBLE or (as
 * MATLAB does for small integers) miUINT8.
 */
export function svhnMat(labels: readonly number[], options: { compressed?: boolean; size?: number; yType?: 2 | 9; xDims?: readonly number[]; yDims?: readonly number[]; first?: number } = {}): Buffer {
  const s = options.size ?? 32;
  const n = labels.length;
  const first = options.first ?? 0;
  const x = new Uint8Array(s * s * 3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) for (let w = 0; w < s; w++) for (let h = 0; h < s; h++) x[h + s * (w + s * (c + 3 * i))] = svhnPixel(first + i, c, h, w);
  }
  return matFile(
    [
      { name: 'X', classId: 9, dims: options.xDims ?? [s, s, 3, n], type: 2, values: x },
      { name: 'y', classId: 6, dims: options.yDims ?? [n, 1], type: options.yType ?? 9, values: labels },
    ],
    options.compressed ?? false,
  );
}
