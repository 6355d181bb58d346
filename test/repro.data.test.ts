// The reproduction scripts' shared data and estimates (scripts/repro/cifar-data.ts,
// scripts/repro/full-estimate.ts): the substitute is padded, normalised and labelled a substitute;
// a bad --data is a UsageError naming it; the --full estimate counts every pass it is given.
import { cifarLikeData, evenlySpaced } from '../scripts/repro/cifar-data';
import { ASSUMED_GPU_TFLOPS, fullRunEstimate } from '../scripts/repro/full-estimate';
import { UsageError } from '../scripts/repro/harness';
import { passFlops } from '../scripts/bench/resnet';
import { cnn3 } from '../lib/nn';

test('evenlySpaced: limit indices spread over [0, n), all of them without a limit or past n', () => {
  expect(Array.from(evenlySpaced(10, 4))).toEqual([0, 2, 5, 7]);
  expect(Array.from(evenlySpaced(3, undefined))).toEqual([0, 1, 2]);
  expect(Array.from(evenlySpaced(3, 9))).toEqual([0, 1, 2]);
});

test('cifarLikeData: the bundled Fashion-MNIST padded to 1×32×32, normalised with the training statistics, labelled a substitute', async () => {
  const d = await cifarLikeData(undefined, { paperData: 'CIFAR-100', trainLimit: 200, testLimit: 50 });
  expect(d.substitute).toBe(true);
  expect(d.train.shape).toEqual([1, 32, 32]);
  expect(d.test.shape).toEqual([1, 32, 32]);
  expect([d.train.length, d.test.length]).toEqual([200, 50]);
  expect(d.label).toBe("SUBSTITUTE for CIFAR-100: the bundled Fashion-MNIST subset, 200 training / 50 test images, zero-padded to 1×32×32, 10 classes (not the paper's data set)");
  // The 28×28 interior has mean 0 and std 1 over the training images; the border is 0.
  let s = 0;
  let s2 = 0;
  let border = 0;
  for (let i = 0; i < d.train.length; i++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const v = d.train.images[(i * 32 + y) * 32 + x];
        if (y < 2 || y >= 30 || x < 2 || x >= 30) border = Math.max(border, Math.abs(v));
        else {
          s += v;
          s2 += v * v;
        }
      }
    }
  }
  const n = d.train.length * 28 * 28;
  expect(border).toBe(0);
  expect(s / n).toBeCloseTo(0, 4);
  expect(s2 / n).toBeCloseTo(1, 3);
});

test('cifarLikeData: an unreadable --data is a UsageError naming it', async () => {
  await expect(cifarLikeData('/nonexistent/cifar-10-batches-bin', { paperData: 'CIFAR-10' })).rejects.toThrow(UsageError);
  await expect(cifarLikeData('/nonexistent/cifar-10-batches-bin', { paperData: 'CIFAR-10' })).rejects.toThrow(/^--data \/nonexistent\/cifar-10-batches-bin: /);
});

test('fullRunEstimate: FLOPs of every pass it is given, hours at the stated rate, the assumption in words', () => {
  const net = cnn3([1, 28, 28], 10, { seed: 0 });
  const per = passFlops(net, 1);
  const e = fullRunEstimate(net, { trainImages: 1000, evalImages: 100, gradientImages: 10, gvImages: 7, forwardImages: 3 }, 10);
  expect(e.flops).toBeCloseTo(1010 * (per.forward + per.backward) + 103 * per.forward + 7 * per.gv, -3);
  expect(e.hours).toBeCloseTo(e.flops / 10e12 / 3600, 15);
  expect(e.text).toMatch(/^≈ 1 min on one GPU \(0\.0 PFLOP of conv\/linear passes at an assumed 10 TFLOP\/s sustained — not measured/);
  const big = fullRunEstimate(net, { trainImages: 60_000 * 1e6 });
  expect(big.text).toContain(`assumed ${ASSUMED_GPU_TFLOPS} TFLOP/s`);
  expect(big.text).toMatch(/^≈ \d+ h on one GPU/);
});
