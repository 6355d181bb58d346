// scripts/repro-newton-cgnet: Tables 4 and 5 and Figure 3(a) of Shen et al., "Newton design:
// designing CNNs with the family of Newton's methods" (/work/shared/papers/newton-cgnet.txt),
// through the shared harness (scripts/repro/harness.ts).
//
//   Table 4     test error (%) on C10, C10+, C100, C100+ and SVHN ("+": crop-flip augmentation):
//               Newton-CGNet-56/82/110 against ResNet-110/164 (§4.1.4).
//   Figure 3(a) test error on C10+ against the number of CG blocks: Newton-CGNet-10 … 82 against
//               the ResNets of as many parameters (Table 3: ResNet-20 … 164), §4.1.3.
//   Table 5     ImageNet top-1/top-5 error: Newton-CGNet-34 against ResNet-34 and Wide ResNet-18
//               (§4.1.5). Trained only by --full with --imagenet DIR; every mode first runs its
//               smoke test (the networks' parameter counts, one SGD step and the top-1/top-5
//               evaluation on two random images), which is all --quick and --reduced do for it.
//
// Training (§4.1.2): SGD with Nesterov momentum 0.9, batch 128, learning rate 0.1 divided by 10 at
// 50% and 75% of the steps, weight decay 5e-4 (CIFAR) / 1e-4 (SVHN) on every parameter — the
// library's regulariser θ/(C·l) with C = 1/(wd·l) is exactly that — cross-entropy, dropout in the
// Newton-CGNets only (0.2 on C10+/C100+, 0.3 on SVHN, 0.4 on C10/C100), the model of the epoch with
// the lowest validation error (a held-out 10% of the training images; SVHN 6,000) tested.
//
// ResNet-164: the paper's 2.62M parameters (Tables 3 and 4) is the basic-block CIFAR ResNet of
// depth 6n + 2 with n = 27, which cifarResNet(164) builds (2,605,658 with our projection
// shortcuts); He et al.'s bottleneck ResNet-164 has 1.7M, and lib/nn/resnet.ts does not build a
// bottleneck CIFAR ResNet. Wide ResNet-18 of Table 5 (25.9M) is ResNet-18 at 1.5× width
// (resnet(18, …, { width: 96 }): 25,901,896).
//
// --reduced and --quick keep every table's structure but train narrower, shallower stand-ins of
// the paper's networks (PLANS below) on a few thousand images of the substitute (or --data); a
// Table 4 column whose run would repeat another column's exactly (the same data, augmentation,
// dropout, weight decay and epochs: C100 on the 10-class substitute is C10 again) reuses that run
// and says so.
import * as path from 'node:path';

import { gatherBatchAsync, IMAGENET_STATS, normalizeImageFolder, openImageFolder, stratifiedSplit, createDataset, type AnyDataset, type Dataset, type ImageFolder } from '../lib/data';
import { EvaluationAccumulator } from '../lib/model/metrics';
import { crossEntropyLoss } from '../lib/nn/losses';
import type { Network } from '../lib/nn/network';
import { NEWTON_CGNET_CONFIGS, newtonCgNet, newtonCgNet34ImageNet } from '../lib/nn/newton-cgnet';
import { cifarResNet, resnet } from '../lib/nn/resnet';
import type { PanelPlotOptions } from '../lib/plot';
import { evaluateAccuracy, trainSgd, type EpochStats } from '../lib/train';
import type { SgdOptions } from '../lib/optim/sgd';
import { cifarLikeData, SUBSTITUTES, type CifarLikeData } from './repro/cifar-data';
import { fullRunEstimate } from './repro/full-estimate';
import {
  comparisonTable,
  durationText,
  extraInteger,
  fmt,
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
  type ReproMode,
  type ReproOptions,
} from './repro/harness';

const SCRIPT = 'repro-newton-cgnet';
const PAPER = 'newton-cgnet';

// --- the paper's numbers -------------------------------------------------------------------------

/** Table 4's data columns, in the paper's order. */
export type ColumnId = 'C10' | 'C10+' | 'C100' | 'C100+' | 'SVHN';
const COLUMNS: readonly ColumnId[] = ['C10', 'C10+', 'C100', 'C100+', 'SVHN'];

/** Table 4's rows that this script trains (the other methods are quoted, never run). */
type Row = 'ncg56' | 'ncg82' | 'ncg110' | 'resnet110' | 'resnet164';
const ROWS: readonly Row[] = ['ncg56', 'ncg82', 'ncg110', 'resnet110', 'resnet164'];

interface PaperRow {
  readonly label: string;
  readonly family: 'newton-cgnet' | 'resnet';
  readonly depth: number;
  readonly params: string;
  /** Test error (%), median of 5 runs; NaN where the paper has '–'. */
  readonly errors: Readonly<Record<ColumnId, number>>;
}

/** Table 4 (median of 5 runs), the rows this script trains. */
const PAPER_TABLE4: Readonly<Record<Row, PaperRow>> = {
  ncg56: { label: 'Newton-CGNet-56', family: 'newton-cgnet', depth: 56, params: '1.7M', errors: { C10: 7.06, 'C10+': 5.35, C100: 28.23, 'C100+': 24.55, SVHN: 1.65 } },
  ncg82: { label: 'Newton-CGNet-82', family: 'newton-cgnet', depth: 82, params: '2.62M', errors: { C10: 6.8, 'C10+': 4.9, C100: 27.06, 'C100+': 23.87, SVHN: 1.57 } },
  ncg110: { label: 'Newton-CGNet-110', family: 'newton-cgnet', depth: 110, params: '3.45M', errors: { C10: NaN, 'C10+': 4.66, C100: NaN, 'C100+': 23.44, SVHN: NaN } },
  resnet110: { label: 'ResNet-110', family: 'resnet', depth: 110, params: '1.73M', errors: { C10: 12.06, 'C10+': 5.73, C100: 41.83, 'C100+': 26.93, SVHN: 1.8 } },
  resnet164: { label: 'ResNet-164', family: 'resnet', depth: 164, params: '2.62M', errors: { C10: 11.68, 'C10+': 5.57, C100: 38.65, 'C100+': 26.61, SVHN: 1.75 } },
};

/** Table 4's comparisons the paper draws (§4.1.4): the Newton-CGNet against its counterpart of as many parameters. */
const TABLE4_PAIRS: readonly (readonly [Row, Row])[] = [
  ['ncg56', 'resnet110'],
  ['ncg82', 'resnet164'],
];

/** Table 3 (C10+, median of 5 runs) = Figure 3(a): each Newton-CGNet and the ResNet of as many parameters. */
const PAPER_TABLE3: readonly { readonly ncg: number; readonly ncgParams: string; readonly ncgError: number; readonly resnet: number; readonly resnetParams: string; readonly resnetError: number }[] = [
  { ncg: 10, ncgParams: '0.29M', ncgError: 9.25, resnet: 20, resnetParams: '0.27M', resnetError: 7.67 },
  { ncg: 16, ncgParams: '0.48M', ncgError: 7.21, resnet: 32, resnetParams: '0.46M', resnetError: 6.83 },
  { ncg: 22, ncgParams: '0.68M', ncgError: 6.44, resnet: 44, resnetParams: '0.66M', resnetError: 6.31 },
  { ncg: 28, ncgParams: '0.87M', ncgError: 6.14, resnet: 56, resnetParams: '0.85M', resnetError: 6.02 },
  { ncg: 56, ncgParams: '1.70M', ncgError: 5.35, resnet: 110, resnetParams: '1.73M', resnetError: 5.73 },
  { ncg: 82, ncgParams: '2.62M', ncgError: 4.9, resnet: 164, resnetParams: '2.62M', resnetError: 5.57 },
];

/** Table 5 (ImageNet validation set, single crop, median of 5 runs). */
type ImageNetNet = 'wide-resnet18' | 'resnet34' | 'newton-cgnet34';
const IMAGENET_NETS: readonly ImageNetNet[] = ['wide-resnet18', 'resnet34', 'newton-cgnet34'];
const PAPER_TABLE5: Readonly<Record<ImageNetNet, { label: string; depth: number; params: string; top1: number; top5: number }>> = {
  'wide-resnet18': { label: 'Wide ResNet-18', depth: 18, params: '25.9M', top1: 27.06, top5: 9.0 },
  resnet34: { label: 'ResNet-34', depth: 34, params: '21.8M', top1: 26.73, top5: 8.65 },
  'newton-cgnet34': { label: 'Newton-CGNet-34', depth: 34, params: '21.7M', top1: 25.98, top5: 8.23 },
};

/** A column's data set and training settings (§4.1.1–4.1.2). */
interface ColumnSettings {
  readonly paperData: 'CIFAR-10' | 'CIFAR-100' | 'SVHN';
  /** The extra option that gives the column's real data. */
  readonly option: 'cifar10' | 'cifar100' | 'svhn';
  readonly augment: boolean;
  /** Dropout of the Newton-CGNets. */
  readonly dropout: number;
  readonly weightDecay: number;
  /** Epochs in the paper (SVHN 40, CIFAR 300). */
  readonly paperEpochs: number;
  /** Validation images held out of the paper's training set. */
  readonly paperValidation: number;
}
const COLUMN_SETTINGS: Readonly<Record<ColumnId, ColumnSettings>> = {
  C10: { paperData: 'CIFAR-10', option: 'cifar10', augment: false, dropout: 0.4, weightDecay: 5e-4, paperEpochs: 300, paperValidation: 5000 },
  'C10+': { paperData: 'CIFAR-10', option: 'cifar10', augment: true, dropout: 0.2, weightDecay: 5e-4, paperEpochs: 300, paperValidation: 5000 },
  C100: { paperData: 'CIFAR-100', option: 'cifar100', augment: false, dropout: 0.4, weightDecay: 5e-4, paperEpochs: 300, paperValidation: 5000 },
  'C100+': { paperData: 'CIFAR-100', option: 'cifar100', augment: true, dropout: 0.2, weightDecay: 5e-4, paperEpochs: 300, paperValidation: 5000 },
  SVHN: { paperData: 'SVHN', option: 'svhn', augment: false, dropout: 0.3, weightDecay: 1e-4, paperEpochs: 40, paperValidation: 6000 },
};

// --- modes ---------------------------------------------------------------------------------------

/** What each mode runs. */
export interface Plan {
  /** Channels of the first stage (the paper's 16). */
  width: number;
  /** The depth each Table 4 row is trained at (the paper's own depth in --full). */
  table4: Record<Row, number>;
  /** Indices into PAPER_TABLE3 of the Figure 3(a) pairs, and the stand-in depths [Newton-CGNet, ResNet] of each. */
  fig3: { index: number; ncg: number; resnet: number }[];
  /** Training images drawn (evenly spaced) before the validation split; undefined: all. */
  trainImages: number | undefined;
  testImages: number | undefined;
  /** Held-out fraction of the drawn training images (full: the paper's count over the set's size). */
  validationFraction: number;
  /** Epochs of the CIFAR columns and of SVHN. */
  epochs: number;
  svhnEpochs: number;
  runs: number;
  /** Training images the epoch-end train error is measured on. */
  trainEvaluationSize: number;
  /** Table 5 training (full only): epochs, batch, learning-rate milestones in epochs. */
  imagenetEpochs: number;
}

const PAPER_DEPTHS: Record<Row, number> = { ncg56: 56, ncg82: 82, ncg110: 110, resnet110: 110, resnet164: 164 };
// the stand-ins keep Table 3's pairing by parameters: Newton-CGNet-L has as many as ResNet-(2L − 2)
const STAND_INS: Record<Row, number> = { ncg56: 16, ncg82: 22, ncg110: 28, resnet110: 32, resnet164: 44 };

const PLANS: Record<ReproMode, Plan> = {
  quick: { width: 4, table4: STAND_INS, fig3: [0, 1, 2, 3].map((i) => ({ index: i, ncg: PAPER_TABLE3[i].ncg, resnet: PAPER_TABLE3[i].resnet })), trainImages: 200, testImages: 100, validationFraction: 0.1, epochs: 1, svhnEpochs: 1, runs: 1, trainEvaluationSize: 64, imagenetEpochs: 1 },
  reduced: { width: 8, table4: STAND_INS, fig3: [0, 1, 2, 3].map((i) => ({ index: i, ncg: PAPER_TABLE3[i].ncg, resnet: PAPER_TABLE3[i].resnet })), trainImages: 3000, testImages: 1000, validationFraction: 0.1, epochs: 8, svhnEpochs: 8, runs: 1, trainEvaluationSize: 256, imagenetEpochs: 1 },
  full: { width: 16, table4: PAPER_DEPTHS, fig3: PAPER_TABLE3.map((p, i) => ({ index: i, ncg: p.ncg, resnet: p.resnet })), trainImages: undefined, testImages: undefined, validationFraction: 0.1, epochs: 300, svhnEpochs: 40, runs: 5, trainEvaluationSize: 1000, imagenetEpochs: 100 },
};

const MODE_TEXT: Record<ReproMode, string> = {
  quick: 'width 4, the reduced stand-in depths, 180 training / 20 validation / 100 test images, 1 epoch, 1 run; Table 5 smoke test (about 1 min)',
  reduced: 'width 8 (paper 16), stand-ins Newton-CGNet-16/22/28 for -56/82/110 and ResNet-32/44 for -110/164, Figure 3(a) at Newton-CGNet-10…28 vs ResNet-20…56, 2,700 training / 300 validation / 1,000 test images, 8 epochs, 1 run; Table 5 smoke test (the total time is in the results)',
  full: "the paper's networks (width 16), all images, 300 epochs (SVHN 40), 5 runs; Table 5 trained on --imagenet DIR for 100 epochs (GPU-days: the estimate is printed first)",
};

export const EXTRAS: readonly ExtraOption[] = [
  { name: 'cifar10', value: 'DIR', help: "CIFAR-10 (its binary batches) for C10 and C10+ (required by --full)" },
  { name: 'cifar100', value: 'DIR', help: 'CIFAR-100 for C100 and C100+ (required by --full)' },
  { name: 'svhn', value: 'DIR', help: 'SVHN (train_32x32.mat, test_32x32.mat) for the SVHN column (required by --full)' },
  { name: 'imagenet', value: 'DIR', help: 'ImageNet as DIR/train and DIR/val class folders: trains Table 5 (--full only; required unless --no-imagenet)' },
  { name: 'no-imagenet', value: '', help: '--full: leave Table 5 to its smoke test', flag: true },
  { name: 'columns', value: 'C,C,…', help: `Table 4 columns to run (default all: ${COLUMNS.join(',')}); Figure 3(a) runs with C10+` },
  { name: 'width', value: 'W', help: 'channels of the first stage (default: quick 4, reduced 8, full 16)' },
  { name: 'epochs', value: 'N', help: 'epochs of the CIFAR columns (default: quick 1, reduced 8, full 300)' },
  { name: 'svhn-epochs', value: 'N', help: 'epochs of the SVHN column (default: quick 1, reduced 8, full 40)' },
  { name: 'train-images', value: 'N', help: 'training images drawn (evenly spaced) before the 10% validation split (default: quick 200, reduced 3000, full all)' },
  { name: 'test-images', value: 'N', help: 'test images, evenly spaced (default: quick 100, reduced 1000, full all)' },
  { name: 'device', value: 'NAME', help: 'cpu (default) | cuda | cuda:N' },
];

const DESCRIPTION = [
  'Reproduces Tables 4 and 5 and Figure 3(a) of "Newton design" (Shen et al.): Newton-CGNets against',
  'ResNets of as many parameters on CIFAR-10/100 (with and without augmentation) and SVHN, the error',
  'against the number of CG blocks, and ImageNet (Newton-CGNet-34). Writes results.md, figure3a.svg and',
  'runs.json to --out.',
  '',
  '--data NAME|PATH: the data of every Table 4 column without its own option (--quick/--reduced only;',
  "default fashion-mnist-small, the bundled Fashion-MNIST subset, a labelled SUBSTITUTE; fashion-mnist:",
  "Debian's). --full needs the paper's data: --cifar10, --cifar100, --svhn (for the chosen --columns) and",
  '--imagenet (or --no-imagenet).',
].join('\n');

const USAGE = usage(SCRIPT, DESCRIPTION, EXTRAS, MODE_TEXT);

export interface Setup {
  plan: Plan;
  columns: ColumnId[];
  /** The data spec of each column (a path or a substitute name). */
  dataOf: Record<ColumnId, string>;
  imagenet: string | undefined;
  device: string;
  /** The column options (cifar10, cifar100, svhn) that were given. */
  fromOption: ReadonlySet<string>;
}

/** The plan, columns, data and device of the parsed options. @throws UsageError naming the option. */
export function setupFor(o: ReproOptions): Setup {
  const plan = { ...PLANS[o.mode] };
  if (o.runs !== undefined) plan.runs = o.runs;
  plan.width = extraInteger(o, 'width') ?? plan.width;
  plan.epochs = extraInteger(o, 'epochs') ?? plan.epochs;
  plan.svhnEpochs = extraInteger(o, 'svhn-epochs') ?? plan.svhnEpochs;
  plan.trainImages = extraInteger(o, 'train-images') ?? plan.trainImages;
  plan.testImages = extraInteger(o, 'test-images') ?? plan.testImages;
  const text = (name: string): string | undefined => {
    const v = o.extra.get(name);
    if (v === true) throw new UsageError(`--${name} needs a value`);
    return v;
  };
  const columnsText = text('columns');
  const isColumn = (c: string): c is ColumnId => (COLUMNS as readonly string[]).includes(c);
  const columns: ColumnId[] = [];
  for (const c of columnsText === undefined ? COLUMNS : columnsText.split(',').map((x) => x.trim())) {
    if (!isColumn(c)) throw new UsageError(`--columns: '${c}' is not a Table 4 column (${COLUMNS.join(', ')})`);
    if (!columns.includes(c)) columns.push(c);
  }
  const device = text('device') ?? 'cpu';
  const imagenet = text('imagenet');
  const noImagenet = o.extra.get('no-imagenet') === true;
  if (o.mode === 'full') {
    if (o.data !== undefined) throw new UsageError("--data is for --quick/--reduced; --full takes the paper's data by --cifar10, --cifar100 and --svhn");
    for (const c of columns) {
      const opt = COLUMN_SETTINGS[c].option;
      if (text(opt) === undefined) throw new UsageError(`--full needs the paper's data: give --${opt} DIR for the ${c} column (or leave ${c} out of --columns)`);
    }
    // Figure 3(a) is on C10+ whatever the columns
    if (text('cifar10') === undefined) throw new UsageError("--full needs the paper's data: give --cifar10 DIR (Figure 3(a) is on C10+)");
    if (imagenet === undefined && !noImagenet) throw new UsageError('--full needs ImageNet for Table 5: give --imagenet DIR (DIR/train, DIR/val), or --no-imagenet to leave Table 5 to its smoke test');
  } else if (imagenet !== undefined) {
    throw new UsageError('--imagenet: Table 5 is trained by --full only (--quick and --reduced run its smoke test)');
  }
  const fallback = o.data ?? SUBSTITUTES[0];
  const dataOf = Object.fromEntries(COLUMNS.map((c) => [c, text(COLUMN_SETTINGS[c].option) ?? fallback])) as Record<ColumnId, string>;
  const fromOption = new Set(COLUMNS.map((c) => COLUMN_SETTINGS[c].option).filter((opt) => text(opt) !== undefined));
  return { plan, columns, dataOf, imagenet, device, fromOption };
}

// --- networks ------------------------------------------------------------------------------------

export interface NetSpec {
  family: 'newton-cgnet' | 'resnet';
  depth: number;
  width: number;
  /** Dropout of a Newton-CGNet (ResNets have none). */
  dropout: number;
}

function netName(n: NetSpec): string {
  return `${n.family === 'newton-cgnet' ? 'Newton-CGNet' : 'ResNet'}-${n.depth}`;
}

function buildNet(n: NetSpec, shape: readonly [number, number, number], classes: number, seed: number, device: string): Network {
  if (n.family === 'resnet') return cifarResNet(n.depth, shape, classes, { width: n.width, seed, device });
  const blocks = NEWTON_CGNET_CONFIGS[n.depth];
  if (blocks === undefined) throw new UsageError(`no Newton-CGNet of depth ${n.depth} (known: ${Object.keys(NEWTON_CGNET_CONFIGS).join(', ')})`);
  return newtonCgNet(shape, classes, { blocks, width: n.width, dropout: n.dropout, seed, device });
}

function buildImageNet(which: ImageNetNet, shape: readonly [number, number, number], classes: number, seed: number, device: string): Network {
  if (which === 'wide-resnet18') return resnet(18, shape, classes, { width: 96, seed, device });
  if (which === 'resnet34') return resnet(34, shape, classes, { seed, device });
  return newtonCgNet34ImageNet(shape, classes, { seed, device });
}

// --- one training run ----------------------------------------------------------------------------

/** A column's data, split. */
interface SplitData {
  spec: string;
  train: Dataset;
  validation: Dataset;
  test: Dataset;
  classes: number;
  substitute: boolean;
  label: string;
}

export interface EpochRecord {
  epoch: number;
  validationError: number;
  trainError: number;
  trainLossRunning: number;
  elapsed: number;
}

/** One run, as runs.json keeps it. */
export interface RunRecord {
  key: string;
  network: string;
  net: NetSpec;
  parameters: number;
  seed: number;
  data: string;
  augment: boolean;
  weightDecay: number;
  epochs: number;
  trainImages: number;
  validationImages: number;
  testImages: number;
  history: EpochRecord[];
  /** The epoch (0-based) of the lowest validation error, and the test error (%) there and at the end. */
  bestEpoch: number;
  testError: number;
  finalTestError: number;
  seconds: number;
  imagesPerSecond: number;
  /** Why the run stopped early (a DivergenceError's message), or null. */
  failure: string | null;
}

/** Lr 0.1 divided by 10 at 50% and 75% of the steps (§4.1.2), Nesterov 0.9, weight decay wd on every parameter. */
export function sgdSettings(steps: number, weightDecay: number, l: number, milestones: number[]): SgdOptions {
  const ms = [...new Set(milestones.filter((m) => m >= 1 && m < steps))].sort((a, b) => a - b);
  return {
    learningRate: 0.1,
    momentum: 0.9,
    nesterov: true,
    C: 1 / (weightDecay * l),
    weightDecay: 0,
    schedule: ms.length > 0 ? { kind: 'multistep', milestones: ms, factor: 0.1 } : { kind: 'step', every: steps + 1, factor: 1 },
  };
}

async function trainRun(net: NetSpec, data: SplitData, column: ColumnSettings, epochs: number, seed: number, plan: Plan, device: string, log: (m: string) => void): Promise<RunRecord> {
  const model = buildNet(net, data.train.shape, data.classes, seed, device);
  const l = data.train.length;
  const steps = epochs * Math.ceil(l / 128);
  const history: EpochRecord[] = [];
  let best = { error: Infinity, epoch: -1, parameters: null as Float32Array | Float64Array | null, buffers: null as Float32Array | Float64Array | null };
  const t0 = performance.now();
  let failure: string | null = null;
  let imagesPerSecond = NaN;
  try {
    const r = await trainSgd(model, data.train, {
      epochs,
      batchSize: 128,
      seed,
      loss: crossEntropyLoss,
      sgd: sgdSettings(steps, column.weightDecay, l, [Math.round(0.5 * steps), Math.round(0.75 * steps)]),
      test: data.validation,
      trainEvaluationSize: plan.trainEvaluationSize,
      ...(column.augment ? { augment: 'crop-flip' as const } : {}),
      onEpoch: (s: EpochStats) => {
        const validationError = 100 * (1 - (s.testAccuracy ?? NaN));
        history.push({ epoch: s.epoch, validationError, trainError: 100 * (1 - (s.trainAccuracy ?? NaN)), trainLossRunning: s.trainLossRunning, elapsed: s.elapsed });
        // the paper selects the model of the lowest validation error (§4.1.1); a tie keeps the later
        if (validationError <= best.error) best = { error: validationError, epoch: s.epoch, parameters: model.getParameters(), buffers: model.getBuffers() };
        if (s.epoch === epochs - 1 || (s.epoch + 1) % Math.max(1, Math.ceil(epochs / 10)) === 0) log(`  epoch ${s.epoch + 1}/${epochs}: validation error ${fmt(validationError, 3)}%, ${fmt(s.elapsed, 3)} s`);
      },
    });
    imagesPerSecond = r.imagesPerSecond;
  } catch (e) {
    failure = (e as Error).message;
    log(`  stopped: ${failure}`);
  }
  let finalTestError = NaN;
  let testError = NaN;
  if (failure === null) {
    finalTestError = 100 * (1 - evaluateAccuracy(model, data.test));
    testError = finalTestError;
    if (best.parameters !== null && best.buffers !== null && best.epoch !== epochs - 1) {
      model.setParameters(best.parameters);
      model.setBuffers(best.buffers);
      testError = 100 * (1 - evaluateAccuracy(model, data.test));
    }
  }
  const record: RunRecord = {
    key: '',
    network: netName(net),
    net,
    parameters: model.numParameters,
    seed,
    data: data.label,
    augment: column.augment,
    weightDecay: column.weightDecay,
    epochs,
    trainImages: l,
    validationImages: data.validation.length,
    testImages: data.test.length,
    history,
    bestEpoch: best.epoch,
    testError,
    finalTestError,
    seconds: (performance.now() - t0) / 1000,
    imagesPerSecond,
    failure,
  };
  model.dispose();
  return record;
}

// --- Table 4 and Figure 3(a) ---------------------------------------------------------------------

/** The runs of Table 4 and Figure 3(a), each trained once per configuration. */
class Runner {
  private readonly data = new Map<string, Promise<SplitData>>();
  private readonly runs = new Map<string, RunRecord[]>();
  /** The column that first asked for each run key (a later column with the same key reuses it). */
  readonly firstColumn = new Map<string, ColumnId>();

  constructor(
    private readonly setup: Setup,
    private readonly seed: number,
    private readonly log: (m: string) => void,
  ) {}

  async columnData(column: ColumnId): Promise<SplitData> {
    const spec = this.setup.dataOf[column];
    const s = COLUMN_SETTINGS[column];
    const key = `${spec}|${s.paperData}`;
    let p = this.data.get(key);
    if (p === undefined) {
      p = this.load(spec, s);
      this.data.set(key, p);
    }
    return p;
  }

  private async load(spec: string, s: ColumnSettings): Promise<SplitData> {
    const { plan } = this.setup;
    let d: CifarLikeData;
    try {
      d = await cifarLikeData(spec, { paperData: s.paperData, trainLimit: plan.trainImages, testLimit: plan.testImages });
    } catch (e) {
      // cifarLikeData names --data; name the option that gave this column's data
      const option = this.setup.fromOption.has(s.option) ? `--${s.option}` : '--data';
      throw e instanceof UsageError ? new UsageError(e.message.replace(/^--data /, `${option} `)) : e;
    }
    // the paper holds out 5,000 of CIFAR's 50,000 (SVHN: 6,000 of 73,257); with fewer images, 10%
    const fraction = plan.trainImages === undefined && !d.substitute ? s.paperValidation / d.train.length : plan.validationFraction;
    const { train, validation } = stratifiedSplit(d.train, fraction, this.seed);
    const label = `${d.label}; ${train.length.toLocaleString('en-US')} train + ${validation.length.toLocaleString('en-US')} validation (stratified)`;
    return { spec, train, validation, test: d.test, classes: d.train.classes, substitute: d.substitute, label };
  }

  /** The runs of `row` (or a Figure 3(a) network) on `column`, training them unless an identical configuration ran. */
  async get(column: ColumnId, net: NetSpec): Promise<{ key: string; runs: RunRecord[] }> {
    const s = COLUMN_SETTINGS[column];
    const data = await this.columnData(column);
    const epochs = column === 'SVHN' ? this.setup.plan.svhnEpochs : this.setup.plan.epochs;
    const dropout = net.family === 'newton-cgnet' ? s.dropout : 0;
    const spec = { ...net, dropout };
    const key = [netName(spec), `w${spec.width}`, `p${dropout}`, data.spec, data.classes, s.augment ? 'crop-flip' : 'plain', `wd${s.weightDecay}`, `e${epochs}`].join('|');
    const have = this.runs.get(key);
    if (have !== undefined) return { key, runs: have };
    this.firstColumn.set(key, column);
    const runs: RunRecord[] = [];
    for (let r = 0; r < this.setup.plan.runs; r++) {
      this.log(`${column}: ${netName(spec)} (width ${spec.width}${dropout > 0 ? `, dropout ${dropout}` : ''}), run ${r + 1}/${this.setup.plan.runs}`);
      const rec = await trainRun(spec, data, s, epochs, this.seed + r, this.setup.plan, this.setup.device, this.log);
      rec.key = key;
      runs.push(rec);
      this.log(`  ${netName(spec)} on ${column}: test error ${fmt(rec.testError, 3)}% (epoch ${rec.bestEpoch + 1} by validation), ${fmt(rec.seconds, 3)} s`);
    }
    this.runs.set(key, runs);
    return { key, runs };
  }

  allRuns(): RunRecord[] {
    return [...this.runs.values()].flat();
  }
}

/** The test errors (%) of some runs: median, mean ± std, count. */
function summary(runs: readonly RunRecord[]): { median: number; mean: number; std: number; n: number } {
  const xs = runs.map((r) => r.testError).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const s = meanStd(xs);
  const median = xs.length === 0 ? NaN : xs.length % 2 === 1 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  return { median, mean: s.mean, std: s.std, n: s.n };
}

/** "median" for one run, "median (mean ± std, n runs)" for several (the paper reports medians of 5). */
function fmtError(runs: readonly RunRecord[]): string {
  const s = summary(runs);
  if (s.n === 0) return runs.length > 0 ? 'failed' : '—';
  return s.n === 1 ? fmt(s.median, 3) : `${fmt(s.median, 3)} (${fmt(s.mean, 3)} ± ${fmt(s.std, 2)}, ${s.n} runs)`;
}

/**
 * Whether "a has lower error than b" holds, judged against the test set's binomial noise: the
 * standard error of a difference of two error rates on n test images is about
 * sqrt(p_a(1−p_a)/n + p_b(1−p_b)/n) (divided by √runs for means of runs); within 2 of them we
 * cannot tell.
 */
export function verdict(a: readonly RunRecord[], b: readonly RunRecord[], paperSaysLower: boolean): string {
  const sa = summary(a);
  const sb = summary(b);
  if (sa.n === 0 || sb.n === 0) return 'no result';
  const n = a[0].testImages;
  const pa = sa.median / 100;
  const pb = sb.median / 100;
  const se = 100 * Math.sqrt((pa * (1 - pa)) / (n * sa.n) + (pb * (1 - pb)) / (n * sb.n));
  const d = sa.median - sb.median;
  const lower = d < 0;
  if (Math.abs(d) < 2 * se) return `within noise (|Δ| ${fmt(Math.abs(d), 2)} < 2 SE ${fmt(2 * se, 2)} points)`;
  return lower === paperSaysLower ? 'yes' : 'no';
}

// --- Table 5 -------------------------------------------------------------------------------------

/** Top-1 and top-5 error (%) of `net` on `data`, single crop. */
async function topErrors(net: Network, data: AnyDataset, batchSize: number): Promise<{ top1: number; top5: number; count: number }> {
  const acc = new EvaluationAccumulator(net.outputSize, 'cross-entropy');
  const order = Int32Array.from({ length: data.length }, (_, i) => i);
  for (let start = 0; start < data.length; start += batchSize) {
    const batch = await gatherBatchAsync(data, order, start, Math.min(data.length, start + batchSize), { dtype: net.dtype, device: net.device });
    try {
      const z = net.predict(batch.x);
      acc.add(z.toArray(), batch.labels);
      z.dispose();
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  const r = acc.result();
  return { top1: 100 * (1 - r.accuracy), top5: 100 * (1 - r.topKAccuracy), count: r.count };
}

interface SmokeRecord {
  network: ImageNetNet;
  parameters: number;
  /** One SGD step on 2 random 3×224×224 images, then top-1/top-5 on them: that the path runs, nothing more. */
  stepLoss: number;
  top1: number;
  top5: number;
  seconds: number;
}

/** Table 5's smoke test: the three networks at 3×224×224 and 1,000 classes, one SGD step and the evaluation on 2 random images. */
async function imagenetSmoke(seed: number, device: string, log: (m: string) => void): Promise<SmokeRecord[]> {
  const n = 2;
  const images = new Float32Array(n * 3 * 224 * 224);
  let s = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    images[i] = s / 2 ** 31 - 1;
  }
  const data = createDataset({ name: 'random-imagenet-smoke', images, labels: Int32Array.from([3, 997]), shape: [3, 224, 224], classes: 1000 });
  const out: SmokeRecord[] = [];
  for (const which of IMAGENET_NETS) {
    const t0 = performance.now();
    const net = buildImageNet(which, [3, 224, 224], 1000, seed, device);
    try {
      const r = await trainSgd(net, data, { epochs: 1, batchSize: n, seed, loss: crossEntropyLoss, evaluateEvery: 'never', sgd: sgdSettings(1, 1e-4, n, []) });
      const e = await topErrors(net, data, n);
      const loss = r.state.epochLoss.batches > 0 ? r.state.epochLoss.sum / r.state.epochLoss.batches : NaN;
      out.push({ network: which, parameters: net.numParameters, stepLoss: loss, top1: e.top1, top5: e.top5, seconds: (performance.now() - t0) / 1000 });
      log(`Table 5 smoke test: ${PAPER_TABLE5[which].label}: ${net.numParameters.toLocaleString('en-US')} parameters, one SGD step and the evaluation on ${n} random images in ${fmt(out[out.length - 1].seconds, 2)} s`);
    } finally {
      net.dispose();
    }
  }
  return out;
}

interface ImageNetRecord {
  network: ImageNetNet;
  seed: number;
  parameters: number;
  top1: number;
  top5: number;
  seconds: number;
  failure: string | null;
}

/** Table 5 as the paper trains it (§4.1.5): 100 epochs, batch 256, lr 0.1 ÷10 at epochs 30, 60, 90, dropout 0.2 in Newton-CGNet-34. */
async function imagenetRuns(dir: string, plan: Plan, seed0: number, device: string, log: (m: string) => void): Promise<ImageNetRecord[]> {
  let train: ImageFolder;
  let val: ImageFolder;
  try {
    const raw = await openImageFolder(path.join(dir, 'train'), { size: 224 });
    train = normalizeImageFolder(raw, IMAGENET_STATS);
    val = normalizeImageFolder(await openImageFolder(path.join(dir, 'val'), { size: 224, classNames: raw.classNames }), IMAGENET_STATS);
  } catch (e) {
    throw new UsageError(`--imagenet ${dir}: ${(e as Error).message}`);
  }
  const out: ImageNetRecord[] = [];
  const batchSize = 256;
  const perEpoch = Math.ceil(train.length / batchSize);
  for (const which of IMAGENET_NETS) {
    for (let r = 0; r < plan.runs; r++) {
      const seed = seed0 + r;
      const net = buildImageNet(which, [3, 224, 224], train.classNames.length, seed, device);
      const t0 = performance.now();
      let failure: string | null = null;
      let e = { top1: NaN, top5: NaN };
      try {
        log(`Table 5: ${PAPER_TABLE5[which].label}, run ${r + 1}/${plan.runs}`);
        const epochs = plan.imagenetEpochs;
        const milestones = [30, 60, 90].filter((m) => m < epochs).map((m) => m * perEpoch);
        await trainSgd(net, train, {
          epochs,
          batchSize,
          seed,
          loss: crossEntropyLoss,
          evaluateEvery: 'never',
          augment: 'random-resized-crop',
          // "the other training details are the same as for CIFAR and SVHN": weight decay 1e-4 (the SVHN value and ResNet's on ImageNet)
          sgd: sgdSettings(epochs * perEpoch, 1e-4, train.length, milestones),
          onEpoch: (s) => log(`  epoch ${s.epoch + 1}/${epochs}, ${fmt(s.elapsed / 3600, 3)} h`),
        });
        e = await topErrors(net, val, batchSize);
      } catch (err) {
        failure = (err as Error).message;
      }
      out.push({ network: which, seed, parameters: net.numParameters, top1: e.top1, top5: e.top5, seconds: (performance.now() - t0) / 1000, failure });
      net.dispose();
    }
  }
  return out;
}

// --- the --full estimate -------------------------------------------------------------------------

/** The --full run's time on one GPU (fullRunEstimate on the paper's networks and data sizes). */
function fullEstimate(setup: Setup, withImagenet: boolean): string {
  const full = PLANS.full;
  let flops = 0;
  let hours = 0;
  const add = (net: Network, trainImages: number, evalImages: number) => {
    const e = fullRunEstimate(net, { trainImages, evalImages });
    flops += e.flops * full.runs;
    hours += e.hours * full.runs;
    net.dispose();
  };
  const seen = new Set<string>();
  const cifar = { train: 45000, val: 5000, test: 10000 };
  const svhn = { train: 73257 - 6000, val: 6000, test: 26032 };
  const plan = (column: ColumnId, spec: NetSpec) => {
    const key = `${column}|${netName(spec)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const d = column === 'SVHN' ? svhn : cifar;
    const epochs = column === 'SVHN' ? full.svhnEpochs : full.epochs;
    const classes = column.startsWith('C100') ? 100 : 10;
    add(buildNet(spec, [3, 32, 32], classes, 0, 'cpu'), d.train * epochs, (d.val + full.trainEvaluationSize) * epochs + 2 * d.test);
  };
  for (const c of setup.columns) {
    for (const row of ROWS) {
      if (!Number.isFinite(PAPER_TABLE4[row].errors[c])) continue;
      plan(c, { family: PAPER_TABLE4[row].family, depth: PAPER_DEPTHS[row], width: 16, dropout: 0 });
    }
  }
  for (const p of PAPER_TABLE3) {
    plan('C10+', { family: 'newton-cgnet', depth: p.ncg, width: 16, dropout: 0 });
    plan('C10+', { family: 'resnet', depth: p.resnet, width: 16, dropout: 0 });
  }
  if (withImagenet) for (const which of IMAGENET_NETS) add(buildImageNet(which, [3, 224, 224], 1000, 0, 'cpu'), 1281167 * full.imagenetEpochs, 50000);
  return `≈ ${durationText(hours)} on one GPU (${fmt(flops / 1e18, 3)} EFLOP of conv/linear passes over ${full.runs} runs of every network${withImagenet ? ', ImageNet included' : ''}, at the assumed sustained rate of scripts/repro/full-estimate.ts — not measured)`;
}

// --- main ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseReproOptions(process.argv.slice(2), PAPER, EXTRAS);
  if (o === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const setup = setupFor(o);
  const { plan } = setup;
  const log = progress(SCRIPT);
  const start = performance.now();
  const estimate = fullEstimate(setup, setup.imagenet !== undefined || o.mode !== 'full');
  if (o.mode === 'full') {
    log(`--full: ${estimate}`);
    writeOutput(o.out, 'estimate.md', `# --full estimate\n\n${estimate}\n`);
  }
  const runner = new Runner(setup, o.seed, log);

  // the data first, so that a bad --data/--cifar10/… fails before any training
  for (const c of [...setup.columns, 'C10+' as const]) await runner.columnData(c);
  // then Table 5's smoke test: it is short and fails fast where the ImageNet networks cannot run
  const smoke = await imagenetSmoke(o.seed, setup.device, log);

  // Table 4
  const table4 = new Map<string, { key: string; runs: RunRecord[] }>();
  for (const c of setup.columns) {
    for (const row of ROWS) {
      if (!Number.isFinite(PAPER_TABLE4[row].errors[c])) continue;
      table4.set(`${c}|${row}`, await runner.get(c, { family: PAPER_TABLE4[row].family, depth: plan.table4[row], width: plan.width, dropout: 0 }));
    }
  }
  // Figure 3(a), on C10+ (its runs shared with Table 4's C10+ column where the networks coincide)
  const fig3: { index: number; ncg: number; resnet: number; ncgRuns: RunRecord[]; resnetRuns: RunRecord[] }[] = [];
  for (const p of plan.fig3) {
    const ncg = await runner.get('C10+', { family: 'newton-cgnet', depth: p.ncg, width: plan.width, dropout: 0 });
    const res = await runner.get('C10+', { family: 'resnet', depth: p.resnet, width: plan.width, dropout: 0 });
    fig3.push({ ...p, ncgRuns: ncg.runs, resnetRuns: res.runs });
  }
  const imagenet = setup.imagenet === undefined ? null : await imagenetRuns(setup.imagenet, plan, o.seed, setup.device, log);

  // --- results.md --------------------------------------------------------------------------------
  const totalSeconds = (performance.now() - start) / 1000;
  const c10plus = await runner.columnData('C10+');
  const labels = new Map<string, string>();
  for (const c of setup.columns) labels.set(c, (await runner.columnData(c)).label);
  const anySubstitute = await Promise.all(setup.columns.map(async (c) => (await runner.columnData(c)).substitute)).then((xs) => xs.some((x) => x));
  const shortData = (c: ColumnId) => {
    const spec = setup.dataOf[c];
    return (SUBSTITUTES as readonly string[]).includes(spec) ? `SUBSTITUTE for ${COLUMN_SETTINGS[c].paperData} (${spec}, 10 classes)` : path.basename(path.resolve(spec));
  };

  const lines: string[] = [];
  lines.push(`# "Newton design" (Shen et al.), Tables 4 and 5 and Figure 3(a) — ${o.mode} mode`, '');
  lines.push(`**Mode: ${MODE_TEXT[o.mode]}.**`, '');
  if (anySubstitute) {
    lines.push(
      `**Data: every Table 4 column and Figure 3(a) ran on ${shortData('C10+')}: the paper's CIFAR-10, CIFAR-100 and SVHN were not given, so the C100/C100+ columns are on a 10-class stand-in, not CIFAR-100, and the SVHN column is not SVHN. No number below is a CIFAR or SVHN number.**`,
      '',
    );
  }
  for (const c of setup.columns) lines.push(`- ${c}: ${labels.get(c)}`);
  lines.push('', `Machine: ${machineLine()}. Total time ${fmt(totalSeconds / 60, 3)} min.`, '');
  lines.push(`Command: \`scripts/${SCRIPT} ${process.argv.slice(2).join(' ')}\``, '');
  lines.push(`The full mode (the paper's settings): ${estimate}.`, '');

  // Settings
  lines.push('## Settings', '');
  const stand = (row: Row) => `${PAPER_TABLE4[row].family === 'newton-cgnet' ? 'Newton-CGNet' : 'ResNet'}-${plan.table4[row]}`;
  lines.push(
    markdownTable(
      ['', 'paper (§4.1.1–4.1.2)', `ours (${o.mode})`],
      [
        ['networks of Table 4', 'Newton-CGNet-56/82/110, ResNet-110/164, width 16 (16/32/64 channels)', `${ROWS.map((r) => `${stand(r)} for ${PAPER_TABLE4[r].label}`).join(', ')}; width ${plan.width} (${plan.width}/${2 * plan.width}/${4 * plan.width} channels)${o.mode !== 'full' ? ' — each stand-in pair keeps the paper\'s pairing by parameters (Newton-CGNet-L ≈ ResNet-(2L−2), Table 3)' : ''}`],
        ['Figure 3(a)', 'Newton-CGNet-10/16/22/28/56/82 vs ResNet-20/32/44/56/110/164 on C10+', `${plan.fig3.map((p) => `Newton-CGNet-${p.ncg} vs ResNet-${p.resnet}`).join(', ')} on C10+, width ${plan.width}`],
        ['training images', 'CIFAR 45,000 + 5,000 validation; SVHN 73,257 (train) − 6,000 validation, extra images too ("all the training data")', `${c10plus.train.length.toLocaleString('en-US')} + ${c10plus.validation.length.toLocaleString('en-US')} validation (stratified 10% of ${plan.trainImages === undefined ? 'all' : plan.trainImages.toLocaleString('en-US')} evenly spaced images); SVHN's extra images not used`],
        ['test images', 'CIFAR 10,000; SVHN 26,032', `${c10plus.test.length.toLocaleString('en-US')}`],
        ['epochs', 'CIFAR 300, SVHN 40', `CIFAR columns ${plan.epochs}, SVHN ${plan.svhnEpochs}`],
        ['optimiser', 'SGD, Nesterov momentum 0.9, batch 128, lr 0.1 ÷10 at 50% and 75% of training', 'the same (the milestones in steps)'],
        ['weight decay', '5e-4 (CIFAR), 1e-4 (SVHN)', 'the same, on every parameter (the regulariser θ/(C·l) with C = 1/(wd·l))'],
        ['dropout (Newton-CGNets)', '0.2 C10+/C100+, 0.3 SVHN, 0.4 C10/C100', 'the same; ResNets none'],
        ['augmentation ("+")', 'mirroring/shifting', "lib/data's 'crop-flip' (pad 4, random 32×32 crop, horizontal flip)"],
        ['preprocessing', 'CIFAR per-channel mean/std; SVHN ÷255', 'per-channel mean/std of the training images for every column (the stem conv is followed by BN, so a linear rescaling barely matters)'],
        ['initialisation', 'He for convolutions, Xavier for the classifier', 'Newton-CGNets: the same; ResNets: He everywhere (lib/nn/resnet.ts)'],
        ['model selection', 'the epoch of the lowest validation error', 'the same'],
        ['runs', 'median of 5', `${plan.runs} run${plan.runs > 1 ? 's: median, then mean ± std' : ''}, seed ${o.seed}${plan.runs > 1 ? ' + r' : ''}`],
        ['ResNet-164', '2.62M parameters', 'the basic-block CIFAR ResNet with n = 27 (cifarResNet(164): 2,605,658 parameters), which is the network of that count; a bottleneck ResNet-164 (1.7M) is not built by lib/nn/resnet.ts'],
      ],
    ),
  );

  // Table 4
  lines.push('', '## Table 4: test error (%) on CIFAR and SVHN', '');
  lines.push(`Ours: test error at the epoch of the lowest validation error${plan.runs > 1 ? ', median (mean ± std, runs)' : ', 1 run'}; "paper": Table 4 (median of 5 runs). Parameters of ours for our input (${c10plus.train.shape.join('×')}) and 10 classes.`, '');
  const rowsOut = ROWS.map((row) => {
    const p = PAPER_TABLE4[row];
    const firstCol = setup.columns.find((c) => table4.has(`${c}|${row}`));
    const params = firstCol === undefined ? '—' : table4.get(`${firstCol}|${row}`)!.runs[0]?.parameters.toLocaleString('en-US') ?? '—';
    return [`${p.label}${o.mode !== 'full' ? ` → ${stand(row)}` : ''}`, p.params, params, ...setup.columns.flatMap((c) => {
      const t = table4.get(`${c}|${row}`);
      return [t === undefined ? '—' : fmtError(t.runs), Number.isFinite(p.errors[c]) ? fmt(p.errors[c], 4) : '—'];
    })];
  });
  lines.push(markdownTable(['method (paper → ours)', 'params (paper)', 'params (ours)', ...setup.columns.flatMap((c) => [`${c} ours`, `${c} paper`])], rowsOut), '');
  const reused = setup.columns.filter((c) => ROWS.some((row) => {
    const t = table4.get(`${c}|${row}`);
    return t !== undefined && runner.firstColumn.get(t.key) !== c;
  }));
  if (reused.length > 0) {
    lines.push(
      `Reused runs: ${reused.map((c) => {
        const t = ROWS.map((row) => table4.get(`${c}|${row}`)).find((x) => x !== undefined)!;
        return `${c} repeats ${runner.firstColumn.get(t.key)}'s runs`;
      }).join('; ')} — the same data, augmentation, dropout, weight decay and epochs, so a second training would give the same numbers (the substitute has 10 classes whatever column it stands for).`,
      '',
    );
  }
  const t4rows: ComparisonRow[] = [];
  const t4tables: string[] = [];
  for (const c of setup.columns) {
    const before = t4rows.length;
    for (const [a, b] of TABLE4_PAIRS) {
      const ra = table4.get(`${c}|${a}`);
      const rb = table4.get(`${c}|${b}`);
      if (ra === undefined || rb === undefined) continue;
      const pa = PAPER_TABLE4[a].errors[c];
      const pb = PAPER_TABLE4[b].errors[c];
      t4rows.push({
        what: `${c}: ${PAPER_TABLE4[a].label} vs ${PAPER_TABLE4[b].label}${o.mode !== 'full' ? ` (${stand(a)} vs ${stand(b)})` : ''}`,
        paper: `${fmt(pa, 4)} vs ${fmt(pb, 4)}: Newton-CGNet lower by ${fmt(pb - pa, 3)}`,
        ours: `${fmtError(ra.runs)} vs ${fmtError(rb.runs)}`,
        agrees: verdict(ra.runs, rb.runs, pa < pb),
      });
    }
    const r82 = table4.get(`${c}|ncg82`);
    const r110 = table4.get(`${c}|ncg110`);
    if (r82 !== undefined && r110 !== undefined) {
      t4rows.push({
        what: `${c}: more CG blocks, ${PAPER_TABLE4.ncg110.label} vs ${PAPER_TABLE4.ncg82.label}${o.mode !== 'full' ? ` (${stand('ncg110')} vs ${stand('ncg82')})` : ''}`,
        paper: `${fmt(PAPER_TABLE4.ncg110.errors[c], 4)} vs ${fmt(PAPER_TABLE4.ncg82.errors[c], 4)}: lower`,
        ours: `${fmtError(r110.runs)} vs ${fmtError(r82.runs)}`,
        agrees: verdict(r110.runs, r82.runs, true),
      });
    }
    t4tables.push(comparisonTable(t4rows.slice(before), `${o.mode}${o.mode !== 'full' ? ` (width ${plan.width}, stand-ins)` : ''}; ${shortData(c)}`));
  }
  lines.push(t4tables.join('\n\n'), '');
  const agreeing = t4rows.filter((r) => r.agrees === 'yes').length;
  const disagreeing = t4rows.filter((r) => r.agrees === 'no').length;
  const noisy = t4rows.filter((r) => r.agrees.startsWith('within noise')).length;
  lines.push(
    `What agrees: ${agreeing} of the ${t4rows.length} comparisons go the paper's way by more than twice the test set's binomial standard error; ${disagreeing} go the other way by as much; ${noisy} are within that noise (${c10plus.test.length.toLocaleString('en-US')} test images, ${plan.runs} run${plan.runs > 1 ? 's' : ''}).` +
      (o.mode !== 'full' ? ` The paper's margins (0.2–1 point on C10+/C100+/SVHN, 4–14 points on C10/C100 without augmentation) are between networks of 1.7–3.5M parameters trained 300 epochs on the real data; ours are between width-${plan.width} stand-ins trained ${plan.epochs} epoch${plan.epochs > 1 ? 's' : ''} on ${anySubstitute ? 'the substitute' : 'a few of the images'}, so they test the code path and the direction of large effects only.` : ''),
    '',
  );

  // Figure 3(a)
  lines.push('## Figure 3(a): C10+ test error against the number of CG blocks', '', '![Figure 3(a)](figure3a.svg)', '');
  lines.push(`x: N₃, the CG blocks of the last Newton-CG block of Newton-CGNet L-{N₁, N₂, N₃} (the paper's criterion: "N₃ ≤ 5" worse, "N₃ ≥ 9" better); each ResNet at the x of the Newton-CGNet of as many parameters (Table 3).`, '');
  const f3rows = fig3.map((p) => {
    const paper = PAPER_TABLE3[p.index];
    const blocks = NEWTON_CGNET_CONFIGS[p.ncg];
    return [
      `${paper.ncg}-{${NEWTON_CGNET_CONFIGS[paper.ncg].join(',')}} vs ResNet-${paper.resnet}`,
      `${paper.ncgError} vs ${paper.resnetError}`,
      `Newton-CGNet-${p.ncg}-{${blocks.join(',')}} (${p.ncgRuns[0]?.parameters.toLocaleString('en-US') ?? '—'}) vs ResNet-${p.resnet} (${p.resnetRuns[0]?.parameters.toLocaleString('en-US') ?? '—'})`,
      `${fmtError(p.ncgRuns)} vs ${fmtError(p.resnetRuns)}`,
    ];
  });
  lines.push(markdownTable(['paper network pair (N₃)', 'paper error (%)', 'ours (parameters)', 'ours error (%)'], f3rows), '');
  const f3cmp: ComparisonRow[] = fig3.map((p) => {
    const paper = PAPER_TABLE3[p.index];
    const ncgBetter = paper.ncgError < paper.resnetError;
    return {
      what: `N₃ = ${NEWTON_CGNET_CONFIGS[paper.ncg][2]}: Newton-CGNet-${p.ncg} vs ResNet-${p.resnet}`,
      paper: `Newton-CGNet ${ncgBetter ? 'lower' : 'higher'} (${paper.ncgError} vs ${paper.resnetError})`,
      ours: `${fmtError(p.ncgRuns)} vs ${fmtError(p.resnetRuns)}`,
      agrees: verdict(p.ncgRuns, p.resnetRuns, ncgBetter),
    };
  });
  lines.push(comparisonTable(f3cmp, `${o.mode}${o.mode !== 'full' ? ` (width ${plan.width})` : ''}; ${shortData('C10+')}`), '');
  const maxN3 = Math.max(...fig3.map((p) => NEWTON_CGNET_CONFIGS[p.ncg][2]));
  lines.push(
    `The paper's pattern: Newton-CGNets lose to ResNets of as many parameters with few CG blocks (N₃ ≤ 5) and win with many (N₃ ≥ 9). ` +
      (maxN3 < 9 ? `This mode only trains N₃ ≤ ${maxN3}, the side where the paper has the Newton-CGNet behind; the crossover at N₃ ≥ 9 needs --full (or --epochs/--width with more time). ` : '') +
      `Ours: ${f3cmp.filter((r) => r.agrees === 'yes').length} of ${f3cmp.length} pairs as the paper, ${f3cmp.filter((r) => r.agrees === 'no').length} the other way, ${f3cmp.filter((r) => r.agrees.startsWith('within')).length} within noise.`,
    '',
  );

  // Table 5
  lines.push('## Table 5: ImageNet, top-1 / top-5 single-crop error (%)', '');
  const t5rows = IMAGENET_NETS.map((which) => {
    const p = PAPER_TABLE5[which];
    const sm = smoke.find((x) => x.network === which)!;
    const runs = imagenet?.filter((r) => r.network === which) ?? [];
    const ok = runs.filter((r) => r.failure === null);
    const t1 = meanStd(ok.map((r) => r.top1));
    const t5 = meanStd(ok.map((r) => r.top5));
    const ours = imagenet === null ? 'not trained (--full --imagenet DIR)' : ok.length === 0 ? 'failed' : `${fmt(t1.mean, 4)} / ${fmt(t5.mean, 4)} (${ok.length} run${ok.length > 1 ? 's' : ''})`;
    return [p.label, String(p.depth), p.params, sm.parameters.toLocaleString('en-US'), `${p.top1} / ${p.top5}`, ours, `ran: one SGD step (loss ${fmt(sm.stepLoss, 3)}) and top-1/top-5 evaluation on 2 random images in ${fmt(sm.seconds, 2)} s`];
  });
  lines.push(markdownTable(['method', 'depth', 'params (paper)', 'params (ours, 3×224×224, 1,000 classes)', 'paper top-1 / top-5', 'ours top-1 / top-5', 'smoke test (random images: checks that the path runs, no accuracy)'], t5rows), '');
  const paramRows: ComparisonRow[] = IMAGENET_NETS.map((which) => {
    const p = PAPER_TABLE5[which];
    const ours = smoke.find((x) => x.network === which)!.parameters;
    const paperM = Number(p.params.replace('M', ''));
    const same = Math.abs(ours / 1e6 - paperM) < 0.051;
    return { what: `${p.label} parameters`, paper: p.params, ours: `${fmt(ours / 1e6, 4)}M`, agrees: same ? 'yes (to the paper\'s 0.1M)' : `no: ${fmt(ours / 1e6 - paperM, 2)}M apart` };
  });
  if (imagenet !== null) {
    const med = (which: ImageNetNet) => summaryTop1(imagenet.filter((r) => r.network === which));
    const a = med('newton-cgnet34');
    const b = med('resnet34');
    paramRows.push({ what: 'top-1: Newton-CGNet-34 vs ResNet-34', paper: '25.98 vs 26.73: lower by 0.75', ours: `${fmt(a, 4)} vs ${fmt(b, 4)}`, agrees: Number.isFinite(a) && Number.isFinite(b) ? (a < b ? 'yes' : 'no') : 'no result' });
  }
  lines.push(comparisonTable(paramRows, imagenet === null ? `${o.mode}: smoke test only (random images)` : `full; ${setup.imagenet}`), '');
  lines.push(
    imagenet === null
      ? 'Table 5 is trained only by `--full --imagenet DIR` (ImageNet as DIR/train and DIR/val class folders; 100 epochs, batch 256, lr 0.1 ÷10 at epochs 30/60/90, Nesterov 0.9, weight decay 1e-4, random-resized crops with flips, dropout 0.2 in Newton-CGNet-34). Here its three networks were built at the paper\'s size, counted, stepped once and evaluated on two random images: the parameter counts are comparable with the paper\'s, the errors are not.'
      : 'Training as §4.1.5, with torchvision-style random-resized crops for the paper\'s "224×224 crop randomly sampled from the images or its horizontal flip" and weight decay 1e-4 (the paper does not state ImageNet\'s).',
    '',
  );

  lines.push('## Runs', '');
  lines.push(
    markdownTable(
      ['network', 'first column', 'params', 'epochs', 'best epoch', 'test error (%) at best / at end', 'train img/s', 'time (s)'],
      runner.allRuns().map((r) => [`${r.network} (w${r.net.width}, p${r.net.dropout})`, runner.firstColumn.get(r.key) ?? '', r.parameters.toLocaleString('en-US'), String(r.epochs), String(r.bestEpoch + 1), `${fmt(r.testError, 3)} / ${fmt(r.finalTestError, 3)}`, fmt(r.imagesPerSecond, 3), fmt(r.seconds, 3)]),
    ),
    '',
  );
  lines.push('Files: results.md, figure3a.svg, runs.json (every run: settings, per-epoch validation and training error, the selected epoch, test errors; the Table 5 smoke test and runs).');

  // Figure 3(a) SVG: the paper's Table 3 beside ours
  const xs = fig3.map((p) => NEWTON_CGNET_CONFIGS[PAPER_TABLE3[p.index].ncg][2]);
  const ourXs = fig3.map((p) => NEWTON_CGNET_CONFIGS[p.ncg][2]);
  const errBars = (runs: RunRecord[][]) => (plan.runs > 1 ? runs.map((r) => summary(r).std) : undefined);
  const figure: PanelPlotOptions = {
    title: `Figure 3(a): C10+ test error against the number of CG blocks — ${o.mode}`,
    panels: [
      {
        title: 'paper (Table 3, CIFAR-10+, median of 5 runs)',
        x: { label: 'CG blocks N₃ (ResNet: at its Newton-CGNet of as many parameters)', values: xs },
        yLabel: 'test error (%)',
        series: [
          { name: 'Newton-CGNet (paper)', values: fig3.map((p) => PAPER_TABLE3[p.index].ncgError) },
          { name: 'ResNet (paper)', values: fig3.map((p) => PAPER_TABLE3[p.index].resnetError) },
        ],
        width: 360,
        height: 300,
      },
      {
        title: `ours: width ${plan.width}, ${shortData('C10+')}, ${plan.epochs} epoch${plan.epochs > 1 ? 's' : ''}`,
        x: { label: 'CG blocks N₃ (ResNet: at its Newton-CGNet of as many parameters)', values: ourXs },
        yLabel: 'test error (%)',
        series: [
          { name: 'Newton-CGNet (ours)', values: fig3.map((p) => summary(p.ncgRuns).median), ...(errBars(fig3.map((p) => p.ncgRuns)) ? { errors: errBars(fig3.map((p) => p.ncgRuns)) } : {}) },
          { name: 'ResNet (ours)', values: fig3.map((p) => summary(p.resnetRuns).median), ...(errBars(fig3.map((p) => p.resnetRuns)) ? { errors: errBars(fig3.map((p) => p.resnetRuns)) } : {}) },
        ],
        width: 360,
        height: 300,
      },
    ],
  };
  await writeFigure(o.out, 'figure3a.svg', figure);
  writeOutput(o.out, 'results.md', lines.join('\n'));
  writeRunsJson(o.out, {
    paper: 'Newton design: designing CNNs with the family of Newton\'s methods (Shen et al., Sci China Inf Sci 2023)',
    mode: o.mode,
    plan,
    columns: setup.columns,
    data: Object.fromEntries([...labels.entries()]),
    seed: o.seed,
    machine: machineLine(),
    seconds: totalSeconds,
    fullEstimate: estimate,
    table4: Object.fromEntries([...table4.entries()].map(([k, v]) => [k, v.key])),
    figure3a: fig3.map((p) => ({ paper: PAPER_TABLE3[p.index], ncgKey: p.ncgRuns[0]?.key, resnetKey: p.resnetRuns[0]?.key })),
    runs: runner.allRuns(),
    table5: { smoke, runs: imagenet },
  });
  log(`wrote ${o.out}/{results.md,figure3a.svg,runs.json} in ${fmt(totalSeconds / 60, 3)} min`);
}

function summaryTop1(runs: readonly ImageNetRecord[]): number {
  const xs = runs.filter((r) => r.failure === null).map((r) => r.top1).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  return xs.length % 2 === 1 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
}

/** The bin shim's entry point. */
export function runMain(): void {
  runScript(SCRIPT, USAGE, main);
}

if (require.main === module) runMain();
