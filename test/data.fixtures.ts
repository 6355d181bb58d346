// Small data files written into a temporary directory for the lib/data tests, and a small
// learnable data set for the training tests.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { createDataset, type Dataset } from '../lib/data';
import { prng } from './helpers';

/** A fresh temporary directory (removed by removeDir). */
export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cnn-data-'));
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
