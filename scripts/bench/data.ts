// `npm run bench -- data`: the data loader (lib/data/loader.ts) on CIFAR-sized images
// (3×32×32, crop-flip: pad 4, crop 32, flip, per-channel normalisation):
//   1. native batch assembly alone (augmentBatch on this thread, batches of 128): images/s on
//      the core's threads (target ≥ 50,000 on 2 threads);
//   2. the loader's async epochs (prefetch 2), tensors included: images/s;
//   3. trainSgd with options.augment on cnn3 (32×32×3, batch 128): the time each step waits for
//      its batch (≈ 0 when prefetching hides the loader behind the step).
import { getNumThreads, info, setNumThreads } from '../../lib';
import { createDataset, DataLoader } from '../../lib/data';
import { cnn3, crossEntropyLoss } from '../../lib/nn';
import { trainSgd } from '../../lib/train';
import { BenchSuite, fmt, loadAverage, machineInfo, median, parseOptions, positiveInt, writeJson } from './common';

export const TARGET_IMAGES_PER_SECOND = 50000;
const CIFAR_MEAN = [125.3, 123.0, 113.9];
const CIFAR_STD = [63.0, 62.1, 66.7];

function cifarLike(n: number): ReturnType<typeof createDataset> {
  const images = new Float32Array(n * 3 * 32 * 32);
  let s = 12345;
  for (let i = 0; i < images.length; i++) images[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24; // 0..255 like CIFAR's bytes
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  return createDataset({ name: 'cifar-like', images, labels, shape: [3, 32, 32], classes: 10 });
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv, { flags: ['--quick'], values: ['--json', '--threads', '--images', '--batch', '--repeats'] });
  const quick = opts.get('--quick') === true;
  const threads = positiveInt(opts, '--threads', 2);
  const n = positiveInt(opts, '--images', quick ? 2048 : 10000);
  const batch = positiveInt(opts, '--batch', 128);
  const repeats = positiveInt(opts, '--repeats', quick ? 2 : 5);
  const previousThreads = getNumThreads();
  setNumThreads(threads);
  const runtime = info();
  console.log(`newton-cnn ${runtime.version}: data loader, CIFAR-sized crop-flip batches (3×32×32, pad 4, flip, normalise), batch ${batch}`);
  console.log(`${getNumThreads()} threads, ${n} images, load average ${fmt(loadAverage(), 2)}`);
  const ds = cifarLike(n);
  const augment = { crop: { size: 32, padding: 4 }, flip: true, normalize: { mean: CIFAR_MEAN, std: CIFAR_STD } };
  const loader = new DataLoader(ds, { batchSize: batch, seed: 1, augment });

  // 1. native assembly on this thread: the rate the core's pool reaches
  const order = loader.order(0);
  const syncRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let b = 0; b < loader.batchesPerEpoch; b++) {
      const lb = loader.batchSync(r, order, b);
      lb.x.dispose();
      lb.y.dispose();
    }
    syncRates.push(n / ((performance.now() - t0) / 1000));
  }
  const syncRate = median(syncRates);

  // 2. async epochs through the prefetching iterator
  const asyncRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for await (const lb of loader.epoch(r)) {
      lb.x.dispose();
      lb.y.dispose();
    }
    asyncRates.push(n / ((performance.now() - t0) / 1000));
  }
  const asyncRate = median(asyncRates);

  // 3. a training run: the wait for data per step
  const trainImages = quick ? 1024 : 4096;
  const model = cnn3([3, 32, 32], 10, { seed: 0 });
  const trainSet = createDataset({ name: 'cifar-like', images: ds.images.subarray(0, trainImages * 3072), labels: ds.labels.subarray(0, trainImages), shape: [3, 32, 32], classes: 10 });
  const result = await trainSgd(model, trainSet, { epochs: 1, batchSize: batch, seed: 0, loss: crossEntropyLoss, evaluateEvery: 'never', augment, sgd: { learningRate: 0.001 } });
  model.dispose();
  const steps = result.iterations;
  const waitMs = (1000 * (result.dataWaitSeconds ?? 0)) / steps;
  const stepMs = (1000 * result.seconds) / steps;

  console.log(`\nnative assembly (augmentBatch, ${threads} threads): ${fmt(syncRate, 0)} images/s (median of ${repeats} epochs; target ≥ ${TARGET_IMAGES_PER_SECOND}: ${syncRate >= TARGET_IMAGES_PER_SECOND ? 'met' : 'NOT met'})`);
  console.log(`loader epochs (async, prefetch 2, tensors made): ${fmt(asyncRate, 0)} images/s`);
  console.log(`trainSgd cnn3 + crop-flip: ${steps} steps, ${fmt(stepMs, 2)} ms/step, waiting for data ${fmt(waitMs, 3)} ms/step (${fmt((100 * waitMs) / stepMs, 2)}% of the step)`);
  const json = opts.get('--json');
  if (typeof json === 'string') {
    writeJson(json, { suite: 'data', machine: machineInfo(), runtime, threads, images: n, batch, syncImagesPerSecond: syncRate, asyncImagesPerSecond: asyncRate, train: { steps, stepMs, waitMs } });
  }
  setNumThreads(previousThreads);
  return 0;
}

export const suite: BenchSuite = {
  name: 'data',
  description: 'Data loader: CIFAR crop-flip batches images/s on 2 threads (target ≥ 50,000) and the wait for data per trainSgd step (≈ 0)',
  usage: [
    '  --threads N  core threads (default 2)',
    '  --images N   images in the synthetic CIFAR-sized set (default 10000; --quick: 2048)',
    '  --batch N    batch size (default 128)',
    '  --repeats N  epochs timed per measurement (default 5; --quick: 2)',
    '  --quick      a short smoke run',
    '  --json FILE  write the figures as JSON',
  ].join('\n'),
  run,
};
