// scripts/repro-local-hessian-backprop.ts's own pieces: the plateau schedule (PyTorch's
// ReduceLROnPlateau in mode 'max', which the paper uses) and the per-epoch random rotation.
import type { Dataset } from '../lib/data';
import type * as Script from '../scripts/repro-local-hessian-backprop';

// by its full name: the extensionless 'scripts/repro-local-hessian-backprop' is the wrapper, which runs the script
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PlateauSchedule, RotationPool, rotatedEpoch } = require('../scripts/repro-local-hessian-backprop.ts') as typeof Script;

test('PlateauSchedule: halves after more than `patience` epochs without a relative improvement of 1e-4, then counts again', () => {
  const s = new PlateauSchedule(1, 0.5, 2);
  // 0.6 improves; 0.60005 is within the 1e-4 threshold (not an improvement); three bad epochs > patience 2 halve
  const lrs = [0.5, 0.6, 0.60005, 0.6, 0.59, 0.6, 0.6, 0.6, 0.7].map((a) => s.step(a));
  expect(lrs).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
  // patience 0: every epoch without improvement halves; a NaN accuracy is no improvement
  const z = new PlateauSchedule(0.1, 0.5, 0);
  expect([NaN, 0.5, 0.4, 0.6].map((a) => z.step(a))).toEqual([0.05, 0.05, 0.025, 0.025]);
});

function images(n: number, c: number, h: number, w: number, f: (i: number) => number): Dataset {
  const data = Float32Array.from({ length: n * c * h * w }, (_, i) => f(i));
  return { name: 't', images: data, labels: new Int32Array(n), shape: [c, h, w], classes: 2, length: n };
}

test('rotatedEpoch: no rotation at 0°, the same angles for the same (seed, epoch), others for another epoch', () => {
  const ds = images(4, 2, 8, 8, (i) => Math.sin(i * 0.37));
  const none = rotatedEpoch(ds, 3, 0, 0);
  for (let i = 0; i < ds.images.length; i++) expect(none.images[i]).toBeCloseTo(ds.images[i], 6);
  const a = rotatedEpoch(ds, 3, 5, 15);
  const b = rotatedEpoch(ds, 3, 5, 15);
  const c = rotatedEpoch(ds, 3, 6, 15);
  expect(Array.from(a.images)).toEqual(Array.from(b.images));
  expect(Array.from(a.images)).not.toEqual(Array.from(c.images));
  expect(a.labels).toBe(ds.labels);
  expect(a.shape).toEqual(ds.shape);
});

test('rotatedEpoch: a constant image keeps its value near the centre and its corners fall to 0 (outside the image)', () => {
  const ds = images(64, 1, 9, 9, () => 1);
  const r = rotatedEpoch(ds, 1, 0, 45);
  let cornersBelowOne = 0;
  for (let n = 0; n < 64; n++) {
    expect(r.images[n * 81 + 4 * 9 + 4]).toBeCloseTo(1, 6); // the centre pixel is the centre of rotation
    if (r.images[n * 81] < 0.999) cornersBelowOne++;
  }
  // most of 64 angles uniform in ±45° move the corner pixel's source outside the image
  expect(cornersBelowOne).toBeGreaterThan(48);
});

test('RotationPool: worker threads give rotatedEpoch\'s images bit for bit, epoch after epoch', async () => {
  const ds = images(10, 3, 8, 8, (i) => Math.cos(i * 0.11));
  const pool = new RotationPool(ds, 3);
  try {
    for (const epoch of [0, 1]) {
      const a = await pool.rotate(7, epoch, 20);
      expect(Array.from(a.images)).toEqual(Array.from(rotatedEpoch(ds, 7, epoch, 20).images));
    }
  } finally {
    await pool.close();
  }
});
