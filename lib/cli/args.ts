/**
 * Command-line parsing of `newton-cnn`: the option table (one place for names, types, defaults and
 * help text), strict parsing with node:util parseArgs, and validation with clear messages.
 * Bad usage throws {@link UsageError}, which the CLI turns into exit code 2.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { MODEL_NAMES } from '../nn/models';
import { helpWidth, optionRows, paragraph } from './help-format';
import { didYouMeanOption } from './suggest';
import { RESNET_DEPTHS, type ResNetStem } from '../nn/resnet';
import { AUGMENT_PRESETS, type AugmentPreset } from '../data/loader';

/** Bad command-line usage (exit code 2). */
export class UsageError extends Error {
  /** @param message what is wrong, naming the option */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The usual models `--model` accepts (modelByName's names); any other CIFAR ResNet depth 6n + 2 (`resnet<6n+2>`) too. */
export const MODELS = MODEL_NAMES;
/** ResNet stems `--stem` accepts. */
export const STEMS = ['imagenet', 'cifar'] as const;
/**
 * Optimizers `--optimizer` accepts: the subsampled Newton method (the default), SGD with momentum,
 * and scale-amended SGD (Zhang, Chen & Liu 2018, Algorithm 2; SGD's options with its own defaults).
 */
export const OPTIMIZERS = ['newton', 'sgd', 'scale-amended-sgd'] as const;
/** How backward factors combine where a value fans out (`--m-fanout`, scale-amended SGD). */
export const M_FANOUTS = ['max', 'sum'] as const;
/** The defaults of the SGD options that differ for `--optimizer scale-amended-sgd` (the local-Hessian paper's). */
export const SCALE_AMENDED_DEFAULTS = Object.freeze({ lr: 0.1, decay: 0, weightDecay: 0.005 });
/** Subsample choices of the Newton method (`--sampling`). */
export const SAMPLINGS = ['epoch', 'random'] as const;
/** Gauss-Newton product modes (`--gv-mode`). */
export const GV_MODES = ['rop', 'stored'] as const;
/** Losses `--loss` accepts. */
export const LOSSES = ['squared', 'cross-entropy'] as const;
/** Formats `--format` accepts. */
export const FORMATS = ['idx', 'cifar', 'libsvm', 'svhn', 'imagefolder'] as const;
/** Label sets `--cifar-labels` accepts (CIFAR-100). */
export const CIFAR_LABELS = ['fine', 'coarse'] as const;
/** Learning-rate schedules `--schedule` accepts (SGD). */
export const SCHEDULES = ['inverse', 'step', 'multistep', 'cosine'] as const;
/** Data set names `--data` accepts besides paths. */
export const DATA_NAMES = ['fashion-mnist-small', 'fashion-mnist'] as const;

/** The default number of epochs of `newton-cnn train --optimizer sgd` (see the README for the time and accuracy it gives). */
export const DEFAULT_EPOCHS = 10;
/**
 * The default number of Newton iterations of `newton-cnn train` (about 5 minutes on 2 cores on the
 * bundled data; see the README for the accuracy it gives). The library's default is the paper's 100.
 */
export const DEFAULT_NEWTON_ITERATIONS_CLI = 20;

/** How a data path is read: the options of the commands that read data, besides --data. */
export interface DataFileArgs {
  /** Format of a data path. */
  format?: (typeof FORMATS)[number];
  /** Test file of a LIBSVM data path (absolute). */
  test?: string;
  /** Per-image shape [C, H, W]. */
  shape?: [number, number, number];
  /** Number of classes, for data whose format does not say. */
  classes?: number;
  /** SVHN: train on extra_32x32.mat too. */
  svhnExtra?: boolean;
  /** CIFAR-100: fine (100) or coarse (20) labels. */
  cifarLabels?: (typeof CIFAR_LABELS)[number];
}

/** The validated options of `newton-cnn train`. */
export interface TrainArgs extends DataFileArgs {
  /** Network builder: a name modelByName accepts (see isModelName). */
  model: string;
  /** The ResNet stem (ResNets only; absent: the model's default, see defaultStem). */
  stem?: ResNetStem;
  /** Data set name or path (paths are absolute). */
  data: string;
  /** Use only the first N training images. */
  trainLimit?: number;
  /** Use only the first N test images. */
  testLimit?: number;
  /** Optimizer. */
  optimizer: (typeof OPTIMIZERS)[number];
  /** Epochs of the whole run (unless iterations is set; SGD only). */
  epochs: number;
  /** Optimizer steps (Newton: iterations) of the whole run (instead of epochs); always set for Newton. */
  iterations?: number;
  /** Newton: sampling rate |S|/l in (0, 1]. */
  samplingRate: number;
  /** Newton: subsample choice. */
  sampling: (typeof SAMPLINGS)[number];
  /** Newton: CGmax. */
  cgMax: number;
  /** Newton: σ of the CG stopping rule. */
  cgTol: number;
  /** Newton: initial damping λ0. */
  lambda: number;
  /** Newton: Gauss-Newton product mode. */
  gvMode: (typeof GV_MODES)[number];
  /** η0. */
  lr: number;
  /** μ. */
  momentum: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** γ. */
  decay: number;
  /** SGD: extra L2 weight decay w ≥ 0 (default 0). */
  weightDecay: number;
  /** SGD: the extra weight decay only on conv/linear weights (weightDecayOn 'weights'). */
  decayWeightsOnly: boolean;
  /** SGD: epochs (strictly increasing positive numbers) at which the learning rate is multiplied by lrFactor. */
  milestones?: number[];
  /** SGD: the factor of --milestones (default 0.1). */
  lrFactor: number;
  /** Scale-amended SGD: the backward factor m of a value several layers use, the max or the sum of theirs (default max). */
  mFanout: (typeof M_FANOUTS)[number];
  /** SGD: linear warm-up, in epochs (≥ 0, may be fractional; default 0). */
  warmup: number;
  /** SGD: the learning-rate schedule (default inverse, the paper's; multistep when --milestones is given). */
  schedule: (typeof SCHEDULES)[number];
  /** SGD, schedule step: epochs between decays by lrFactor. */
  stepEvery?: number;
  /** SGD, schedule cosine: the final learning rate (default 0). */
  lrMin: number;
  /** Held out of the training set (stratified) as a validation set: a fraction in (0, 1), or a number of images ≥ 1 (0: none). */
  validation: number;
  /** Stop when the validation accuracy has not improved for this many evaluations (needs validation). */
  earlyStop?: number;
  /** SGD: augment each training batch ('crop-flip': pad 4, random crop to the image size, horizontal flip; 'random-resized-crop': ImageNet's, for image folders), in native code with prefetching. */
  augment?: AugmentPreset;
  /** Image folders: the crop size H = W (default 224). */
  imageSize?: number;
  /** Image folders: the smallest area fraction of --augment random-resized-crop (default 0.08; the Newton-ResNet paper's ImageNet runs: 0.05). */
  cropScale?: number;
  /** Image folders: a flat validation folder's label file. */
  valLabels?: string;
  /** Image folders: leave out unreadable images and count them instead of stopping. */
  skipCorrupt?: boolean;
  /** --local-batch-norm: with --distributed sgd, each rank's batch norm on its own shard. */
  localBatchNorm?: boolean;
  /** CIFAR / uncompressed IDX directories: stream the images from disk instead of reading them into memory. */
  stream?: boolean;
  /** Data-parallel training over the processes of an `mpirun` job. */
  distributed?: 'mpi' | 'nccl';
  /** Set by runTrain on the ranks other than 0 of a --distributed job: they neither print nor write files. */
  follower?: boolean;
  /** Run log streamed while training (absolute; .csv: CSV, else JSON Lines). */
  log?: string;
  /** Profile the run (lib/profile.ts): the Chrome trace goes to this file (absolute), the per-op table to stdout. */
  profile?: string;
  /** Regularisation C. */
  C: number;
  /** Mini-batch size. */
  batchSize: number;
  /** Loss. */
  loss: (typeof LOSSES)[number];
  /** Seed of the initialisation and the data order. */
  seed: number;
  /** Device. */
  device: string;
  /** CPU threads (default: the library's). */
  threads?: number;
  /** Checkpoint file. */
  checkpoint?: string;
  /** Also checkpoint every N optimizer steps. */
  checkpointEvery?: number;
  /** Checkpoint to continue from. */
  resume?: string;
  /** Model file (lib/model) to write at the end (absolute). */
  save?: string;
  /** Print only the final lines. */
  quiet: boolean;
  /** Print one JSON object at the end. */
  json: boolean;
  /** Names (TrainArgs keys) of the options given on the command line. */
  given: ReadonlySet<string>;
}

/** Whether an option takes a value ('string') or is a flag ('boolean'). */
export type OptionKind = 'string' | 'boolean';
/** The sections of `train --help`, in order. */
export const HELP_SECTIONS = ['common', 'newton', 'sgd', 'data', 'output'] as const;
/** A section of `train --help`. */
export type HelpSection = (typeof HELP_SECTIONS)[number];
interface OptionSpec {
  /** TrainArgs key. */
  key: keyof TrainArgs;
  kind: OptionKind;
  value?: string;
  help: string;
  /** Listed last in its section. */
  advanced?: boolean;
  /** Its section of the help (absent: output). */
  section?: HelpSection;
}

// Long option name → spec. The order is the order of the help text.
const TRAIN_OPTIONS: ReadonlyArray<[string, OptionSpec]> = [
  ['model', { key: 'model', kind: 'string', value: 'NAME', help: `network: ${MODELS.filter((n) => !isCifarResNet(n)).join(' | ')} | resnet<6n+2>: ${MODELS.filter(isCifarResNet).join(', ')}, … (default cnn3)`, section: 'common' }],
  ['stem', { key: 'stem', kind: 'string', value: 'STEM', help: 'ResNets: imagenet (conv7×7/2 + max pool; resnet18…101 default) | cifar (conv3×3; resnet<6n+2> always)', section: 'common' }],
  ['data', { key: 'data', kind: 'string', value: 'NAME|PATH', help: 'fashion-mnist-small (bundled, default) | fashion-mnist (apt-get install dataset-fashion-mnist) | a directory or file', section: 'data' }],
  ['format', { key: 'format', kind: 'string', value: 'FMT', help: `format of a data path: ${FORMATS.join(' | ')} (default: guessed)`, section: 'data' }],
  ['test', { key: 'test', kind: 'string', value: 'PATH', help: 'test file of a LIBSVM data path (default: PATH.t)', section: 'data' }],
  ['shape', { key: 'shape', kind: 'string', value: 'C,H,W', help: 'image shape (required for LIBSVM; checked otherwise)', section: 'data' }],
  ['classes', { key: 'classes', kind: 'string', value: 'K', help: 'number of classes, for data whose format does not say (an IDX directory of unknown name, LIBSVM)', section: 'data' }],
  ['svhn-extra', { key: 'svhnExtra', kind: 'boolean', help: 'SVHN: train on extra_32x32.mat (531,131 images) as well as train_32x32.mat', section: 'data' }],
  ['cifar-labels', { key: 'cifarLabels', kind: 'string', value: 'WHICH', help: `CIFAR-100: ${CIFAR_LABELS.join(' | ')} labels: 100 classes (default) or the 20 superclasses`, section: 'data' }],
  ['optimizer', { key: 'optimizer', kind: 'string', value: 'NAME', help: `optimizer: ${OPTIMIZERS.join(' | ')} (default newton)`, section: 'common' }],
  ['iterations', { key: 'iterations', kind: 'string', value: 'N', help: `newton: iterations (default ${DEFAULT_NEWTON_ITERATIONS_CLI}); sgd: steps, instead of --epochs`, section: 'common' }],
  ['sampling-rate', { key: 'samplingRate', kind: 'string', value: 'X', help: 'newton: subsample size |S|/l in (0, 1] for the Gauss-Newton matrix (default 0.05)', section: 'newton' }],
  ['cg-max', { key: 'cgMax', kind: 'string', value: 'N', help: 'newton: most CG steps per iteration, CGmax (default 250)', section: 'newton' }],
  ['cg-tol', { key: 'cgTol', kind: 'string', value: 'X', help: 'newton: CG stops when ‖(G+λI)d + ∇f‖ ≤ σ‖∇f‖; σ in (0, 1) (default 0.1)', section: 'newton' }],
  ['lambda', { key: 'lambda', kind: 'string', value: 'X', help: 'newton: initial Levenberg-Marquardt damping λ0 > 0 (default 1)', section: 'newton' }],
  ['gv-mode', { key: 'gvMode', kind: 'string', value: 'MODE', help: `newton: Gauss-Newton products ${GV_MODES.join(' | ')}: R-operator each CG step, or Jacobians of S stored (default rop)`, section: 'newton' }],
  ['sampling', { key: 'sampling', kind: 'string', value: 'HOW', help: 'newton: subsamples are chunks of a fresh permutation each epoch (epoch, default) or random per iteration (random)', section: 'newton' }],
  ['epochs', { key: 'epochs', kind: 'string', value: 'N', help: `sgd: epochs of the whole run (default ${DEFAULT_EPOCHS})`, section: 'sgd' }],
  ['lr', { key: 'lr', kind: 'string', value: 'X', help: 'sgd: initial learning rate η0 (default 0.003; scale-amended-sgd 0.1)', section: 'sgd' }],
  ['momentum', { key: 'momentum', kind: 'string', value: 'X', help: 'sgd: momentum μ in [0, 1) (default 0.9)', section: 'sgd' }],
  ['nesterov', { key: 'nesterov', kind: 'boolean', help: 'sgd: Nesterov momentum', section: 'sgd' }],
  ['decay', { key: 'decay', kind: 'string', value: 'X', help: 'sgd: learning-rate decay γ: η = η0/(1 + tγ) (default 1e-6; scale-amended-sgd 0; not with --milestones)', section: 'sgd' }],
  ['milestones', { key: 'milestones', kind: 'string', value: 'E1,E2,…', help: 'sgd: multiply the learning rate by --lr-factor after each of these epochs (strictly increasing; fractions allowed)', section: 'sgd' }],
  ['lr-factor', { key: 'lrFactor', kind: 'string', value: 'F', help: 'sgd: the factor of --milestones, F > 0 (default 0.1)', section: 'sgd' }],
  ['schedule', { key: 'schedule', kind: 'string', value: 'NAME', help: "sgd: learning-rate schedule: inverse (η0/(1 + tγ), the paper's; default) | step (× --lr-factor every --step-every epochs) | multistep (× --lr-factor at --milestones) | cosine (from η0 down to --lr-min over the run)", section: 'sgd' }],
  ['step-every', { key: 'stepEvery', kind: 'string', value: 'E', help: 'sgd, --schedule step: epochs between decays (fractions allowed)', section: 'sgd' }],
  ['lr-min', { key: 'lrMin', kind: 'string', value: 'X', help: 'sgd, --schedule cosine: the final learning rate, 0 ≤ X < --lr (default 0)', section: 'sgd' }],
  ['warmup', { key: 'warmup', kind: 'string', value: 'E', help: 'sgd: linear learning-rate warm-up over the first E epochs (T steps): step t < T uses η·(t+1)/T (fractions allowed; default 0)', section: 'sgd' }],
  ['weight-decay', { key: 'weightDecay', kind: 'string', value: 'W', help: 'sgd: extra L2 weight decay: W·θ is added to each step\'s gradient (default 0; scale-amended-sgd 0.005, added before the amendment)', section: 'sgd' }],
  ['decay-weights-only', { key: 'decayWeightsOnly', kind: 'boolean', help: 'sgd: apply --weight-decay to conv and linear weights only (not biases, batch-norm γ/β)', section: 'sgd' }],
  ['m-fanout', { key: 'mFanout', kind: 'string', value: 'HOW', help: `scale-amended-sgd: backward factor m of a value several layers use (a shortcut): ${M_FANOUTS.join(' | ')} of theirs (default max)`, section: 'sgd' }],
  ['C', { key: 'C', kind: 'string', value: 'X', help: 'regularisation: f = ‖θ‖²/(2Cl) + mean loss (default 0.01)', section: 'common' }],
  ['batch-size', { key: 'batchSize', kind: 'string', value: 'N', help: 'mini-batch size (sgd: of the steps; newton: of the f/∇f passes) (default 128)', section: 'common' }],
  ['loss', { key: 'loss', kind: 'string', value: 'NAME', help: `${LOSSES.join(' | ')} (default squared, the paper's)`, section: 'common' }],
  ['seed', { key: 'seed', kind: 'string', value: 'N', help: 'seed of the initialisation and the data order (default 0)', section: 'common' }],
  ['device', { key: 'device', kind: 'string', value: 'NAME', help: 'cpu (default) | cuda | cuda:N (see `newton-cnn info`)', section: 'common' }],
  ['distributed', { key: 'distributed', kind: 'string', value: 'BACKEND', help: 'data-parallel training (newton, sgd) over the processes of `mpirun -np N newton-cnn train …`: mpi (CPU), nccl (one GPU per rank); rank 0 prints and writes the files', section: 'common' }],
  ['threads', { key: 'threads', kind: 'string', value: 'N', help: 'CPU threads (default: all cores)', section: 'common' }],
  ['validation', { key: 'validation', kind: 'string', value: 'F', help: 'hold out a stratified fraction F in (0, 1) of the training set, or F images (the papers: 5000 of CIFAR, 6000 of SVHN), and report accuracy on them every epoch (newton: iteration)', section: 'data' }],
  ['augment', { key: 'augment', kind: 'string', value: 'HOW', help: `sgd: augment every training batch: ${AUGMENT_PRESETS.join(' | ')} (crop-flip: pad 4, random crop, horizontal flip; random-resized-crop: ImageNet's, for image folders; off the JS thread, prefetched)`, section: 'data' }],
  ['image-size', { key: 'imageSize', kind: 'string', value: 'N', help: 'image folders: crop size N×N (default 224; evaluation resizes the shorter side to round(N·256/224) first)', section: 'data' }],
  ['crop-scale', { key: 'cropScale', kind: 'string', value: 'X', help: 'image folders, --augment random-resized-crop: smallest area fraction in (0, 1] (default 0.08; the Newton-ResNet paper: 0.05)', section: 'data' }],
  ['val-labels', { key: 'valLabels', kind: 'string', value: 'FILE', help: "image folders: labels of a flat DIR/val folder (ILSVRC's LOC_val_solution.csv, or lines 'FILE CLASS')", section: 'data' }],
  ['local-batch-norm', { key: 'localBatchNorm', kind: 'boolean', help: 'with --distributed and sgd: batch norm on each rank\'s shard of the batch, running statistics averaged (default: synchronised over the whole batch)', section: 'common' }],
  ['skip-corrupt', { key: 'skipCorrupt', kind: 'boolean', help: 'image folders: leave out images that cannot be read or decoded, and count them (default: stop at the first)', section: 'data' }],
  ['stream', { key: 'stream', kind: 'boolean', help: 'CIFAR or uncompressed IDX directory: read each batch\'s images from disk when it is made (data larger than memory; the same preprocessing and results)', section: 'data' }],
  ['early-stop', { key: 'earlyStop', kind: 'string', value: 'N', help: 'stop when the validation accuracy has not improved for N evaluations (needs --validation)', section: 'data' }],
  ['log', { key: 'log', kind: 'string', value: 'FILE', help: 'stream a run log while training, one record per iteration/epoch: FILE.jsonl (JSON Lines) or FILE.csv; draw it with newton-cnn plot', section: 'output' }],
  ['profile', { key: 'profile', kind: 'string', value: 'FILE', help: 'profile the run: write a Chrome trace (Perfetto, chrome://tracing) of every op and phase to FILE and print the per-op table at the end', section: 'output' }],
  ['checkpoint', { key: 'checkpoint', kind: 'string', value: 'PATH', help: 'write a checkpoint at every epoch end (newton: every iteration) and at the end', section: 'output' }],
  ['checkpoint-every', { key: 'checkpointEvery', kind: 'string', value: 'N', help: 'sgd: also write one every N steps; newton: every N iterations', section: 'output' }],
  ['save', { key: 'save', kind: 'string', value: 'FILE', help: 'write the trained model (network, preprocessing, class names) to FILE at the end, for predict/evaluate/export (default with --checkpoint run.ckpt: run.ncnn)', section: 'output' }],
  ['resume', { key: 'resume', kind: 'string', value: 'PATH', help: 'continue the run in this checkpoint (bit-for-bit); raise --epochs to extend it', section: 'output' }],
  ['quiet', { key: 'quiet', kind: 'boolean', help: 'print only the final lines', section: 'output' }],
  ['json', { key: 'json', kind: 'boolean', help: 'print one JSON object with the results at the end (progress stays on stderr)', section: 'output' }],
  ['train-limit', { key: 'trainLimit', kind: 'string', value: 'N', help: 'use only the first N training images', advanced: true, section: 'data' }],
  ['test-limit', { key: 'testLimit', kind: 'string', value: 'N', help: 'use only the first N test images', advanced: true, section: 'data' }],
];

/** Options of `newton-cnn train` whose values must equal the checkpoint's when resuming. */
export const RUN_DEFINING_OPTIONS: readonly (keyof TrainArgs)[] = [
  'model', 'stem', 'data', 'format', 'test', 'shape', 'classes', 'svhnExtra', 'cifarLabels', 'trainLimit', 'testLimit', 'optimizer', 'lr', 'momentum', 'nesterov', 'decay', 'C', 'batchSize', 'loss', 'seed',
  'weightDecay', 'decayWeightsOnly', 'milestones', 'lrFactor', 'warmup', 'mFanout',
  'samplingRate', 'sampling', 'cgMax', 'cgTol', 'lambda', 'gvMode',
  'schedule', 'stepEvery', 'lrMin', 'validation', 'augment', 'imageSize', 'cropScale', 'valLabels', 'stream',
];

/** Options only SGD and scale-amended SGD use (refused with --optimizer newton). */
const SGD_ONLY: readonly (keyof TrainArgs)[] = ['epochs', 'lr', 'momentum', 'nesterov', 'decay', 'weightDecay', 'decayWeightsOnly', 'milestones', 'lrFactor', 'warmup', 'schedule', 'stepEvery', 'lrMin', 'augment'];
/** Options only scale-amended SGD uses (refused with the other optimizers). */
const SCALE_AMENDED_ONLY: readonly (keyof TrainArgs)[] = ['mFanout'];
/** Options only the Newton method uses (refused with --optimizer sgd). */
const NEWTON_ONLY: readonly (keyof TrainArgs)[] = ['samplingRate', 'sampling', 'cgMax', 'cgTol', 'lambda', 'gvMode'];

/**
 * Whether modelByName accepts `name`: cnn3, cnn5, resnet18 / 34 / 50 / 101, or resnet<6n+2>
 * (resnet20, resnet32, … resnet110, any n ≥ 1), spelt without leading zeros.
 */
export function isModelName(name: string): boolean {
  if ((MODEL_NAMES as readonly string[]).includes(name)) return true;
  const m = /^resnet([1-9]\d*)$/.exec(name);
  if (m === null) return false;
  const depth = Number(m[1]);
  return (RESNET_DEPTHS as readonly number[]).includes(depth) || (Number.isSafeInteger(depth) && depth >= 8 && (depth - 2) % 6 === 0);
}

/** Whether `name` is a CIFAR ResNet (resnet<6n+2>, always the cifar stem) rather than resnet18…152. */
function isCifarResNet(name: string): boolean {
  return isModelName(name) && name.startsWith('resnet') && !(RESNET_DEPTHS as readonly number[]).includes(Number(name.slice(6)));
}

/** The stem the model `name` is built with when --stem is not given: imagenet (resnet18…152), cifar (resnet<6n+2>), none (cnn3, cnn5). */
export function defaultStem(name: string): ResNetStem | undefined {
  if (!isModelName(name) || !name.startsWith('resnet')) return undefined;
  return isCifarResNet(name) ? 'cifar' : 'imagenet';
}

/**
 * Refuses combinations that depend on the model or on other options: --stem with a model that has
 * none (or imagenet with a CIFAR ResNet), --lr-factor without --milestones, --decay with --milestones.
 * @throws UsageError naming the option.
 */
export function checkModelOptions(args: TrainArgs): void {
  checkStem(args.model, args.stem);
  checkSchedule(args);
}

/**
 * Refuses schedule options that the chosen --schedule does not use: --milestones outside multistep,
 * --step-every outside step, --lr-factor outside step/multistep, --lr-min outside cosine, --decay
 * outside inverse, and a step or multistep schedule without its epochs.
 * @throws UsageError naming the option.
 */
export function checkSchedule(args: TrainArgs): void {
  const s = args.schedule;
  if (args.milestones !== undefined && s !== 'multistep') throw new UsageError(`--milestones is for --schedule multistep, not ${s}`);
  if (args.given.has('stepEvery') && s !== 'step') throw new UsageError(`--step-every is for --schedule step${args.given.has('schedule') ? `, not ${s}` : ' (give --schedule step)'}`);
  if (args.given.has('lrMin') && s !== 'cosine') throw new UsageError(`--lr-min is for --schedule cosine${args.given.has('schedule') ? `, not ${s}` : ' (give --schedule cosine)'}`);
  if (s === 'step' && args.stepEvery === undefined) throw new UsageError('--schedule step needs --step-every E (the epochs between decays by --lr-factor)');
  if (s === 'multistep' && args.milestones === undefined) throw new UsageError('--schedule multistep needs --milestones E1,E2,… (the epochs at which --lr-factor applies)');
  if (args.given.has('lrFactor') && s !== 'step' && s !== 'multistep') throw new UsageError('--lr-factor needs --milestones E1,E2,… or --schedule step --step-every E (the epochs at which it applies)');
  if (args.given.has('decay') && s !== 'inverse') {
    throw new UsageError(`--decay (γ of the schedule η0/(1 + tγ)) has no effect with ${args.milestones !== undefined ? '--milestones' : `--schedule ${s}`}; give one of them`);
  }
  if (s === 'cosine' && !(args.lrMin < args.lr)) throw new UsageError(`--lr-min ${args.lrMin} must be below --lr ${args.lr}`);
}

/**
 * Refuses --stem with a model that has none, and --stem imagenet with a CIFAR ResNet.
 * @throws UsageError naming the option.
 */
export function checkStem(model: string, stem: ResNetStem | undefined): void {
  if (stem === undefined) return;
  if (defaultStem(model) === undefined) {
    throw new UsageError(`--stem is for the ResNets (${RESNET_DEPTHS.map((d) => `resnet${d}`).join(', ')}, resnet<6n+2>), not ${model}`);
  }
  if (stem === 'imagenet' && isCifarResNet(model)) {
    throw new UsageError(`--stem imagenet: ${model} is a CIFAR ResNet, which always has the cifar stem; the imagenet stem is for ${RESNET_DEPTHS.map((d) => `resnet${d}`).join(', ')}`);
  }
}

/**
 * The value of --data: a data set name as is, or a path made absolute against `cwd`.
 * @throws UsageError when it is neither a name nor an existing file or directory.
 */
export function resolveDataOption(text: string, cwd: string): string {
  if ((DATA_NAMES as readonly string[]).includes(text)) return text;
  const data = path.resolve(cwd, text);
  if (!fs.existsSync(data)) {
    throw new UsageError(`--data: '${text}' is neither a data set name (${DATA_NAMES.join(', ')}) nor an existing file or directory`);
  }
  return data;
}

function optionName(key: keyof TrainArgs): string {
  const entry = TRAIN_OPTIONS.find(([, s]) => s.key === key);
  return entry ? `--${entry[0]}` : String(key);
}

/** The command-line spelling of a TrainArgs key, e.g. 'batchSize' → '--batch-size'. */
export function flagOf(key: keyof TrainArgs): string {
  return optionName(key);
}

// The titles of the help sections (HELP_SECTIONS).
const SECTION_TITLES: Readonly<Record<HelpSection, string>> = {
  common: 'Common options:',
  newton: 'Newton options (--optimizer newton, the default):',
  sgd: 'SGD options (--optimizer sgd | scale-amended-sgd):',
  data: 'Data options:',
  output: 'Output, checkpoints and logs:',
};

// 'sgd: X' → 'X' and 'sgd, --schedule step: X' → '--schedule step: X' (the section already says which optimizer).
function stripPrefix(help: string): string {
  return help.replace(/^(newton|sgd|scale-amended-sgd)(, ([^:]+))?: /, (_m, _o, _c, cond: string | undefined) => (cond !== undefined ? `${cond}: ` : ''));
}

// The option list of `train --help`, one section after another (advanced options last in theirs).
function helpSections(width: number): string {
  const flag = (name: string, s: OptionSpec): string => `--${name}${s.value ? ` ${s.value}` : ''}`;
  const parts: string[] = [];
  for (const section of HELP_SECTIONS) {
    const specs = TRAIN_OPTIONS.filter(([, s]) => (s.section ?? 'output') === section);
    const ordered = [...specs.filter(([, s]) => s.advanced !== true), ...specs.filter(([, s]) => s.advanced === true)];
    const rows: Array<[string, string]> = ordered.map(([name, s]) => [flag(name, s), section === 'newton' || section === 'sgd' ? stripPrefix(s.help) : s.help]);
    if (section === 'output') rows.push(['-h, --help', 'show this help']);
    parts.push(SECTION_TITLES[section], optionRows(rows, width), '');
  }
  return parts.join('\n').trimEnd();
}

/** The text of `newton-cnn --help`. */
export function mainUsage(): string {
  return [
    'Usage: newton-cnn <command> [options]',
    '',
    'Train convolutional networks with subsampled Newton methods or SGD on CPU or GPU.',
    '',
    'Commands:',
    '  train      train a network and print its test accuracy (newton-cnn train --help)',
    '  predict    top classes of PNG/JPEG images or data records under a model file (--help)',
    '  evaluate   accuracy, top-5, per-class accuracy, confusion matrix and loss of a model file',
    '  export     write a model file as ONNX (newton-cnn export --help)',
    '  info       print the version, the devices and the BLAS in use',
    '  spectrum   curvature spectrum (Hessian or Gauss-Newton) of a model or a checkpoint (newton-cnn spectrum --help)',
    '  condition  Hessian condition number against depth of n-shortcut linear networks (newton-cnn condition --help)',
    '  plot       training curves (accuracy, objective against time) of run logs from train --log (--help)',
    '  profile    run a short training workload under the profiler and print the per-op table (newton-cnn profile --help)',
    '',
    'Options:',
    '  -h, --help     show help',
    '  -V, --version  print the version',
    '',
    'Example:',
    '  newton-cnn train                      # cnn3 + subsampled Newton on the bundled Fashion-MNIST subset',
    '  newton-cnn train --iterations 30 --sampling-rate 0.1 --checkpoint run.ckpt',
    '  newton-cnn train --resume run.ckpt --iterations 50',
    '  newton-cnn train --log newton.jsonl && newton-cnn plot newton.jsonl sgd.jsonl -o curves.svg',
    '  newton-cnn train --optimizer sgd --epochs 20 --save model.ncnn',
    '  newton-cnn predict --model model.ncnn shirt.png boot.jpg',
    '  newton-cnn evaluate --model model.ncnn --data fashion-mnist-small',
    '  newton-cnn export --model model.ncnn --onnx model.onnx',
    '  newton-cnn train --optimizer sgd --model resnet20 --data DIR --loss cross-entropy --lr 0.1 --epochs 160 \\',
    '                   --milestones 80,120 --warmup 1 --weight-decay 5e-4 --decay-weights-only',
    '  newton-cnn train --optimizer scale-amended-sgd --model resnet20 --data DIR --loss cross-entropy --epochs 160',
    '  newton-cnn spectrum --checkpoint run.ckpt --top 5 --trace --density density.svg',
    '  newton-cnn condition --shortcuts 1,2,3 --depths 6,12,24 --plot condition.svg',
  ].join('\n');
}

/**
 * The text of `newton-cnn train --help`, options grouped by optimizer (common, Newton, SGD, data,
 * output) and every line wrapped to `columns` (the terminal's width; default 80).
 */
export function trainUsage(columns?: number): string {
  const width = helpWidth(columns);
  const p = (text: string): string => paragraph(text, width);
  return [
    'Usage: newton-cnn train [options]',
    '',
    p(
      "Trains a CNN with the subsampled Gauss-Newton method (Algorithm 1 of Wang, Tan & Lin's Newton-methods paper: " +
        'Levenberg-Marquardt damping, CG, backtracking line search; the default) or SGD + momentum (its Algorithm 2) ' +
        "on the paper's preprocessing (per-image min-max scaling, minus the training set's pixel mean), then prints " +
        '`test accuracy: 0.xxxx`, `train accuracy: …`, `objective: …` and `time: …s`.',
    ),
    '',
    p(
      'Progress (with rate and ETA) goes to stderr: a redrawn line on a terminal (Newton: the phase of the iteration — ' +
        'gradient pass, CG steps, line search), occasional plain lines otherwise. Newton prints one line per iteration ' +
        '(objective, ‖∇f‖, CG steps, λ, ρ, step size, time, test accuracy), SGD one line per epoch; dropout is the ' +
        "identity in Newton's f, ∇f and Gauss-Newton products. Results go to stdout. --log streams every record to a " +
        'file (newton-cnn plot draws it).',
    ),
    '',
    p(
      'Scale-amended SGD (--optimizer scale-amended-sgd; Zhang, Chen & Liu, "On the Local Hessian in Back-propagation", ' +
        'Algorithm 2) is SGD + momentum whose step on each conv/linear weight W is multiplied by ‖W‖²/(#rows·m) and on ' +
        "the other parameters by 1/m, m the product of the layers' out/in width ratios above it. It takes the SGD options " +
        "with the paper's defaults: --lr 0.1, --momentum 0.9, --weight-decay 0.005, --decay 0; --m-fanout says how m " +
        'combines at shortcuts.',
    ),
    '',
    helpSections(width),
    '',
    p(
      'Checkpoints (--checkpoint) hold θ, the optimizer, the RNG, the position and the options; they are written ' +
        'atomically. --resume continues exactly where the run stopped (and keeps writing to the same file unless ' +
        "--checkpoint says otherwise); options given with --resume must match the checkpoint's, except --epochs / " +
        '--iterations (to extend the run), the checkpoint options, --device, --threads, --quiet, --json and --log. ' +
        'Ctrl-C stops after the current batch (newton: at once, discarding the unfinished iteration), writes a checkpoint ' +
        '(to --checkpoint or ./newton-cnn-interrupted.ckpt) and exits with code 130; a second Ctrl-C exits at once. ' +
        'SIGTERM and SIGHUP are handled as Ctrl-C is (exit codes 143 and 129).',
    ),
    '',
    p(
      'A run that diverges (a loss, the objective or θ not finite) stops at once with exit code 3, writing no checkpoint: ' +
        'the last one is kept. --C must give C·l ≥ 2^-53 (l: training images), and with --optimizer sgd, --lr must be ' +
        'below 2(1 + μ)/(1/(C·l) + W) (Nesterov: 2(1 + μ)/((1 + 2μ)(1/(C·l) + W)), W the --weight-decay), beyond which ' +
        'the regulariser alone makes SGD diverge. 1/(C·l) > 2^24 is warned about.',
    ),
    '',
    p('Exit codes: 0 done, 1 error, 2 bad usage, 3 diverged, 130 interrupted (Ctrl-C, SIGINT), 143 terminated (SIGTERM), 129 hung up (SIGHUP).'),
  ].join('\n');
}

/** Parses a number (or an integer) given to `flag`. @throws UsageError naming the flag. */
export function parseNumber(flag: string, text: string, what: 'integer' | 'number'): number {
  const t = text.trim();
  const ok = what === 'integer' ? /^[+-]?\d+$/.test(t) : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t);
  const v = Number(t);
  if (!ok || !Number.isFinite(v) || (what === 'integer' && !Number.isSafeInteger(v))) {
    throw new UsageError(`${flag} must be ${what === 'integer' ? 'an integer' : 'a number'}, got '${text}'`);
  }
  return v;
}

/** Parses a positive integer given to `flag`. @throws UsageError naming the flag. */
export function positiveInt(flag: string, text: string): number {
  const v = parseNumber(flag, text, 'integer');
  if (v < 1) throw new UsageError(`${flag} must be a positive integer, got '${text}'`);
  return v;
}

/** Checks that `text` is one of `choices`. @throws UsageError naming the flag and the choices. */
export function choice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`${flag} must be one of: ${choices.join(', ')} (got '${text}')`);
  }
  return text as T;
}

/** Parses `--milestones E1,E2,…`: strictly increasing positive numbers (epochs). */
export function parseMilestones(flag: string, text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const out = parts.map((p) => {
    if (p === '') throw new UsageError(`${flag} must be epochs E1,E2,… (e.g. 100,150), got '${text}'`);
    return parseNumber(flag, p, 'number');
  });
  out.forEach((e, i) => {
    if (!(e > 0)) throw new UsageError(`${flag} must be positive epochs, got ${e} in '${text}'`);
    if (i > 0 && !(e > out[i - 1])) throw new UsageError(`${flag} must be strictly increasing, got ${out[i - 1]} then ${e} in '${text}'`);
  });
  return out;
}

/** Parses `C,H,W` (or `CxHxW`). */
export function parseShape(flag: string, text: string): [number, number, number] {
  const parts = text.split(/[,x×]/).map((s) => s.trim());
  if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p) && Number(p) >= 1)) {
    throw new UsageError(`${flag} must be three positive integers C,H,W (e.g. 1,28,28), got '${text}'`);
  }
  return [Number(parts[0]), Number(parts[1]), Number(parts[2])];
}

/**
 * Turns an error of node:util parseArgs into a UsageError with this CLI's wording; for an unknown
 * option, the closest of the command's long option names `known` (did you mean --xyz?).
 */
export function parseError(e: unknown, known: readonly string[] = []): UsageError {
  const err = e as { code?: string; message?: string };
  const msg = String(err.message ?? e);
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /Unknown option '([^']+)'/.exec(msg);
    const option = m ? m[1] : msg;
    return new UsageError(`unknown option '${option}'${option.startsWith('--') ? didYouMeanOption(option, known) : ''}`);
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const m = /Unexpected argument '([^']+)'/.exec(msg);
    return new UsageError(`unexpected argument '${m ? m[1] : msg}'`);
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const m = /Option '(--[\w-]+)[^']*' argument (missing|is ambiguous)/.exec(msg);
    if (m) return new UsageError(`${m[1]} needs a value${m[2] === 'missing' ? '' : ` (to give one starting with '-', write ${m[1]}=VALUE)`}`);
    return new UsageError(msg.split('\n')[0].replace(/\.$/, ''));
  }
  return new UsageError(msg);
}

// parseArgs treats `--seed -1` as a missing value; join numeric-looking negative values to their
// option (`--seed=-1`) so that validation can say what is wrong with them.
export function joinNegativeValues(argv: readonly string[], stringOptions: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && stringOptions.has(a.slice(2)) && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Typed access to one command's parsed options; records the names of those given. */
export interface OptionReader {
  /** The keys of the options given on the command line (keyOf of their names). */
  readonly given: Set<string>;
  /** A string option's text (undefined when absent; a UsageError when given empty). */
  str(name: string): string | undefined;
  /** Whether a flag was given. */
  bool(name: string): boolean;
  /** A string option parsed by f(flag, text), or undefined when absent. */
  opt<T>(name: string, f: (flag: string, text: string) => T): T | undefined;
}

/**
 * Parses `argv` strictly against a command's option table (long names and kinds, plus -h/--help)
 * and returns a reader, or null when --help was asked for. An option given twice is refused (none
 * is repeatable; parseArgs alone would silently keep the last). keyOf maps an option name to the key
 * `given` records (default: the name).
 * @throws UsageError for unknown options and missing values.
 */
export function readOptions(argv: readonly string[], table: ReadonlyArray<readonly [string, { readonly kind: OptionKind }]>, keyOf: (name: string) => string = (n) => n): OptionReader | null {
  const options: Record<string, { type: OptionKind; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, s] of table) options[name] = { type: s.kind };
  let values: Record<string, string | boolean | undefined>;
  let tokens: ReadonlyArray<{ kind: string; name?: string; value?: string | undefined }>;
  try {
    const stringOptions = new Set(table.filter(([, s]) => s.kind === 'string').map(([n]) => n));
    const parsed = parseArgs({ args: joinNegativeValues(argv, stringOptions), options, strict: true, allowPositionals: false, tokens: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
    tokens = parsed.tokens;
  } catch (e) {
    throw parseError(e, table.map(([n]) => n));
  }
  if (values.help === true) return null;
  // parseArgs keeps the last of a repeated option: refuse repetitions (no option is repeatable)
  const seen = new Map<string, string | undefined>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === undefined) continue;
    if (seen.has(t.name)) {
      const before = seen.get(t.name);
      const both = before !== undefined && t.value !== undefined ? ` ('${before}', then '${t.value}')` : '';
      throw new UsageError(`--${t.name} is given twice${both}; give it once`);
    }
    seen.set(t.name, t.value);
  }
  const given = new Set<string>();
  const str = (name: string): string | undefined => {
    const v = values[name];
    if (typeof v !== 'string') return undefined;
    given.add(keyOf(name));
    if (v === '') throw new UsageError(`--${name} needs a value`);
    return v;
  };
  return {
    given,
    str,
    bool: (name) => {
      if (values[name] !== true) return false;
      given.add(keyOf(name));
      return true;
    },
    opt: (name, f) => {
      const v = str(name);
      return v === undefined ? undefined : f(`--${name}`, v);
    },
  };
}

/** The default model file of a run checkpointing to `checkpoint`: its name with `.ncnn` for `.ckpt` (or added). */
export function modelFileNextTo(checkpoint: string): string {
  return checkpoint.endsWith('.ckpt') ? `${checkpoint.slice(0, -'.ckpt'.length)}.ncnn` : `${checkpoint}.ncnn`;
}

/**
 * The absolute path of an output file named by `flag`: its directory must exist and it must not
 * be a directory. @throws UsageError naming the flag.
 */
export function outputFile(flag: string, text: string, cwd: string): string {
  const p = path.resolve(cwd, text);
  const dir = path.dirname(p);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${flag}: no such directory '${path.dirname(text)}' for '${text}'`);
  if (fs.existsSync(p) && fs.statSync(p).isDirectory()) throw new UsageError(`${flag}: '${text}' is a directory; give a file name`);
  return p;
}

/**
 * Parses and validates the arguments after `train`. Returns null when --help was asked for.
 * @throws UsageError naming the option for unknown options, missing or malformed values,
 *   unknown models, losses, optimizers or data sets, and conflicting options.
 */
export function parseTrainArgs(argv: readonly string[], cwd: string = process.cwd()): TrainArgs | null {
  const reader = readOptions(argv, TRAIN_OPTIONS, (name) => TRAIN_OPTIONS.find(([n]) => n === name)![1].key);
  if (reader === null) return null;
  const { given, str, bool, opt } = reader;
  const num = (flag: string, t: string): number => parseNumber(flag, t, 'number');

  const model =
    opt('model', (f, t) => {
      if (!isModelName(t)) throw new UsageError(`${f} must be one of: ${MODELS.join(', ')} or another resnet<6n+2> (got '${t}')`);
      return t;
    }) ?? 'cnn3';
  const stem = opt('stem', (f, t) => choice(f, t, STEMS));
  const data = resolveDataOption(str('data') ?? 'fashion-mnist-small', cwd);
  const format = opt('format', (f, t) => choice(f, t, FORMATS));
  const testText = str('test');
  const test = testText === undefined ? undefined : path.resolve(cwd, testText);
  if (test !== undefined && !fs.existsSync(test)) throw new UsageError(`--test: no such file '${testText}'`);
  const shape = opt('shape', parseShape);
  const classes = opt('classes', positiveInt);
  const svhnExtra = bool('svhn-extra');
  const cifarLabels = opt('cifar-labels', (f, t) => choice(f, t, CIFAR_LABELS));
  const optimizer = opt('optimizer', (f, t) => choice(f, t, OPTIMIZERS)) ?? 'newton';
  const epochsGiven = opt('epochs', positiveInt);
  const iterations = opt('iterations', positiveInt);
  if (epochsGiven !== undefined && iterations !== undefined) throw new UsageError('give --epochs or --iterations, not both');
  const amended = optimizer === 'scale-amended-sgd';
  const lr = opt('lr', num) ?? (amended ? SCALE_AMENDED_DEFAULTS.lr : 0.003);
  if (!(lr > 0)) throw new UsageError(`--lr must be positive, got ${lr}`);
  const momentum = opt('momentum', num) ?? 0.9;
  if (!(momentum >= 0 && momentum < 1)) throw new UsageError(`--momentum must be in [0, 1), got ${momentum}`);
  const nesterov = bool('nesterov');
  const decay = opt('decay', num) ?? (amended ? SCALE_AMENDED_DEFAULTS.decay : 1e-6);
  if (!(decay >= 0)) throw new UsageError(`--decay must be non-negative, got ${decay}`);
  const weightDecay = opt('weight-decay', num) ?? (amended ? SCALE_AMENDED_DEFAULTS.weightDecay : 0);
  if (!(weightDecay >= 0)) throw new UsageError(`--weight-decay must be non-negative, got ${weightDecay}`);
  const decayWeightsOnly = bool('decay-weights-only');
  const milestones = opt('milestones', parseMilestones);
  const lrFactor = opt('lr-factor', num) ?? 0.1;
  if (!(lrFactor > 0)) throw new UsageError(`--lr-factor must be positive, got ${lrFactor}`);
  const warmup = opt('warmup', num) ?? 0;
  if (!(warmup >= 0)) throw new UsageError(`--warmup must be non-negative (epochs), got ${warmup}`);
  const schedule = opt('schedule', (f, t) => choice(f, t, SCHEDULES)) ?? (milestones !== undefined ? 'multistep' : 'inverse');
  const stepEvery = opt('step-every', num);
  if (stepEvery !== undefined && !(stepEvery > 0)) throw new UsageError(`--step-every must be positive (epochs), got ${stepEvery}`);
  const lrMin = opt('lr-min', num) ?? 0;
  if (!(lrMin >= 0)) throw new UsageError(`--lr-min must be non-negative, got ${lrMin}`);
  const validation = opt('validation', num) ?? 0;
  if (given.has('validation') && !((validation > 0 && validation < 1) || (Number.isSafeInteger(validation) && validation >= 1))) {
    throw new UsageError(`--validation must be a fraction in (0, 1) of the training set (e.g. 0.1) or a whole number of images (e.g. 5000), got ${validation}`);
  }
  const earlyStop = opt('early-stop', positiveInt);
  const augment = opt('augment', (f, t) => choice(f, t, AUGMENT_PRESETS));
  const imageSize = opt('image-size', positiveInt);
  if (imageSize !== undefined && imageSize > 32768) throw new UsageError(`--image-size must be at most 32768, got ${imageSize}`);
  const cropScale = opt('crop-scale', num);
  if (cropScale !== undefined && !(cropScale > 0 && cropScale <= 1)) throw new UsageError(`--crop-scale must be an area fraction in (0, 1], got ${cropScale}`);
  if (cropScale !== undefined && augment !== 'random-resized-crop') throw new UsageError('--crop-scale applies to --augment random-resized-crop');
  const valLabelsText = str('val-labels');
  const valLabels = valLabelsText === undefined ? undefined : path.resolve(cwd, valLabelsText);
  if (valLabels !== undefined && !fs.existsSync(valLabels)) throw new UsageError(`--val-labels: no such file '${valLabelsText}'`);
  const skipCorrupt = bool('skip-corrupt');
  const stream = bool('stream');
  const distributed = opt('distributed', (f, t) => choice(f, t, ['mpi', 'nccl'] as const));
  if (distributed !== undefined && optimizer === 'scale-amended-sgd') {
    throw new UsageError('--distributed: scale-amended SGD draws its per-layer scales from the whole batch and is not data-parallel yet; use --optimizer newton or sgd');
  }
  const localBatchNorm = bool('local-batch-norm');
  if (localBatchNorm && (distributed === undefined || optimizer !== 'sgd')) {
    throw new UsageError('--local-batch-norm: only with --distributed and --optimizer sgd (the Newton method keeps S one batch: batch norm is synchronised)');
  }
  if (earlyStop !== undefined && !given.has('validation')) throw new UsageError('--early-stop needs --validation F (the held-out fraction it watches), e.g. --validation 0.1 --early-stop 5');
  const logText = str('log');
  const log = logText === undefined ? undefined : outputFile('--log', logText, cwd);
  const profileText = str('profile');
  const profile = profileText === undefined ? undefined : outputFile('--profile', profileText, cwd);
  const mFanout = opt('m-fanout', (f, t) => choice(f, t, M_FANOUTS)) ?? 'max';
  const C = opt('C', num) ?? 0.01;
  if (!(C > 0)) throw new UsageError(`--C must be positive, got ${C}`);
  const batchSize = opt('batch-size', positiveInt) ?? 128;
  const loss = opt('loss', (f, t) => choice(f, t, LOSSES)) ?? 'squared';
  const seed = opt('seed', (f, t) => parseNumber(f, t, 'integer')) ?? 0;
  if (seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${seed}`);
  const device = str('device') ?? (distributed === 'nccl' ? 'cuda' : 'cpu');
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) throw new UsageError(`--device must be cpu, cuda or cuda:N, got '${device}'`);
  if (distributed === 'nccl' && device !== 'cuda') {
    throw new UsageError(`--distributed nccl trains each rank on the GPU of its local rank: leave out --device (or give cuda), not '${device}'`);
  }
  if (distributed === 'mpi' && device !== 'cpu') throw new UsageError(`--distributed mpi sums CPU tensors; on GPUs use --distributed nccl (one GPU per rank), not --device ${device}`);
  const threads = opt('threads', positiveInt);
  if (threads !== undefined && threads > 256) throw new UsageError(`--threads must be at most 256, got ${threads}`);
  const checkpointText = str('checkpoint');
  const checkpointEvery = opt('checkpoint-every', positiveInt);
  const resumeText = str('resume');
  const resume = resumeText === undefined ? undefined : path.resolve(cwd, resumeText);
  if (resume !== undefined && !fs.existsSync(resume)) throw new UsageError(`--resume: no such file '${resumeText}'`);
  const checkpoint = checkpointText === undefined ? resume : path.resolve(cwd, checkpointText);
  if (checkpointEvery !== undefined && checkpoint === undefined) throw new UsageError('--checkpoint-every needs --checkpoint PATH (or --resume PATH)');
  // The model file: --save, else next to the checkpoint (run.ckpt → run.ncnn), else none.
  const save = opt('save', (f, t) => outputFile(f, t, cwd)) ?? (checkpoint === undefined ? undefined : modelFileNextTo(checkpoint));
  if (save !== undefined && checkpoint !== undefined && save === checkpoint) throw new UsageError('--save and --checkpoint name the same file; a model file and a checkpoint are different files');
  const quiet = bool('quiet');
  const json = bool('json');
  const trainLimit = opt('train-limit', positiveInt);
  const testLimit = opt('test-limit', positiveInt);
  const samplingRate = opt('sampling-rate', num) ?? 0.05;
  if (!(samplingRate > 0 && samplingRate <= 1)) throw new UsageError(`--sampling-rate must be in (0, 1], got ${samplingRate}`);
  const sampling = opt('sampling', (f, t) => choice(f, t, SAMPLINGS)) ?? 'epoch';
  const cgMax = opt('cg-max', positiveInt) ?? 250;
  const cgTol = opt('cg-tol', num) ?? 0.1;
  if (!(cgTol > 0 && cgTol < 1)) throw new UsageError(`--cg-tol must be in (0, 1), got ${cgTol}`);
  const lambda = opt('lambda', num) ?? 1;
  if (!(lambda > 0)) throw new UsageError(`--lambda must be positive, got ${lambda}`);
  const gvMode = opt('gv-mode', (f, t) => choice(f, t, GV_MODES)) ?? 'rop';
  const args: TrainArgs = {
    model,
    ...(stem !== undefined ? { stem } : {}),
    data,
    ...(format !== undefined ? { format } : {}),
    ...(test !== undefined ? { test } : {}),
    ...(shape !== undefined ? { shape } : {}),
    ...(classes !== undefined ? { classes } : {}),
    ...(svhnExtra ? { svhnExtra } : {}),
    ...(cifarLabels !== undefined ? { cifarLabels } : {}),
    ...(trainLimit !== undefined ? { trainLimit } : {}),
    ...(testLimit !== undefined ? { testLimit } : {}),
    optimizer,
    epochs: epochsGiven ?? DEFAULT_EPOCHS,
    ...(iterations !== undefined ? { iterations } : optimizer === 'newton' ? { iterations: DEFAULT_NEWTON_ITERATIONS_CLI } : {}),
    samplingRate,
    sampling,
    cgMax,
    cgTol,
    lambda,
    gvMode,
    lr,
    momentum,
    nesterov,
    decay,
    weightDecay,
    decayWeightsOnly,
    ...(milestones !== undefined ? { milestones } : {}),
    lrFactor,
    warmup,
    schedule,
    ...(stepEvery !== undefined ? { stepEvery } : {}),
    lrMin,
    validation,
    ...(earlyStop !== undefined ? { earlyStop } : {}),
    ...(augment !== undefined ? { augment } : {}),
    ...(imageSize !== undefined ? { imageSize } : {}),
    ...(cropScale !== undefined ? { cropScale } : {}),
    ...(valLabels !== undefined ? { valLabels } : {}),
    ...(skipCorrupt ? { skipCorrupt } : {}),
    ...(localBatchNorm ? { localBatchNorm } : {}),
    ...(stream ? { stream } : {}),
    ...(distributed !== undefined ? { distributed } : {}),
    ...(log !== undefined ? { log } : {}),
    ...(profile !== undefined ? { profile } : {}),
    mFanout,
    C,
    batchSize,
    loss,
    seed,
    device,
    ...(threads !== undefined ? { threads } : {}),
    ...(checkpoint !== undefined ? { checkpoint } : {}),
    ...(save !== undefined ? { save } : {}),
    ...(checkpointEvery !== undefined ? { checkpointEvery } : {}),
    ...(resume !== undefined ? { resume } : {}),
    quiet,
    json,
    given,
  };
  // With --resume and no --optimizer, the optimizer comes from the checkpoint: runTrain checks then.
  if (resume === undefined || given.has('optimizer')) checkOptimizerOptions(args);
  // With --resume, the model and the schedule may come from the checkpoint: runTrain checks then.
  if (resume === undefined) checkModelOptions(args);
  return args;
}

/**
 * Refuses options of the other optimizer (--lr with newton, --sampling-rate with sgd, …).
 * @throws UsageError naming the option.
 */
export function checkOptimizerOptions(args: TrainArgs): void {
  const refused = args.optimizer === 'newton' ? [...SGD_ONLY, ...SCALE_AMENDED_ONLY] : args.optimizer === 'sgd' ? [...NEWTON_ONLY, ...SCALE_AMENDED_ONLY] : NEWTON_ONLY;
  const foreign = refused.find((k) => args.given.has(k));
  if (foreign === undefined) return;
  if (foreign === 'epochs' && args.optimizer === 'newton') {
    // the most common first mistake: --epochs with the default optimizer
    throw new UsageError(
      `--epochs is an SGD option, and the default optimizer is the Newton method, which counts iterations: write --optimizer sgd --epochs ${args.epochs} ` +
        `to train with SGD, or --iterations N to train with Newton (default ${DEFAULT_NEWTON_ITERATIONS_CLI}; one iteration takes a pass over the data and a few more for the line search)`,
    );
  }
  if (SCALE_AMENDED_ONLY.includes(foreign)) throw new UsageError(`${flagOf(foreign)} is a scale-amended SGD option; it needs --optimizer scale-amended-sgd`);
  throw new UsageError(
    args.optimizer === 'newton'
      ? `${flagOf(foreign)} is an SGD option; the Newton method (the default optimizer) takes --iterations, --sampling-rate, --cg-max, --cg-tol, --lambda, --gv-mode, --sampling (or give --optimizer sgd)`
      : `${flagOf(foreign)} is a Newton option; it needs --optimizer newton`,
  );
}

/** Parses the arguments of `newton-cnn info` (only --json and --help). */
export function parseInfoArgs(argv: readonly string[]): { json: boolean; help: boolean } {
  try {
    const { values } = parseArgs({ args: [...argv], options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    return { json: values.json === true, help: values.help === true };
  } catch (e) {
    throw parseError(e);
  }
}
