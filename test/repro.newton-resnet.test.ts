// scripts/repro/newton-resnet.ts, the pieces the tables of scripts/repro-newton-resnet.ts rest on:
// top-1/top-5 counting with non-finite outputs, the learning-rate milestones at fractions of a
// run, and the PNG files of the ImageNet smoke test (decoded by the native image-folder reader to
// the pixels written).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { gatherBatch, openImageFolder } from '../lib/data';
import { native } from '../lib/native';
import { encodePng, loadSharp, milestoneSteps, scoreOutputs } from '../scripts/repro/newton-resnet';

test('scoreOutputs: the label first (top-1) or among the first five (top-5); ties count for the label; a non-finite row is neither', () => {
  const k = 7;
  const rows = [
    [0, 1, 2, 3, 4, 5, 9], // label 6: top-1
    [6, 5, 4, 3, 2, 1, 0], // label 4: 5th largest → top-5 only
    [6, 5, 4, 3, 2, 1, 0], // label 5: 6th → neither
    [1, 1, 1, 1, 1, 1, 1], // label 2: all tied → top-1
    [0, NaN, 0, 0, 0, 0, 0], // label 0: non-finite
    [0, 0, Infinity, 0, 0, 0, 0], // label 2: non-finite even though it would win
  ];
  const labels = Int32Array.from([6, 4, 5, 2, 0, 2]);
  expect(scoreOutputs(Float32Array.from(rows.flat()), labels, k)).toEqual({ top1: 2, top5: 3, nonFinite: 2 });
  expect(scoreOutputs([], new Int32Array(0), k)).toEqual({ top1: 0, top5: 0, nonFinite: 0 });
});

test('milestoneSteps: the fractions of the run in steps; strictly increasing from 1 when the run is short', () => {
  // the paper's CIFAR schedule: 120 epochs of 391 steps, decays at epochs 40, 60, 80, 100
  const f = [40 / 120, 60 / 120, 80 / 120, 100 / 120];
  expect(milestoneSteps(f, 120 * 391)).toEqual([40 * 391, 60 * 391, 80 * 391, 100 * 391]);
  // the reduced mode: 8 epochs of 16 steps
  expect(milestoneSteps(f, 128)).toEqual([43, 64, 85, 107]);
  // a 4-step run keeps every decay, one step apart
  expect(milestoneSteps(f, 4)).toEqual([1, 2, 3, 4]);
  expect(milestoneSteps(f, 1)).toEqual([1, 2, 3, 4]);
});

const sharp = loadSharp();
const pngReady = native().imageCodecs().png.library !== null && sharp !== null;
(pngReady ? test : test.skip)("encodePng: the native reader decodes the smoke test's PNGs to the pixels written", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-png-'));
  try {
    const w = 4;
    const h = 4;
    const pixels = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + 11) % 256);
    for (const c of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, c));
      fs.writeFileSync(path.join(dir, c, 'x.png'), await encodePng(sharp as NonNullable<typeof sharp>, pixels, w, h));
    }
    // the evaluation transform of a folder at the images' own size: no resize, no crop
    const folder = await openImageFolder(dir, { size: h, resizeTo: h });
    const b = gatherBatch(folder, Int32Array.from([0, 1]), 0, 2);
    const x = b.x.toArray();
    expect(b.labels).toEqual(Int32Array.from([0, 1]));
    // CHW in the batch, HWC in the file
    for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let i = 0; i < w; i++) expect(x[c * h * w + y * w + i]).toBe(pixels[(y * w + i) * 3 + c]);
    b.x.dispose();
    b.y.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
