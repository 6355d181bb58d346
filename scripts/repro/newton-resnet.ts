// The pieces of scripts/repro-newton-resnet.ts that stand on their own (and are tested in
// test/repro.newton-resnet.test.ts): top-1/top-5 counting that tells non-finite outputs apart,
// learning-rate milestones at fractions of a run, and the random-noise image folder of the
// ImageNet tables' smoke test (PNG files encoded by the optional package sharp).
import * as fs from 'node:fs';
import * as path from 'node:path';

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

/** sharp's factory, the part of it encodePng uses. */
export type Sharp = (input: Buffer, options: { raw: { width: number; height: number; channels: 3 } }) => { png(): { toBuffer(): Promise<Buffer> } };

/** sharp when installed (the optional dependency lib/plot.ts converts SVG with), else null. */
export function loadSharp(): Sharp | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('sharp') as Sharp;
  } catch {
    return null;
  }
}

/** An 8-bit RGB PNG of `pixels` (h·w·3, row-major), encoded by sharp (libpng/libspng inside). */
export function encodePng(sharp: Sharp, pixels: Uint8Array, w: number, h: number): Promise<Buffer> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/**
 * The smoke test's image folder: DIR/train with 1,000 class folders of one random-noise PNG each,
 * DIR/val a flat folder of `val` PNGs with a label file (ILSVRC's layout); the images 80×80 so
 * that the crops resize them.
 */
export async function writeSmokeFolder(sharp: Sharp, dir: string, val: number, seed: number): Promise<{ train: string; val: string; labels: string }> {
  let s = (seed * 2654435761 + 1) >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  };
  const side = 80;
  const png = (): Promise<Buffer> => encodePng(sharp, Uint8Array.from({ length: side * side * 3 }, next), side, side);
  const train = path.join(dir, 'train');
  const valDir = path.join(dir, 'val');
  fs.mkdirSync(valDir, { recursive: true });
  const names = Array.from({ length: 1000 }, (_, k) => `c${String(k).padStart(4, '0')}`);
  for (const c of names) {
    fs.mkdirSync(path.join(train, c), { recursive: true });
    fs.writeFileSync(path.join(train, c, '0.png'), await png());
  }
  const lines: string[] = [];
  for (let i = 0; i < val; i++) {
    const file = `v${String(i).padStart(5, '0')}.png`;
    fs.writeFileSync(path.join(valDir, file), await png());
    lines.push(`${file} ${names[(i * 337) % 1000]}`);
  }
  const labels = path.join(dir, 'val-labels.txt');
  fs.writeFileSync(labels, `${lines.join('\n')}\n`);
  return { train, val: valDir, labels };
}
