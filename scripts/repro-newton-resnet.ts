// scripts/repro-newton-resnet: Tables 1, 2, 4, 5, 6, 7 and Figure 3 of "Newton Residual Learning"
// (ICLR 2020 submission; /work/shared/papers/newton-resnet.txt), through the shared harness
// (scripts/repro/harness.ts).
//
//   Table 1    CIFAR-10: ResNet-18 [2,2,2,2] vs Newton-ResNet [2,2,1,1], ResNet-34 [3,4,6,3] vs
//              Newton-ResNet [3,3,2,2]; # blocks, # parameters, test accuracy.
//   Figure 3   the test accuracy per epoch of Table 1's ResNet-18 and Newton-ResNet [2,2,1,1].
//   Table 2    CIFAR-10 with every activation removed: ResNet-18 vs Newton-ResNet [1,1,1,1],
//              [2,2,2,2], [3,3,3,3] (lib/nn/resnet.ts options.linear, lib/nn/newton-resnet.ts
//              options.linear: φ and φ2 the identity, one 1×1 conv per block).
//   Table 4    CIFAR-100: ResNet-34 vs Newton-ResNet [3,4,3,2].
//   Table 5    CIFAR-100 with every activation removed: as Table 2.
//   Table 6    ImageNet: ResNet-50, Newton-ResNet-50 (bottleneck blocks [3,4,6,3], tanh on the
//              second-order term as §4.4), ResNet-101; top-1/top-5 error, inference speed, size.
//   Table 7    ImageNet without "relu": ResNet-50 vs Newton-ResNet-50.
//
// Training (§4.1, "all the optimization-related hyper-parameters … remain the same as in the
// original ResNet"): SGD, batch 128, momentum 0.9, weight decay 1e-4 (He et al. 2016's CIFAR
// setting; the paper states no value for CIFAR), learning rate 0.1 multiplied by 0.1 at epochs
// 40, 60, 80, 100 of 120 (at the same fractions of the run in shorter modes), lib/data's
// 'crop-flip' augmentation (pad 4, random crop, horizontal flip), cross-entropy, He init. The
// weight decay is the objective's θ/(C·l) term with C = 1/(1e-4·l). ImageNet (§4.4): batch 1024
// with learning rate 0.4 — here batch 256 with 0.1 by the paper's linear scaling rule — decayed
// ×0.1 at epochs 30, 60, 80 of 90 after a 5-epoch linear warm-up, momentum 0.9, weight decay
// 1e-4, random resized crops of 5–100% of the area and aspect ratio 3/4–4/3 with flips; the
// validation images resized to 256 and centre-cropped to 224.
//
// The test accuracy is measured after every epoch by our own loop (trainSgd one epoch at a time,
// resumed bit for bit), in inference mode with the batch-norm running statistics as the paper's
// evaluation. Early in a short run those statistics lag the weights, and a deep Newton-ResNet's
// second-order products can then overflow to non-finite outputs: such images count as wrong,
// and the count is recorded (runs.json: nonFinite), not treated as divergence. A run whose
// training loss or θ becomes non-finite is recorded as diverged.
//
// Data: --data is CIFAR-10 and --cifar100 CIFAR-100 (directories of the binary files); without
// them both default to the bundled Fashion-MNIST subset zero-padded to 32×32, a SUBSTITUTE with 10
// classes, labelled so in every output. On the substitute Tables 4/5 and 1/2 train the same
// networks on the same data, so their common rows are the same runs, reused and said so.
// --imagenet DIR is an image folder (DIR/train with one folder per class, DIR/val); without it
// --quick and --reduced run Tables 6 and 7 as a SMOKE TEST on a generated folder of random-noise
// PNGs in 1,000 class folders (the ImageNet stem, 1,000 classes, the random-resized-crop and
// centre-crop paths), and --full leaves them out with a note.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createDataset, gatherBatchAsync, IMAGENET_STATS, normalizeImageFolder, openImageFolder, subset, type AnyDataset, type AugmentOptions, type AugmentPreset } from '../lib/data';
import { native } from '../lib/native';
import { crossEntropyLoss } from '../lib/nn/losses';
import type { Network } from '../lib/nn/network';
import { newtonResnet, newtonResnetByName } from '../lib/nn/newton-resnet';
import { resnet } from '../lib/nn/resnet';
import { DivergenceError, trainSgd } from '../lib/train';
import type { TrainState } from '../lib/train';
import type { LinePlotOptions } from '../lib/plot';
import type { Tensor } from '../lib/tensor';
import { cifarLikeData, evenlySpaced, SUBSTITUTES } from './repro/cifar-data';
import { ASSUMED_GPU_TFLOPS, fullRunEstimate } from './repro/full-estimate';
import { loadSharp, milestoneSteps, scoreOutputs, writeSmokeFolder } from './repro/newton-resnet';
import {
  comparisonTable,
  durationText,
  extraInteger,
  extraNumber,
  fmt,
  fmtMeanStd,
  machineLine,
  markdownTable,
  meanStd,
  parseReproOptions,
  progress,
  runScript,
  usage,
  UsageError,
  writeFigure,
  writeOutput,
  writeRunsJson,
  type ComparisonRow,
  type ExtraOption,
  type MeanStd,
  type ReproMode,
  type ReproOptions,
} from './repro/harness';

const SCRIPT = 'repro-newton-resnet';
const PAPER = 'newton-resnet';
const PAPER_WIDTH = 64;
const WEIGHT_DECAY = 1e-4;
const MOMENTUM = 0.9;
/** The paper's data sizes, for the --full estimate. */
const CIFAR_TRAIN = 50_000;
const CIFAR_TEST = 10_000;
const IMAGENET_TRAIN = 1_281_167;
const IMAGENET_VAL = 50_000;

type TableId = 1 | 2 | 4 | 5 | 6 | 7;
const TABLE_IDS: readonly TableId[] = [1, 2, 4, 5, 6, 7];
type DataKind = 'cifar10' | 'cifar100' | 'imagenet';

// --- plans ---------------------------------------------------------------------------------------

interface CifarPlan {
  /** Channels of the first stage (the paper's 64). */
  width: number;
  /** Training / test images, evenly spaced (undefined: all). */
  trainLimit: number | undefined;
  testLimit: number | undefined;
  epochs: number;
  batch: number;
  runs: number;
  lr: number;
  /** Test accuracy after every epoch for every network ('all') or only Figure 3's ('figure3'; the rest at the end). */
  curves: 'all' | 'figure3';
}

interface ImagenetPlan {
  width: number;
  /** Image size (224 in the paper). */
  size: number;
  trainLimit: number | undefined;
  testLimit: number | undefined;
  epochs: number;
  batch: number;
  /** Linear warm-up, in epochs (5 in the paper). */
  warmupEpochs: number;
  /** Evaluate every epoch (full) or only at the end. */
  curves: boolean;
}

interface Plan {
  cifar: CifarPlan;
  imagenet: ImagenetPlan;
  tables: TableId[];
}

const PLANS: Record<ReproMode, Plan> = {
  quick: {
    cifar: { width: 4, trainLimit: 256, testLimit: 256, epochs: 2, batch: 128, runs: 1, lr: 0.1, curves: 'all' },
    imagenet: { width: 4, size: 64, trainLimit: 64, testLimit: 32, epochs: 1, batch: 32, warmupEpochs: 0, curves: false },
    tables: [...TABLE_IDS],
  },
  reduced: {
    cifar: { width: 8, trainLimit: 4000, testLimit: 2000, epochs: 8, batch: 128, runs: 1, lr: 0.1, curves: 'figure3' },
    imagenet: { width: 16, size: 64, trainLimit: 256, testLimit: 256, epochs: 1, batch: 64, warmupEpochs: 0, curves: false },
    tables: [...TABLE_IDS],
  },
  full: {
    cifar: { width: PAPER_WIDTH, trainLimit: undefined, testLimit: undefined, epochs: 120, batch: 128, runs: 5, lr: 0.1, curves: 'all' },
    imagenet: { width: PAPER_WIDTH, size: 224, trainLimit: undefined, testLimit: undefined, epochs: 90, batch: 256, warmupEpochs: 5, curves: true },
    tables: [...TABLE_IDS],
  },
};

const MODE_TEXT: Record<ReproMode, string> = {
  quick: 'width 4, 256 training / 256 test images, 2 epochs, 1 run; Tables 6/7 a smoke test on 64 random-noise 64×64 images of 1,000 classes (about 1 min)',
  reduced: 'width 8, 4,000 training / 2,000 test images, 8 epochs (250 steps; the schedule compressed), 1 run; Tables 6/7 a smoke test unless --imagenet (about 20 min on 2 idle cores)',
  full: 'width 64, all images, 120 epochs, 5 runs; ImageNet (--imagenet DIR) 90 epochs at 224×224, 1 run (GPU-days: results.md estimates it)',
};

const EXTRAS: readonly ExtraOption[] = [
  { name: 'cifar100', value: 'NAME|PATH', help: 'CIFAR-100 binary directory for Tables 4/5 (default: the bundled Fashion-MNIST substitute, 10 classes)' },
  { name: 'imagenet', value: 'DIR', help: 'ImageNet image folder (DIR/train/<class>/…, DIR/val) for Tables 6/7 (default: --quick/--reduced a smoke test, --full leaves them out)' },
  { name: 'val-labels', value: 'FILE', help: "labels of a flat DIR/val (ILSVRC's LOC_val_solution.csv or 'FILE CLASS' lines)" },
  { name: 'tables', value: 'T,T,…', help: 'which of Tables 1,2,4,5,6,7 (Figure 3 comes with Table 1; default all)' },
  { name: 'width', value: 'N', help: 'CIFAR networks: channels of the first stage (paper 64; default: quick 4, reduced 8)' },
  { name: 'epochs', value: 'N', help: 'CIFAR epochs (paper 120; default: quick 2, reduced 8); the learning-rate milestones scale with it' },
  { name: 'train-limit', value: 'N', help: 'CIFAR training images, evenly spaced (default: quick 256, reduced 4000, full all)' },
  { name: 'test-limit', value: 'N', help: 'CIFAR test images, evenly spaced (default: quick 256, reduced 2000, full all)' },
  { name: 'lr', value: 'X', help: 'CIFAR initial learning rate (paper 0.1)' },
  { name: 'imagenet-width', value: 'N', help: 'ImageNet networks: channels of the first stage (paper 64; default: quick 4, reduced 16)' },
  { name: 'imagenet-size', value: 'N', help: 'ImageNet image size (paper 224; default: quick/reduced 64)' },
  { name: 'imagenet-epochs', value: 'N', help: 'ImageNet epochs (paper 90; default: quick/reduced 1)' },
  { name: 'imagenet-batch', value: 'N', help: 'ImageNet batch size; the learning rate is 0.1·N/256 (paper 1024 with 0.4; default: full 256, quick 32, reduced 64)' },
  { name: 'imagenet-train-limit', value: 'N', help: 'ImageNet training images, evenly spaced (default: quick 64, reduced 256, full all)' },
  { name: 'imagenet-test-limit', value: 'N', help: 'ImageNet validation images, evenly spaced (default: quick 32, reduced 256, full all)' },
  { name: 'device', value: 'NAME', help: 'cpu (default) | cuda | cuda:N' },
];

const DESCRIPTION = [
  'Reproduces Tables 1, 2, 4–7 and Figure 3 of "Newton Residual Learning" (ICLR 2020 submission):',
  'ResNets vs Newton-ResNets on CIFAR-10/100 with and without activations, and on ImageNet. Writes',
  'results.md, figure3.svg and runs.json to --out.',
  '',
  '--data: CIFAR-10 (a CIFAR-10 binary directory; default fashion-mnist-small, the bundled',
  'Fashion-MNIST subset zero-padded to 32×32, a SUBSTITUTE labelled so in every output).',
].join('\n');

const USAGE = usage(SCRIPT, DESCRIPTION, EXTRAS, MODE_TEXT);

function parseTables(o: ReproOptions): TableId[] | undefined {
  const v = o.extra.get('tables');
  if (v === undefined) return undefined;
  if (v === true || v.trim() === '') throw new UsageError('--tables needs a comma-separated list of 1, 2, 4, 5, 6, 7');
  const out = new Set<TableId>();
  for (const s of v.split(',')) {
    const n = Number(s.trim());
    if (!(TABLE_IDS as readonly number[]).includes(n)) throw new UsageError(`--tables: '${s.trim()}' is not one of ${TABLE_IDS.join(', ')} (Table 3 is the paper's Algorithm 1; Figure 3 comes with Table 1)`);
    out.add(n as TableId);
  }
  return TABLE_IDS.filter((t) => out.has(t));
}

function planFor(o: ReproOptions): Plan {
  const base = PLANS[o.mode];
  const cifar: CifarPlan = { ...base.cifar };
  const imagenet: ImagenetPlan = { ...base.imagenet };
  if (o.runs !== undefined) cifar.runs = o.runs;
  cifar.width = extraInteger(o, 'width') ?? cifar.width;
  cifar.epochs = extraInteger(o, 'epochs') ?? cifar.epochs;
  cifar.trainLimit = extraInteger(o, 'train-limit') ?? cifar.trainLimit;
  cifar.testLimit = extraInteger(o, 'test-limit') ?? cifar.testLimit;
  cifar.lr = extraNumber(o, 'lr') ?? cifar.lr;
  imagenet.width = extraInteger(o, 'imagenet-width') ?? imagenet.width;
  imagenet.size = extraInteger(o, 'imagenet-size') ?? imagenet.size;
  imagenet.epochs = extraInteger(o, 'imagenet-epochs') ?? imagenet.epochs;
  imagenet.batch = extraInteger(o, 'imagenet-batch') ?? imagenet.batch;
  imagenet.trainLimit = extraInteger(o, 'imagenet-train-limit') ?? imagenet.trainLimit;
  imagenet.testLimit = extraInteger(o, 'imagenet-test-limit') ?? imagenet.testLimit;
  if (imagenet.size < 32) throw new UsageError(`--imagenet-size must be at least 32 (the ImageNet stem and four stages divide it by 32), got ${imagenet.size}`);
  const device = o.extra.get('device');
  if (device !== undefined && (device === true || !/^(cpu|cuda(:\d+)?)$/.test(device))) throw new UsageError(`--device must be cpu, cuda or cuda:N, got '${device === true ? '' : device}'`);
  return { cifar, imagenet, tables: parseTables(o) ?? [...base.tables] };
}

// --- networks --------------------------------------------------------------------------------------

interface BuildOptions {
  width: number;
  seed: number;
  device: string;
}

/** A network of a table row: the paper's name, its blocks per stage, and how to build it. */
interface NetSpec {
  /** Unique key (runs are cached by data, key and seed). */
  readonly key: string;
  /** The paper's name of the row. */
  readonly name: string;
  readonly blocks: readonly number[];
  readonly linear: boolean;
  build(shape: readonly [number, number, number], classes: number, o: BuildOptions): Network;
}

function resnetSpec(depth: 18 | 34 | 50 | 101, blocks: number[], linear: boolean, stem: 'cifar' | 'imagenet'): NetSpec {
  return {
    key: `resnet${depth}${linear ? '-linear' : ''}-${stem}`,
    name: `ResNet${depth}`,
    blocks,
    linear,
    build: (shape, classes, o) => resnet(depth, shape, classes, { stem, width: o.width, linear, seed: o.seed, device: o.device }),
  };
}

function newtonSpec(blocks: number[], linear: boolean, preset?: 'newton-resnet18' | 'newton-resnet34'): NetSpec {
  return {
    key: `newton-${blocks.join('')}${linear ? '-linear' : ''}-cifar`,
    name: 'Newton-ResNet',
    blocks,
    linear,
    build: (shape, classes, o) =>
      preset !== undefined
        ? newtonResnetByName(preset, shape, classes, { width: o.width, seed: o.seed, device: o.device })!
        : newtonResnet(shape, classes, { blocks, linear, stem: 'cifar', width: o.width, seed: o.seed, device: o.device }),
  };
}

/** Newton-ResNet-50: bottleneck blocks [3,4,6,3]; with ReLU, φ2 = tanh on the second-order term (§4.4); linear: no activation at all. */
function newton50Spec(linear: boolean): NetSpec {
  return {
    key: `newton-resnet50${linear ? '-linear' : ''}`,
    name: 'Newton-ResNet50',
    blocks: [3, 4, 6, 3],
    linear,
    build: (shape, classes, o) =>
      linear
        ? newtonResnet(shape, classes, { blocks: [3, 4, 6, 3], bottleneck: true, linear: true, width: o.width, seed: o.seed, device: o.device, name: 'newton-resnet50-linear' })
        : newtonResnetByName('newton-resnet50', shape, classes, { secondOrderActivation: 'tanh', width: o.width, seed: o.seed, device: o.device })!,
  };
}

// --- the paper's tables ------------------------------------------------------------------------------

/** What the paper reports for a row (the text is OCR'd from the PDF: a '?' marks a digit it garbled). */
interface PaperRow {
  /** # params (M). */
  params?: number;
  /** Accuracy mean and its ± as printed. */
  accuracy?: number;
  accuracyStd?: string;
  top1?: number;
  top5?: number;
  speed?: string;
  size?: string;
}

interface TableRow {
  readonly net: NetSpec;
  readonly paper: PaperRow;
}

interface TableDef {
  readonly id: TableId;
  readonly data: DataKind;
  readonly title: string;
  readonly rows: readonly TableRow[];
}

const R18 = resnetSpec(18, [2, 2, 2, 2], false, 'cifar');
const R34 = resnetSpec(34, [3, 4, 6, 3], false, 'cifar');
const N2211 = newtonSpec([2, 2, 1, 1], false, 'newton-resnet18');
const N3322 = newtonSpec([3, 3, 2, 2], false, 'newton-resnet34');
const R18_LIN = resnetSpec(18, [2, 2, 2, 2], true, 'cifar');
const N1111_LIN = newtonSpec([1, 1, 1, 1], true);
const N2222_LIN = newtonSpec([2, 2, 2, 2], true);
const N3333_LIN = newtonSpec([3, 3, 3, 3], true);
const N3432 = newtonSpec([3, 4, 3, 2], false);
const R50 = resnetSpec(50, [3, 4, 6, 3], false, 'imagenet');
const R101 = resnetSpec(101, [3, 4, 23, 3], false, 'imagenet');
const N50 = newton50Spec(false);
const R50_LIN = resnetSpec(50, [3, 4, 6, 3], true, 'imagenet');
const N50_LIN = newton50Spec(true);

const TABLES: readonly TableDef[] = [
  {
    id: 1,
    data: 'cifar10',
    title: 'CIFAR-10 classification with ResNet',
    rows: [
      { net: R18, paper: { params: 11.2, accuracy: 0.945, accuracyStd: '0.000' } },
      { net: N2211, paper: { params: 6.0, accuracy: 0.945, accuracyStd: '0.001' } },
      { net: R34, paper: { params: 21.3, accuracy: 0.948, accuracyStd: '0.00?' } },
      { net: N3322, paper: { params: 13.0, accuracy: 0.949, accuracyStd: '0.002' } },
    ],
  },
  {
    id: 2,
    data: 'cifar10',
    title: 'CIFAR-10 classification, every activation removed',
    rows: [
      { net: R18_LIN, paper: { params: 11.2, accuracy: 0.391, accuracyStd: '0.001' } },
      { net: N1111_LIN, paper: { params: 5.3, accuracy: 0.876, accuracyStd: '0.001' } },
      { net: N2222_LIN, paper: { params: 11.9, accuracy: 0.908, accuracyStd: '0.002' } },
      { net: N3333_LIN, paper: { params: 18.5, accuracy: 0.916, accuracyStd: '0.00?' } },
    ],
  },
  {
    id: 4,
    data: 'cifar100',
    title: 'CIFAR-100 classification with ResNet',
    rows: [
      { net: R34, paper: { params: 21.3, accuracy: 0.769, accuracyStd: '0.003' } },
      { net: N3432, paper: { params: 14.7, accuracy: 0.769, accuracyStd: '0.001' } },
    ],
  },
  {
    id: 5,
    data: 'cifar100',
    title: 'CIFAR-100 classification, every activation removed',
    rows: [
      { net: R18_LIN, paper: { params: 11.2, accuracy: 0.168, accuracyStd: '0.001' } },
      { net: N1111_LIN, paper: { params: 5.3, accuracy: 0.62, accuracyStd: '0.001' } },
      { net: N2222_LIN, paper: { params: 11.9, accuracy: 0.67, accuracyStd: '0.002' } },
      { net: N3333_LIN, paper: { params: 18.5, accuracy: 0.689, accuracyStd: '0.00?' } },
    ],
  },
  {
    id: 6,
    data: 'imagenet',
    title: 'ImageNet classification with ResNet',
    rows: [
      { net: R50, paper: { top1: 23.57, top5: 6.838, speed: '8.5K', size: '50.26 MB' } },
      { net: N50, paper: { top1: 22.875, top5: 6.358, speed: '7.5K', size: '68.81 MB' } },
      { net: R101, paper: { top1: 22.208, top5: 6.068, speed: '6.2K', size: '87.67 MB' } },
    ],
  },
  {
    id: 7,
    data: 'imagenet',
    title: 'ImageNet classification without "relu"',
    rows: [
      { net: R50_LIN, paper: { top1: 85.124, top5: 71.562 } },
      { net: N50_LIN, paper: { top1: 27.292, top5: 9.114 } },
    ],
  },
];

// --- data --------------------------------------------------------------------------------------------

interface TableData {
  readonly kind: DataKind;
  readonly train: AnyDataset;
  readonly test: AnyDataset;
  /** Cache key of the data (runs on equal keys are the same runs). */
  readonly key: string;
  /** One line: what the data are. */
  readonly label: string;
  /** A short label for the tables' mode column. */
  readonly short: string;
  readonly substitute: boolean;
  /** Tables 6/7 on generated images. */
  readonly smoke: boolean;
  readonly shape: readonly [number, number, number];
  readonly classes: number;
}

async function loadCifar(spec: string | undefined, kind: 'cifar10' | 'cifar100', plan: CifarPlan): Promise<TableData> {
  const paperData = kind === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100';
  const d = await cifarLikeData(spec, { paperData, trainLimit: plan.trainLimit, testLimit: plan.testLimit });
  const name = spec ?? SUBSTITUTES[0];
  const short = d.substitute
    ? `SUBSTITUTE for ${paperData}: ${name === 'fashion-mnist-small' ? 'bundled Fashion-MNIST subset' : 'Fashion-MNIST'}, ${d.train.classes} classes`
    : `${path.basename(path.resolve(name))} (${paperData})`;
  return {
    kind,
    train: d.train,
    test: d.test,
    key: `${d.substitute ? name : path.resolve(name)}|${d.train.length}|${d.test.length}`,
    label: d.label,
    short,
    substitute: d.substitute,
    smoke: false,
    shape: d.train.shape,
    classes: d.train.classes,
  };
}

async function loadImagenet(dir: string | undefined, valLabels: string | undefined, plan: ImagenetPlan, seed: number, scratch: string): Promise<TableData> {
  const codecs = native().imageCodecs();
  const sharp = loadSharp();
  if (dir === undefined && (codecs.png.library === null || sharp === null)) {
    // no PNG decoder in this build, or no sharp to write the files: the networks and the table from in-memory noise images
    const make = (n: number, salt: number): AnyDataset => {
      let s = (seed + salt) >>> 0;
      const images = Float32Array.from({ length: n * 3 * plan.size * plan.size }, () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return s / 2 ** 31 - 1;
      });
      return createDataset({ name: 'noise', images, labels: Int32Array.from({ length: n }, (_, i) => (i * 337 + salt) % 1000), shape: [3, plan.size, plan.size], classes: 1000 });
    };
    const n = plan.trainLimit ?? 64;
    const m = plan.testLimit ?? 32;
    return {
      kind: 'imagenet',
      train: make(n, 1),
      test: make(m, 2),
      key: 'noise',
      label: `SMOKE TEST, not ImageNet: ${n} training / ${m} test images of uniform noise, ${plan.size}×${plan.size}, random labels of 1,000 classes, held in memory (${codecs.png.library === null ? `this build decodes no PNG: ${codecs.png.reason}` : 'the optional package sharp, which writes the PNG folder, is not installed'})`,
      short: 'SMOKE TEST: noise images, not ImageNet',
      substitute: true,
      smoke: true,
      shape: [3, plan.size, plan.size],
      classes: 1000,
    };
  }
  let trainDir: string;
  let valDir: string;
  let labels = valLabels;
  if (dir === undefined) {
    const w = await writeSmokeFolder(sharp as NonNullable<typeof sharp>, scratch, plan.testLimit ?? 32, seed);
    trainDir = w.train;
    valDir = w.val;
    labels = w.labels;
  } else {
    trainDir = path.join(dir, 'train');
    const found = ['val', 'test'].map((d) => path.join(dir, d)).find((d) => fs.existsSync(d) && fs.statSync(d).isDirectory());
    if (!fs.existsSync(trainDir) || found === undefined) throw new UsageError(`--imagenet ${dir}: an image folder holds train/ (one folder of JPEG/PNG files per class) and val/ (or test/)`);
    valDir = found;
  }
  let train: AnyDataset;
  let test: AnyDataset;
  try {
    const tr = await openImageFolder(trainDir, { size: plan.size, name: 'train' });
    const va = await openImageFolder(valDir, { size: plan.size, classNames: tr.classNames, name: 'val', ...(labels !== undefined ? { labels } : {}) });
    train = normalizeImageFolder(subset(tr, evenlySpaced(tr.length, plan.trainLimit)), IMAGENET_STATS);
    test = normalizeImageFolder(subset(va, evenlySpaced(va.length, plan.testLimit)), IMAGENET_STATS);
  } catch (e) {
    if (dir === undefined) throw e;
    throw new UsageError(`--imagenet ${dir}: ${(e as Error).message}`);
  }
  const counts = `${train.length.toLocaleString('en-US')} training / ${test.length.toLocaleString('en-US')} validation images at ${plan.size}×${plan.size}, ${train.classes.toLocaleString('en-US')} classes`;
  if (dir === undefined) {
    return {
      kind: 'imagenet',
      train,
      test,
      key: 'smoke-folder',
      label: `SMOKE TEST, not ImageNet: a generated image folder of random-noise 80×80 PNGs (1,000 class folders of one image each; a flat val/ with a label file), ${counts}; the numbers mean nothing, the run checks the code path of the ImageNet tables`,
      short: 'SMOKE TEST: noise images, not ImageNet',
      substitute: true,
      smoke: true,
      shape: train.shape,
      classes: train.classes,
    };
  }
  return {
    kind: 'imagenet',
    train,
    test,
    key: `${path.resolve(dir)}|${train.length}|${test.length}|${plan.size}`,
    label: `${path.basename(path.resolve(dir))} (--imagenet), ${counts}; normalised with ImageNet's channel mean and std`,
    short: `${path.basename(path.resolve(dir))} (ImageNet)`,
    substitute: false,
    smoke: false,
    shape: train.shape,
    classes: train.classes,
  };
}

// --- training and evaluation -----------------------------------------------------------------------

/** One evaluation on the test set, in inference mode. */
interface Evaluation {
  top1: number;
  top5: number;
  /** Images whose outputs were not all finite (counted as wrong). */
  nonFinite: number;
  images: number;
  /** Seconds in the forward passes alone (inference speed). */
  forwardSeconds: number;
}

/**
 * Top-1/top-5 accuracy on `ds` in inference mode (batch norm with its running statistics), or,
 * with `batchStatistics`, normalising each test batch by its own statistics (a diagnostic).
 */
async function evaluate(net: Network, ds: AnyDataset, batchSize: number, batchStatistics = false): Promise<Evaluation> {
  const order = Int32Array.from({ length: ds.length }, (_, i) => i);
  let top1 = 0;
  let top5 = 0;
  let nonFinite = 0;
  let images = 0;
  let forwardSeconds = 0;
  const k = ds.classes;
  for (let start = 0; start < ds.length; start += batchSize) {
    const b = await gatherBatchAsync(ds, order, start, Math.min(ds.length, start + batchSize), { dtype: net.dtype, device: net.device });
    try {
      const t0 = performance.now();
      let z: Tensor;
      if (batchStatistics) {
        z = net.forward(b.x, { batchStatistics: true, updateStatistics: false });
        net.releaseCache();
      } else {
        z = net.predict(b.x);
      }
      const v = z.toArray(); // also waits for a GPU's queue
      forwardSeconds += (performance.now() - t0) / 1000;
      z.dispose();
      const c = scoreOutputs(v, b.labels, k);
      top1 += c.top1;
      top5 += c.top5;
      nonFinite += c.nonFinite;
      images += b.labels.length;
    } finally {
      b.x.dispose();
      b.y.dispose();
    }
  }
  return { top1: top1 / images, top5: top5 / images, nonFinite, images, forwardSeconds };
}

/** One training run of one network on one data set. */
interface RunRecord {
  key: string;
  data: string;
  net: string;
  name: string;
  blocks: readonly number[];
  linear: boolean;
  seed: number;
  width: number;
  parameters: number;
  /** Test accuracy (top-1) after each evaluated epoch (1-based epochs). */
  curve: { epoch: number; top1: number; top5: number; nonFinite: number; trainLoss: number }[];
  /** The final evaluation (absent when the run diverged). */
  final?: Evaluation;
  /** Where the final evaluation had non-finite outputs: the same with each test batch's own batch-norm statistics. */
  finalBatchStatistics?: Evaluation;
  diverged?: { epoch: number; message: string };
  seconds: number;
  trainImagesPerSecond: number;
  inferenceImagesPerSecond: number;
}

interface TrainSettings {
  epochs: number;
  batch: number;
  lr: number;
  /** Milestones as fractions of the run. */
  milestones: readonly number[];
  warmupEpochs: number;
  augment: AugmentOptions | AugmentPreset;
  evaluateEvery: boolean;
  evalBatch: number;
}

async function trainRun(spec: NetSpec, data: TableData, width: number, seed: number, device: string, s: TrainSettings, log: (m: string) => void): Promise<RunRecord> {
  const net = spec.build(data.shape, data.classes, { width, seed, device });
  const l = data.train.length;
  const batches = Math.ceil(l / s.batch);
  const steps = s.epochs * batches;
  const sgd = {
    learningRate: s.lr,
    momentum: MOMENTUM,
    C: 1 / (WEIGHT_DECAY * l), // θ/(C·l) = 1e-4·θ: the weight decay
    weightDecay: 0,
    schedule: { kind: 'multistep' as const, milestones: milestoneSteps(s.milestones, steps), factor: 0.1 },
    warmup: Math.round(s.warmupEpochs * batches),
  };
  const rec: RunRecord = {
    key: `${data.key}|${spec.key}|${seed}`,
    data: data.short,
    net: spec.key,
    name: spec.name,
    blocks: spec.blocks,
    linear: spec.linear,
    seed,
    width,
    parameters: net.numParameters,
    curve: [],
    seconds: 0,
    trainImagesPerSecond: NaN,
    inferenceImagesPerSecond: NaN,
  };
  const t0 = performance.now();
  let trainSeconds = 0;
  let state: TrainState | undefined;
  try {
    for (let e = 0; e < s.epochs; e++) {
      const r = await trainSgd(net, data.train, {
        epochs: e + 1,
        batchSize: s.batch,
        seed,
        loss: crossEntropyLoss,
        sgd,
        augment: s.augment,
        evaluateEvery: 'never',
        ...(state !== undefined ? { resume: state } : {}),
      });
      state = r.state;
      trainSeconds += r.seconds;
      const last = e === s.epochs - 1;
      if (s.evaluateEvery || last) {
        const ev = await evaluate(net, data.test, s.evalBatch);
        rec.curve.push({ epoch: e + 1, top1: ev.top1, top5: ev.top5, nonFinite: ev.nonFinite, trainLoss: r.history[r.history.length - 1]?.trainLossRunning ?? NaN });
        if (last) {
          rec.final = ev;
          if (ev.nonFinite > 0) rec.finalBatchStatistics = await evaluate(net, data.test, s.evalBatch, true);
        }
        log(`${spec.name} [${spec.blocks.join(',')}]${spec.linear ? ' linear' : ''} seed ${seed}: epoch ${e + 1}/${s.epochs} test top-1 ${fmt(ev.top1, 3)}${ev.nonFinite > 0 ? ` (${ev.nonFinite} images with non-finite outputs)` : ''}`);
      }
    }
  } catch (e) {
    if (!(e instanceof DivergenceError)) throw e;
    rec.diverged = { epoch: (state?.epoch ?? 0) + 1, message: e.message };
    log(`${spec.name} [${spec.blocks.join(',')}]${spec.linear ? ' linear' : ''} seed ${seed}: DIVERGED in epoch ${rec.diverged.epoch}: ${e.message.split(':').slice(0, 3).join(':')}`);
  } finally {
    net.dispose();
  }
  rec.seconds = (performance.now() - t0) / 1000;
  rec.trainImagesPerSecond = (l * (rec.diverged === undefined ? s.epochs : Math.max(0, rec.diverged.epoch - 1))) / trainSeconds;
  if (rec.final !== undefined) rec.inferenceImagesPerSecond = rec.final.images / rec.final.forwardSeconds;
  return rec;
}

// --- statistics of a row -----------------------------------------------------------------------------

interface RowResult {
  row: TableRow;
  runs: RunRecord[];
  /** Top-1 and top-5 accuracy over the runs that did not diverge. */
  top1: MeanStd;
  top5: MeanStd;
  diverged: number;
  /** # parameters at the paper's width for the paper's data (10/100/1000 classes). */
  paperWidthParams: number;
  /** # parameters of the networks trained. */
  trainedParams: number;
  /** Reused from another table (the same network on the same data). */
  reusedFrom?: TableId;
  estimateHours: number;
  inferenceSpeed: MeanStd;
}

/** Test images with non-finite outputs in the final evaluations of a row's runs, and all its test images. */
function nonFiniteOf(r: RowResult): { bad: number; images: number } {
  const ok = r.runs.filter((x) => x.final !== undefined);
  return { bad: ok.reduce((a, x) => a + x.final!.nonFinite, 0), images: ok.reduce((a, x) => a + x.final!.images, 0) };
}

function accuracyText(r: RowResult, top5 = false): string {
  const s = top5 ? r.top5 : r.top1;
  const runs = r.runs.length;
  const d = r.diverged > 0 ? ` — ${r.diverged}/${runs} diverged` : '';
  const nf = nonFiniteOf(r);
  const bs = meanStd(r.runs.filter((x) => x.finalBatchStatistics !== undefined).map((x) => (top5 ? x.finalBatchStatistics!.top5 : x.finalBatchStatistics!.top1)));
  const overflow = nf.bad > 0 ? `; ${nf.bad} of ${nf.images} test images gave non-finite outputs † (with batch statistics: ${fmt(bs.mean, 3)})` : '';
  return s.n === 0 ? `diverged (${r.diverged}/${runs})` : `${fmtMeanStd(s)}${d}${overflow}`;
}

/** The note under a table with a † (inference-mode overflow). */
const OVERFLOW_NOTE =
  "† In inference mode (batch norm with its running statistics, the paper's evaluation) these networks' outputs overflowed to ±∞/NaN on those images, counted as wrong. The running statistics lag the weights early in a short run, and the second-order products of consecutive Newton blocks amplify the mismatch; the accuracy in brackets normalises each test batch by its own statistics instead (a diagnostic, not the paper's evaluation). The paper's runs take 391 steps an epoch, where the statistics have settled.";

/** Two standard errors of the difference of two rows' mean accuracies: the test set's binomial error and the runs' spread. */
function tolerance(a: MeanStd, b: MeanStd, testImages: number): number {
  const v = (s: MeanStd): number => (s.mean * (1 - s.mean)) / testImages + (s.n > 1 ? s.std ** 2 / s.n : 0);
  return 2 * Math.sqrt(v(a) + v(b));
}

// --- main --------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseReproOptions(process.argv.slice(2), PAPER, EXTRAS);
  if (o === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const plan = planFor(o);
  const device = (o.extra.get('device') as string | undefined) ?? 'cpu';
  const log = progress(SCRIPT);
  const start = performance.now();
  const modeLabel = `${o.mode}: ${MODE_TEXT[o.mode]}`;
  const imagenetDir = o.extra.get('imagenet');
  if (imagenetDir === true) throw new UsageError('--imagenet needs a directory');
  const valLabels = o.extra.get('val-labels');
  if (valLabels === true) throw new UsageError('--val-labels needs a file');
  const cifar100Spec = o.extra.get('cifar100');
  if (cifar100Spec === true) throw new UsageError('--cifar100 needs a name or a directory');
  log(`${o.mode} mode: tables ${plan.tables.join(', ')}; ${machineLine()}`);

  const wanted = TABLES.filter((t) => plan.tables.includes(t.id));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'repro-newton-resnet-'));
  const data = new Map<DataKind, TableData>();
  const cache = new Map<string, RunRecord>();
  const runsByTable = new Map<TableId, RowResult[]>();
  let imagenetSkipped = false;
  try {
    if (wanted.some((t) => t.data === 'cifar10')) data.set('cifar10', await loadCifar(o.data, 'cifar10', plan.cifar));
    if (wanted.some((t) => t.data === 'cifar100')) data.set('cifar100', await loadCifar(cifar100Spec, 'cifar100', plan.cifar));
    if (wanted.some((t) => t.data === 'imagenet')) {
      if (imagenetDir === undefined && o.mode === 'full') imagenetSkipped = true;
      else data.set('imagenet', await loadImagenet(imagenetDir, valLabels, plan.imagenet, o.seed, scratch));
    }
    for (const [k, d] of data) log(`${k}: ${d.label}`);

    const firstUse = new Map<string, TableId>();
    for (const table of wanted) {
      const d = data.get(table.data);
      const results: RowResult[] = [];
      const isImagenet = table.data === 'imagenet';
      const runs = isImagenet ? 1 : plan.cifar.runs;
      // the paper's width and data: the parameter count and the --full estimate
      const paperShape: [number, number, number] = isImagenet ? [3, 224, 224] : [3, 32, 32];
      const paperClasses = table.data === 'cifar10' ? 10 : table.data === 'cifar100' ? 100 : 1000;
      for (const row of table.rows) {
        const full = row.net.build(paperShape, paperClasses, { width: PAPER_WIDTH, seed: 0, device: 'cpu' });
        const paperWidthParams = full.numParameters;
        const fullPlan = PLANS.full;
        const epochs = isImagenet ? fullPlan.imagenet.epochs : fullPlan.cifar.epochs;
        const est = fullRunEstimate(full, isImagenet ? { trainImages: IMAGENET_TRAIN * epochs, evalImages: IMAGENET_VAL * epochs } : { trainImages: CIFAR_TRAIN * epochs, evalImages: CIFAR_TEST * epochs });
        full.dispose();
        const result: RowResult = {
          row,
          runs: [],
          top1: meanStd([]),
          top5: meanStd([]),
          diverged: 0,
          paperWidthParams,
          trainedParams: NaN,
          estimateHours: est.hours * (isImagenet ? 1 : fullPlan.cifar.runs),
          inferenceSpeed: meanStd([]),
        };
        if (d !== undefined) {
          const settings: TrainSettings = isImagenet
            ? {
                epochs: plan.imagenet.epochs,
                batch: plan.imagenet.batch,
                lr: (0.1 * plan.imagenet.batch) / 256,
                milestones: [30 / 90, 60 / 90, 80 / 90],
                warmupEpochs: plan.imagenet.warmupEpochs,
                augment: { randomResizedCrop: { scale: [0.05, 1], ratio: [3 / 4, 4 / 3] }, flip: true },
                evaluateEvery: plan.imagenet.curves,
                evalBatch: Math.min(256, plan.imagenet.batch),
              }
            : {
                epochs: plan.cifar.epochs,
                batch: plan.cifar.batch,
                lr: plan.cifar.lr,
                milestones: [40 / 120, 60 / 120, 80 / 120, 100 / 120],
                warmupEpochs: 0,
                augment: 'crop-flip',
                evaluateEvery: plan.cifar.curves === 'all' || (table.id === 1 && (row.net === R18 || row.net === N2211)),
                evalBatch: 256,
              };
          const width = isImagenet ? plan.imagenet.width : plan.cifar.width;
          for (let r = 0; r < runs; r++) {
            const seed = o.seed + r;
            const key = `${d.key}|${row.net.key}|${seed}|${width}|${settings.epochs}|${settings.evaluateEvery}`;
            // a Figure 3 run evaluates every epoch; the same network without curves may reuse it
            const reuseKey = [key, `${d.key}|${row.net.key}|${seed}|${width}|${settings.epochs}|true`].find((k) => cache.has(k));
            let rec: RunRecord;
            if (reuseKey !== undefined) {
              rec = cache.get(reuseKey)!;
              const from = firstUse.get(reuseKey);
              if (from !== undefined && from !== table.id) result.reusedFrom = from;
            } else {
              log(`Table ${table.id}: ${row.net.name} [${row.net.blocks.join(',')}]${row.net.linear ? ' linear' : ''}, run ${r + 1}/${runs} (seed ${seed}, width ${width}, ${d.train.length} images, ${settings.epochs} epoch${settings.epochs === 1 ? '' : 's'})`);
              rec = await trainRun(row.net, d, width, seed, device, settings, log);
              cache.set(key, rec);
              firstUse.set(key, table.id);
              log(`  ${rec.diverged !== undefined ? 'diverged' : `test top-1 ${fmt(rec.final!.top1, 3)}`} in ${fmt(rec.seconds, 3)} s (${fmt(rec.trainImagesPerSecond, 3)} training images/s)`);
            }
            result.runs.push(rec);
          }
          const ok = result.runs.filter((x) => x.final !== undefined);
          result.top1 = meanStd(ok.map((x) => x.final!.top1));
          result.top5 = meanStd(ok.map((x) => x.final!.top5));
          result.diverged = result.runs.length - ok.length;
          result.trainedParams = result.runs[0]?.parameters ?? NaN;
          result.inferenceSpeed = meanStd(ok.map((x) => x.inferenceImagesPerSecond));
        }
        results.push(result);
      }
      runsByTable.set(table.id, results);
    }

    // --- Figure 3 ---------------------------------------------------------------------------------
    const t1 = runsByTable.get(1);
    const figure3 = t1 === undefined ? undefined : curvesOf(t1.find((r) => r.row.net === R18)!, t1.find((r) => r.row.net === N2211)!);
    let figureFile: string | undefined;
    if (figure3 !== undefined) {
      const d = data.get('cifar10')!;
      const panel = (title: string, c: Curve): LinePlotOptions => ({
        title,
        x: { label: 'epoch', values: figure3.epochs },
        yLabel: 'test accuracy',
        series: [{ name: `${title} (mean${c.n > 1 ? ' ± std' : ''} over ${c.n} run${c.n === 1 ? '' : 's'})`, values: c.mean, errors: c.std }],
        width: 360,
        height: 280,
      });
      const both: LinePlotOptions = {
        title: '(a) and (b) on one axis',
        x: { label: 'epoch', values: figure3.epochs },
        yLabel: 'test accuracy',
        series: [
          { name: 'ResNet18', values: figure3.resnet.mean, errors: figure3.resnet.std },
          { name: 'Newton-ResNet', values: figure3.newton.mean, errors: figure3.newton.std },
        ],
        width: 360,
        height: 280,
      };
      figureFile = await writeFigure(o.out, 'figure3.svg', {
        title: `Figure 3 (${o.mode} mode, ${d.substitute ? 'SUBSTITUTE data: Fashion-MNIST' : d.short})`,
        panels: [panel('(a) ResNet18', figure3.resnet), panel('(b) Newton-ResNet [2,2,1,1]', figure3.newton), both],
      });
    }

    // --- results.md -------------------------------------------------------------------------------
    const totalSeconds = (performance.now() - start) / 1000;
    const lines: string[] = [];
    lines.push(`# "Newton Residual Learning" (ICLR 2020 submission): Tables ${wanted.map((t) => t.id).join(', ')}${t1 !== undefined ? ' and Figure 3' : ''} — ${o.mode} mode`, '');
    const warnings: string[] = [];
    for (const d of data.values()) if (d.substitute) warnings.push(`**${d.label}.**`);
    if (o.mode !== 'full') warnings.push(`**${o.mode.toUpperCase()}**: ${MODE_TEXT[o.mode]} — not the paper's settings (see Settings); compare the patterns (which network is ahead, by how much relative to the others), not the absolute numbers.`);
    lines.push(...warnings.flatMap((w) => [w, '']));
    lines.push('## Settings', '');
    const c = plan.cifar;
    const im = plan.imagenet;
    const cifarData = [data.get('cifar10'), data.get('cifar100')].filter((x): x is TableData => x !== undefined);
    const imageData = data.get('imagenet');
    lines.push(
      markdownTable(
        ['', 'paper', `ours (${o.mode})`],
        [
          ['CIFAR data', 'CIFAR-10 / CIFAR-100: 50,000 training, 10,000 test images, 3×32×32', cifarData.map((x) => x.label).join('; ') || '—'],
          ['CIFAR networks', 'ResNet-18/34 and Newton-ResNets, CIFAR stem (conv3×3), widths 64–512', `the same, first-stage width ${c.width}${c.width !== PAPER_WIDTH ? ` (× ${fmt(c.width / PAPER_WIDTH, 3)} of the paper's; # params below at both widths)` : ''}; Newton blocks of lib/nn/newton-resnet.ts (α starts at 1: the paper gives no initial value)`],
          ['CIFAR training', 'SGD, batch 128, lr 0.1 ×0.1 at epochs 40, 60, 80, 100 of 120; other settings "as the original ResNet"', `SGD, batch ${c.batch}, momentum ${MOMENTUM}, weight decay ${WEIGHT_DECAY} (He et al. 2016), lr ${c.lr} ×0.1 at the same fractions of ${c.epochs} epochs (steps ${milestonesText(c)}), crop-flip augmentation, cross-entropy, He init`],
          ['runs', '5 per CIFAR network (mean ± std); ImageNet once', `${c.runs} per CIFAR network (seeds ${o.seed}…${o.seed + c.runs - 1}); ImageNet once`],
          ['evaluation', 'test accuracy (CIFAR), single-crop top-1/top-5 validation error (ImageNet)', `the same, in inference mode (batch-norm running statistics) after ${c.curves === 'all' ? 'every epoch' : 'the last epoch (every epoch for Figure 3)'}; images whose outputs are not finite count as wrong`],
          ['ImageNet data', '1.28M training, 50,000 validation images; random resized crop 224 (5–100% area, ratio 3/4–4/3), flip; val: resize 256, centre crop 224', imagenetSkipped ? 'not run: --full needs --imagenet DIR' : imageData === undefined ? 'not selected (--tables)' : `${imageData.label}; random resized crop ${im.size} (5–100% area, ratio 3/4–4/3), flip; val: resize ${Math.round((256 / 224) * im.size)}, centre crop ${im.size}`],
          ['ImageNet training', 'SGD, batch 1024, lr 0.4 (0.1 per 256), ×0.1 at epochs 30, 60, 80 of 90, 5-epoch warm-up, momentum 0.9, weight decay 1e-4, float16 (hence tanh on the second-order term)', `batch ${im.batch}, lr ${fmt((0.1 * im.batch) / 256, 3)} (0.1 per 256), ×0.1 at the same fractions of ${im.epochs} epoch${im.epochs > 1 ? 's' : ''}, ${im.warmupEpochs}-epoch warm-up, momentum 0.9, weight decay 1e-4, float32; width ${im.width}; Newton-ResNet-50 with tanh on the second-order term as the paper's`],
        ],
      ),
    );
    lines.push('', `Machine: ${machineLine()}, device ${device}. Total time ${fmt(totalSeconds / 60, 3)} min.`);

    const modeCol = (d: TableData | undefined): string => `${o.mode}${o.mode !== 'full' ? ' (see Settings)' : ''}; ${d?.short ?? '—'}`;
    const M = (n: number): string => (Number.isFinite(n) ? fmt(n / 1e6, 3) : '—');

    for (const table of wanted) {
      const results = runsByTable.get(table.id)!;
      const d = data.get(table.data);
      lines.push('', `## Table ${table.id}: ${table.title}`, '');
      if (table.data !== 'imagenet') {
        if (d !== undefined && table.data === 'cifar100' && d.classes !== 100) lines.push(`**The substitute has ${d.classes} classes, not CIFAR-100's 100**; the networks trained here have ${d.classes} outputs (the "# params, paper width" column is for 100 classes).`, '');
        const reused = results.filter((r) => r.reusedFrom !== undefined);
        if (reused.length > 0) lines.push(`Rows ${reused.map((r) => `${r.row.net.name} [${r.row.net.blocks.join(',')}]`).join(', ')} are the runs of Table ${reused[0].reusedFrom}: the same networks on the same data (the substitute stands for both CIFAR-10 and CIFAR-100).`, '');
        lines.push(
          markdownTable(
            ['model', '# blocks', '# params (M): paper', 'ours, width 64', `trained (width ${c.width}, ${d?.classes ?? '—'} classes)`, 'accuracy: paper', 'ours (mean ± std over runs)', 'mode'],
            results.map((r) => [
              `${r.row.net.name}${r.row.net.linear ? ' (linear)' : ''}`,
              `[${r.row.net.blocks.join(',')}]`,
              fmt(r.row.paper.params ?? NaN, 3),
              M(r.paperWidthParams),
              M(r.trainedParams),
              `${fmt(r.row.paper.accuracy ?? NaN, 3)} ± ${r.row.paper.accuracyStd ?? '?'}`,
              accuracyText(r),
              modeCol(d),
            ]),
          ),
          '',
        );
        if (results.some((r) => nonFiniteOf(r).bad > 0)) lines.push(OVERFLOW_NOTE, '');
        lines.push(comparisonTable(cifarClaims(table, results, d, runsByTable.get(1)), modeCol(d)));
        if (table.id === 1 && figure3 !== undefined) {
          lines.push('', '## Figure 3: test accuracy per epoch, ResNet18 vs Newton-ResNet [2,2,1,1] (CIFAR-10)', '', `![Figure 3](${path.basename(figureFile!)})`, '');
          lines.push(markdownTable(['epoch', ...figure3.epochs.map(String)], [
            ['ResNet18', ...figure3.resnet.mean.map((v, i) => `${fmt(v, 3)}${figure3.resnet.n > 1 ? ` ± ${fmt(figure3.resnet.std[i], 2)}` : ''}`)],
            ['Newton-ResNet', ...figure3.newton.mean.map((v, i) => `${fmt(v, 3)}${figure3.newton.n > 1 ? ` ± ${fmt(figure3.newton.std[i], 2)}` : ''}`)],
          ]), '');
          lines.push(comparisonTable(figure3Claims(figure3, results, d), modeCol(d)));
        }
      } else if (d === undefined) {
        lines.push(`Not run: ${imagenetSkipped ? '--full trains the ImageNet networks on an image folder given by --imagenet DIR (DIR/train/<class>/…, DIR/val).' : 'not selected.'}`, '');
        lines.push(markdownTable(['model', '# blocks', '# params (M), width 64', 'top-1 error (%): paper', 'top-5 error (%): paper', '--full estimate'], results.map((r) => [r.row.net.name + (r.row.net.linear ? ' (no relu)' : ''), `[${r.row.net.blocks.join(',')}]`, M(r.paperWidthParams), fmt(r.row.paper.top1 ?? NaN, 5), fmt(r.row.paper.top5 ?? NaN, 4), durationText(r.estimateHours)])));
      } else {
        if (d.smoke) lines.push(`**SMOKE TEST — not ImageNet.** ${d.label}. These rows show that the ImageNet networks (ImageNet stem, ${d.classes.toLocaleString('en-US')} classes, width ${im.width}) build, train and are evaluated, and that this table is written; their errors are those of noise and say nothing about the paper's claims.`, '');
        const err = (s: MeanStd): string => (s.n === 0 ? '—' : fmt(100 * (1 - s.mean), 4));
        const header = ['model', '# blocks', 'top-1 error (%): paper', 'ours', 'top-5 error (%): paper', 'ours'];
        const base = (r: RowResult): string[] => [
          r.row.net.name + (r.row.net.linear ? ' (no relu)' : ''),
          `[${r.row.net.blocks.join(',')}]`,
          fmt(r.row.paper.top1 ?? NaN, 5),
          r.diverged > 0 ? 'diverged' : `${err(r.top1)}${nonFiniteOf(r).bad > 0 ? ` (${nonFiniteOf(r).bad} of ${nonFiniteOf(r).images} images non-finite †; with batch statistics ${err(meanStd(r.runs.map((x) => x.finalBatchStatistics?.top1 ?? NaN)))})` : ''}`,
          fmt(r.row.paper.top5 ?? NaN, 4),
          r.diverged > 0 ? 'diverged' : err(r.top5),
        ];
        if (table.id === 6) {
          lines.push(
            markdownTable(
              [...header, 'speed (images/s): paper', `ours (${device}, width ${im.width}, ${im.size}×${im.size})`, 'model size: paper', 'ours: # params (M) at width 64, float16 MB', 'mode'],
              results.map((r) => [...base(r), r.row.paper.speed ?? '—', r.inferenceSpeed.n === 0 ? '—' : fmt(r.inferenceSpeed.mean, 3), r.row.paper.size ?? '—', `${M(r.paperWidthParams)}, ${fmt((2 * r.paperWidthParams) / 1e6, 4)} MB`, modeCol(d)]),
            ),
            '',
          );
        } else {
          lines.push(markdownTable([...header, 'mode'], results.map((r) => [...base(r), modeCol(d)])), '');
        }
        if (results.some((r) => nonFiniteOf(r).bad > 0)) lines.push(OVERFLOW_NOTE, '');
        lines.push(comparisonTable(imagenetClaims(table, results, d), modeCol(d)));
      }
    }

    // cost and the full mode
    lines.push('', '## Cost (measured here) and the full mode', '');
    const all = [...runsByTable.entries()].flatMap(([id, rs]) => rs.map((r) => ({ id, r })));
    const seen = new Set<string>();
    const costRows: string[][] = [];
    for (const { id, r } of all) {
      const rec = r.runs[0];
      if (rec === undefined || seen.has(rec.key)) continue;
      seen.add(rec.key);
      costRows.push([`Table ${id}`, `${r.row.net.name}${r.row.net.linear ? ' (linear)' : ''} [${r.row.net.blocks.join(',')}]`, M(rec.parameters), fmt(meanStd(r.runs.map((x) => x.trainImagesPerSecond)).mean, 3), fmt(meanStd(r.runs.map((x) => x.seconds)).mean, 3)]);
    }
    lines.push(markdownTable(['table', 'network', '# params trained (M)', 'training images/s', 'seconds per run (training + evaluation)'], costRows), '');
    const estRows: string[][] = [];
    let totalHours = 0;
    for (const [id, rs] of runsByTable) {
      const h = rs.reduce((a, r) => a + r.estimateHours, 0);
      totalHours += h;
      estRows.push([`Table ${id}`, id === 6 || id === 7 ? `1 run, ${PLANS.full.imagenet.epochs} epochs of ${IMAGENET_TRAIN.toLocaleString('en-US')} images at 224² + a validation pass per epoch` : `${PLANS.full.cifar.runs} runs, ${PLANS.full.cifar.epochs} epochs of ${CIFAR_TRAIN.toLocaleString('en-US')} images + a test pass per epoch`, durationText(h)]);
    }
    lines.push(`The --full mode on one GPU, from the FLOPs of every convolution and linear pass at the paper's width (scripts/repro/full-estimate.ts; an assumed ${ASSUMED_GPU_TFLOPS} TFLOP/s sustained, not measured):`, '');
    lines.push(markdownTable(['table', 'work', 'estimate'], estRows), '', `Total ≈ ${durationText(totalHours)}.`);
    lines.push('', 'Files: results.md, runs.json (every run: the test accuracy after each evaluated epoch, the final top-1/top-5, non-finite outputs, times)' + (figureFile !== undefined ? ', figure3.svg.' : '.'));
    writeOutput(o.out, 'results.md', lines.join('\n'));
    writeRunsJson(o.out, {
      paper: 'Newton Residual Learning (ICLR 2020 submission)',
      mode: o.mode,
      modeLabel,
      plan,
      seed: o.seed,
      device,
      machine: machineLine(),
      data: Object.fromEntries([...data].map(([k, v]) => [k, { label: v.label, key: v.key, substitute: v.substitute, smoke: v.smoke, train: v.train.length, test: v.test.length, shape: v.shape, classes: v.classes }])),
      seconds: totalSeconds,
      tables: Object.fromEntries(
        [...runsByTable].map(([id, rs]) => [
          `table${id}`,
          rs.map((r) => ({ net: r.row.net.key, name: r.row.net.name, blocks: r.row.net.blocks, linear: r.row.net.linear, paper: r.row.paper, paperWidthParams: r.paperWidthParams, trainedParams: r.trainedParams, top1: r.top1, top5: r.top5, diverged: r.diverged, reusedFrom: r.reusedFrom ?? null, fullEstimateHours: r.estimateHours, runs: r.runs.map((x) => x.key) })),
        ]),
      ),
      runs: [...cache.values()],
    });
    log(`wrote ${o.out}/results.md, runs.json${figureFile !== undefined ? ', figure3.svg' : ''} in ${fmt(totalSeconds / 60, 3)} min`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function milestonesText(c: CifarPlan): string {
  return 'around ' + [40, 60, 80, 100].map((e) => fmt((e / 120) * c.epochs, 3)).join(', ') + ` of ${c.epochs} epochs`;
}

// --- Figure 3 ------------------------------------------------------------------------------------------

interface Curve {
  mean: number[];
  std: number[];
  n: number;
}

function curveOf(r: RowResult, epochs: number[]): Curve {
  const per = epochs.map((e) => meanStd(r.runs.map((x) => x.curve.find((p) => p.epoch === e)?.top1 ?? NaN)));
  return { mean: per.map((s) => s.mean), std: per.map((s) => (s.n > 1 ? s.std : NaN)), n: Math.max(0, ...per.map((s) => s.n)) };
}

function curvesOf(resnetRow: RowResult, newtonRow: RowResult): { epochs: number[]; resnet: Curve; newton: Curve } | undefined {
  const epochs = [...new Set([...resnetRow.runs, ...newtonRow.runs].flatMap((x) => x.curve.map((p) => p.epoch)))].sort((a, b) => a - b);
  if (epochs.length === 0) return undefined;
  return { epochs, resnet: curveOf(resnetRow, epochs), newton: curveOf(newtonRow, epochs) };
}

function figure3Claims(f: { epochs: number[]; resnet: Curve; newton: Curve }, results: RowResult[], d: TableData | undefined): ComparisonRow[] {
  const testImages = d?.test.length ?? NaN;
  let within = 0;
  let count = 0;
  let worst = 0;
  let worstEpoch = NaN;
  f.epochs.forEach((e, i) => {
    const a = { mean: f.resnet.mean[i], std: Number.isFinite(f.resnet.std[i]) ? f.resnet.std[i] : 0, n: f.resnet.n };
    const b = { mean: f.newton.mean[i], std: Number.isFinite(f.newton.std[i]) ? f.newton.std[i] : 0, n: f.newton.n };
    if (!Number.isFinite(a.mean) || !Number.isFinite(b.mean)) return;
    count++;
    const diff = Math.abs(a.mean - b.mean);
    if (diff <= tolerance(a, b, testImages)) within++;
    if (diff > worst) {
      worst = diff;
      worstEpoch = e;
    }
  });
  const r18 = results.find((r) => r.row.net === R18)!;
  const n18 = results.find((r) => r.row.net === N2211)!;
  const fewer = 1 - n18.paperWidthParams / r18.paperWidthParams;
  return [
    {
      what: 'test accuracy of the two networks, epoch by epoch',
      paper: '"similar throughout the training" (its curves overlap)',
      ours: `within two standard errors at ${within} of ${count} epochs; largest gap ${fmt(100 * worst, 3)} points (epoch ${worstEpoch})`,
      agrees: count === 0 ? 'no curves' : within === count ? 'yes' : within > count / 2 ? 'mostly' : 'no',
    },
    { what: 'Newton-ResNet\'s parameters', paper: '"46% less parameters" than ResNet18', ours: `${fmt(100 * fewer, 3)}% fewer at width 64 (10 classes)`, agrees: Math.abs(100 * fewer - 46) < 1.5 ? 'yes' : 'no' },
  ];
}

// --- the claims of each table ---------------------------------------------------------------------------

function rowOf(results: RowResult[], net: NetSpec): RowResult | undefined {
  return results.find((r) => r.row.net === net);
}

function cmp(a: RowResult, b: RowResult, testImages: number): { diff: number; tol: number; text: string } {
  const diff = b.top1.mean - a.top1.mean;
  const tol = tolerance(a.top1, b.top1, testImages);
  return { diff, tol, text: `${fmt(a.top1.mean, 3)} vs ${fmt(b.top1.mean, 3)}: ${diff >= 0 ? '+' : ''}${fmt(100 * diff, 3)} points (two standard errors: ${fmt(100 * tol, 2)})` };
}

function cifarClaims(table: TableDef, results: RowResult[], d: TableData | undefined, table1: RowResult[] | undefined): ComparisonRow[] {
  const n = d?.test.length ?? NaN;
  const rows: ComparisonRow[] = [];
  const ran = (r: RowResult | undefined): r is RowResult => r !== undefined && r.top1.n > 0;
  const fewer = (a: RowResult, b: RowResult): string => `${fmt(100 * (1 - b.paperWidthParams / a.paperWidthParams), 3)}% fewer at width 64`;
  const matchRow = (a: RowResult | undefined, b: RowResult | undefined, paperClaim: string): void => {
    if (a === undefined || b === undefined) return;
    if (ran(a) && ran(b)) {
      const c = cmp(a, b, n);
      rows.push({ what: `${b.row.net.name} [${b.row.net.blocks.join(',')}] vs ${a.row.net.name}: accuracy`, paper: paperClaim, ours: c.text, agrees: Math.abs(c.diff) <= c.tol ? 'yes (within two standard errors)' : c.diff > 0 ? 'no: Newton-ResNet higher' : 'no: Newton-ResNet lower' });
    } else {
      rows.push({ what: `${b.row.net.name} [${b.row.net.blocks.join(',')}] vs ${a.row.net.name}: accuracy`, paper: paperClaim, ours: 'a run diverged', agrees: 'no' });
    }
    rows.push({ what: `${b.row.net.name} [${b.row.net.blocks.join(',')}] vs ${a.row.net.name}: parameters`, paper: `${fmt(b.row.paper.params ?? NaN, 3)}M vs ${fmt(a.row.paper.params ?? NaN, 3)}M (${fmt(100 * (1 - (b.row.paper.params ?? NaN) / (a.row.paper.params ?? NaN)), 3)}% fewer)`, ours: fewer(a, b), agrees: Math.abs(b.paperWidthParams / 1e6 - (b.row.paper.params ?? NaN)) < 0.05 + 1e-9 && Math.abs(a.paperWidthParams / 1e6 - (a.row.paper.params ?? NaN)) < 0.05 + 1e-9 ? 'yes (the paper\'s counts to 0.1M)' : 'no' });
  };
  if (table.id === 1) {
    matchRow(rowOf(results, R18), rowOf(results, N2211), 'the same accuracy (0.945 vs 0.945)');
    matchRow(rowOf(results, R34), rowOf(results, N3322), 'the same accuracy (0.948 vs 0.949)');
  } else if (table.id === 4) {
    matchRow(rowOf(results, R34), rowOf(results, N3432), 'the same accuracy (0.769 vs 0.769)');
  } else {
    const r = rowOf(results, R18_LIN);
    const ns = [N1111_LIN, N2222_LIN, N3333_LIN].map((x) => rowOf(results, x));
    const paperR = table.id === 2 ? 0.391 : 0.168;
    const paperN = table.id === 2 ? [0.876, 0.908, 0.916] : [0.62, 0.67, 0.689];
    for (const [i, nr] of ns.entries()) {
      if (r === undefined || nr === undefined) continue;
      if (ran(r) && ran(nr)) {
        const c = cmp(r, nr, n);
        rows.push({ what: `linear Newton-ResNet [${nr.row.net.blocks.join(',')}] vs linear ResNet18`, paper: `far higher: ${paperN[i]} vs ${paperR}`, ours: c.text, agrees: c.diff > c.tol ? 'yes' : 'no' });
      } else {
        rows.push({ what: `linear Newton-ResNet [${nr.row.net.blocks.join(',')}] vs linear ResNet18`, paper: `far higher: ${paperN[i]} vs ${paperR}`, ours: `${ran(r) ? '' : 'ResNet18 diverged'}${!ran(r) && !ran(nr) ? ', ' : ''}${ran(nr) ? '' : 'Newton-ResNet diverged'}`, agrees: ran(nr) && !ran(r) ? 'yes (ResNet diverged)' : 'no' });
      }
    }
    const accs = ns.map((x) => (x !== undefined && ran(x) ? x.top1.mean : NaN));
    if (accs.every(Number.isFinite)) {
      rows.push({ what: 'linear Newton-ResNet, more blocks', paper: `accuracy grows: ${paperN.join(' < ')}`, ours: accs.map((a) => fmt(a, 3)).join(', '), agrees: accs[0] < accs[1] && accs[1] < accs[2] ? 'yes' : accs[0] < accs[2] ? 'partly: [3,3,3,3] above [1,1,1,1]' : 'no' });
    }
    if (table.id === 2 && table1 !== undefined) {
      // §4.2 and Table 2's caption: ResNet18 loses 58% of its accuracy without activations,
      // Newton-ResNet less than 7% (Table 1's [2,2,1,1] against the linear [1,1,1,1])
      const drop = (relu: RowResult | undefined, lin: RowResult | undefined): number => (relu !== undefined && lin !== undefined && ran(relu) && ran(lin) ? 1 - lin.top1.mean / relu.top1.mean : NaN);
      const dr = drop(rowOf(table1, R18), r);
      const dn = drop(rowOf(table1, N2211), ns[0]);
      rows.push({
        what: 'relative accuracy lost without activations (Table 1 → Table 2)',
        paper: 'ResNet18 "drops dramatically by 58%" (0.945 → 0.391); Newton-ResNet "by less than 7%" ([2,2,1,1] 0.945 → linear [1,1,1,1] 0.876)',
        ours: `ResNet18 ${lossText(dr, rowOf(table1, R18), r)}; Newton-ResNet ${lossText(dn, rowOf(table1, N2211), ns[0])}`,
        agrees: !Number.isFinite(dr) || !Number.isFinite(dn) ? 'no (a run diverged)' : dn < dr ? (dn < 0.07 ? 'yes' : 'partly: Newton-ResNet loses less, but more than 7%') : 'no',
      });
    }
  }
  return rows;
}

/** "loses 24.4% (0.73 → 0.551)" or "gains …" for a relative change of accuracy from `relu` to `lin`. */
function lossText(drop: number, relu: RowResult | undefined, lin: RowResult | undefined): string {
  if (!Number.isFinite(drop)) return 'a run diverged';
  return `${drop >= 0 ? 'loses' : 'gains'} ${fmt(100 * Math.abs(drop), 3)}% (${fmt(relu!.top1.mean, 3)} → ${fmt(lin!.top1.mean, 3)})`;
}

function imagenetClaims(table: TableDef, results: RowResult[], d: TableData): ComparisonRow[] {
  const n = d.test.length;
  const err = (r: RowResult | undefined, top5: boolean): number => (r === undefined || r.diverged > 0 ? NaN : 100 * (1 - (top5 ? r.top5 : r.top1).mean));
  const rows: ComparisonRow[] = [];
  const note = d.smoke ? 'smoke test: meaningless' : '';
  if (table.id === 6) {
    const r50 = rowOf(results, R50);
    const n50 = rowOf(results, N50);
    const r101 = rowOf(results, R101);
    for (const top5 of [false, true]) {
      const k = top5 ? 'top-5' : 'top-1';
      const [a, b, c] = [err(r50, top5), err(n50, top5), err(r101, top5)];
      const se = 200 * Math.sqrt(((a / 100) * (1 - a / 100)) / n + ((b / 100) * (1 - b / 100)) / n);
      rows.push({
        what: `${k} error: ResNet50 > Newton-ResNet50 > ResNet101`,
        paper: top5 ? '6.838 > 6.358 > 6.068' : '23.570 > 22.875 > 22.208',
        ours: `${fmt(a, 4)}, ${fmt(b, 4)}, ${fmt(c, 4)} (two standard errors of a difference: ${fmt(se, 2)} points)`,
        agrees: note || (a > b && b > c ? 'yes' : a > b ? 'partly: Newton-ResNet50 below ResNet50' : 'no'),
      });
    }
    if (r50 !== undefined && n50 !== undefined && r101 !== undefined) {
      const sr = n50.inferenceSpeed.mean / r50.inferenceSpeed.mean;
      const s101 = r101.inferenceSpeed.mean / r50.inferenceSpeed.mean;
      rows.push({ what: 'inference speed relative to ResNet50', paper: `Newton-ResNet50 ×${fmt(7.5 / 8.5, 2)}, ResNet101 ×${fmt(6.2 / 8.5, 2)} (4 V100, float16)`, ours: `Newton-ResNet50 ×${fmt(sr, 2)}, ResNet101 ×${fmt(s101, 2)} (${d.smoke ? 'tiny networks on noise' : 'ours'})`, agrees: d.smoke ? 'smoke test' : sr < 1 && sr > s101 ? 'yes (ordering)' : 'no' });
      rows.push({
        what: 'model size relative to ResNet50',
        paper: `Newton-ResNet50 ×${fmt(68.81 / 50.26, 3)}, ResNet101 ×${fmt(87.67 / 50.26, 3)}`,
        ours: `Newton-ResNet50 ×${fmt(n50.paperWidthParams / r50.paperWidthParams, 3)}, ResNet101 ×${fmt(r101.paperWidthParams / r50.paperWidthParams, 3)} (parameters at width 64)`,
        agrees: 'no for Newton-ResNet50: Algorithm 1\'s N1 and N2 at 4w channels add 40M parameters; the paper\'s 68.81 MB implies ≈ 35M in all, which no reading of Algorithm 1 gives (test/nn.newton-resnet.test.ts); ResNet101: yes',
      });
    }
  } else {
    const r50 = rowOf(results, R50_LIN);
    const n50 = rowOf(results, N50_LIN);
    for (const top5 of [false, true]) {
      const k = top5 ? 'top-5' : 'top-1';
      const [a, b] = [err(r50, top5), err(n50, top5)];
      rows.push({ what: `${k} error without relu: Newton-ResNet50 far below ResNet50`, paper: top5 ? '9.114 vs 71.562' : '27.292 vs 85.124', ours: `${fmt(b, 4)} vs ${fmt(a, 4)}`, agrees: note || (b < a ? 'yes' : 'no') });
    }
  }
  return rows;
}

/** The bin shim's entry point. */
export function runMain(): void {
  runScript(SCRIPT, USAGE, main);
}

if (require.main === module) runMain();
