// The pieces of scripts/repro-newton-resnet.ts that stand on their own (and are tested in
// test/repro.newton-resnet.test.ts): top-1/top-5 counting that tells non-finite outputs apart,
// learning-rate milestones at fractions of a run, and the random-noise image folder of the
// ImageNet tables' smoke test (PNG files written without an image library).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/**
 * Of the rows of `z` (n × k outputs, row-major) with labels `labels`: how many rank the label
 * first (top1) and among the first five (top5) — an output equal to the label's counts for the
 * label — and how many hold a non-finite output (counted in neither).
 */
export function scoreOutputs(z: ArrayLike<number>, labels: Int32Array, k: number): { top1: number; top5: number; nonFinite: number } {
  let top1 = 0;
  let top5 = 0;
  let nonFinite = 0;
  for (let i = 0; i < labels.length; i++) {
    let finite = true;
    for (let j = 0; j < k; j++) if (!Number.isFinite(z[i * k + j])) finite = false;
    if (!finite) {
      nonFinite++;
      continue;
    }
    const y = z[i * k + labels[i]];
    let above = 0;
    for (let j = 0; j < k; j++) if (z[i * k + j] > y) above++;
    if (above === 0) top1++;
    if (above < 5) top5++;
  }
  return { top1, top5, nonFinite };
}

/** Milestones at fractions of a run of `steps` steps, strictly increasing from 1 (a tiny run keeps every decay, one step apart). */
export function milestoneSteps(fractions: readonly number[], steps: number): number[] {
  const out: number[] = [];
  for (const f of fractions) out.push(Math.max(out.length > 0 ? out[out.length - 1] + 1 : 1, Math.round(f * steps)));
  return out;
}

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An 8-bit RGB PNG of `pixels` (h·w·3, row-major). */
export function encodePng(pixels: Uint8Array, w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, filter 0, no interlace
  const raw = Buffer.alloc(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) raw.set(pixels.subarray(y * 3 * w, (y + 1) * 3 * w), y * (1 + 3 * w) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * The smoke test's image folder: DIR/train with 1,000 class folders of one random-noise PNG each,
 * DIR/val a flat folder of `val` PNGs with a label file (ILSVRC's layout); the images 80×80 so
 * that the crops resize them.
 */
export function writeSmokeFolder(dir: string, val: number, seed: number): { train: string; val: string; labels: string } {
  let s = (seed * 2654435761 + 1) >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  };
  const side = 80;
  const png = (): Buffer => encodePng(Uint8Array.from({ length: side * side * 3 }, next), side, side);
  const train = path.join(dir, 'train');
  const valDir = path.join(dir, 'val');
  fs.mkdirSync(valDir, { recursive: true });
  const names = Array.from({ length: 1000 }, (_, k) => `c${String(k).padStart(4, '0')}`);
  for (const c of names) {
    fs.mkdirSync(path.join(train, c), { recursive: true });
    fs.writeFileSync(path.join(train, c, '0.png'), png());
  }
  const lines: string[] = [];
  for (let i = 0; i < val; i++) {
    const file = `v${String(i).padStart(5, '0')}.png`;
    fs.writeFileSync(path.join(valDir, file), png());
    lines.push(`${file} ${names[(i * 337) % 1000]}`);
  }
  const labels = path.join(dir, 'val-labels.txt');
  fs.writeFileSync(labels, `${lines.join('\n')}\n`);
  return { train, val: valDir, labels };
}
