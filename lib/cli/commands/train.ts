/**
 * `newton-cnn train`: load and preprocess the data, build the network, train it with the
 * subsampled Newton method (the default; one line per iteration) or SGD (progress, per-epoch
 * lines), with checkpoints and Ctrl-C handling, then print the final metrics.
 *
 * Output: the header, the per-epoch lines and the final lines go to stdout (only the final lines
 * with --quiet, one JSON object with --json); progress goes to stderr.
 *
 * @packageDocumentation
 */
import * as path from 'node:path';

import { checkWritableDestination } from '../../atomic-file';
import { checkCheckpointPath, loadCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointModel, type JsonValue } from '../../checkpoint';
import type { AnyDataset, SkippedImages } from '../../data';
import { initDistributed, type Distributed } from '../../distributed';
import type { Preprocessing } from '../../model/preprocessing';
import { lossByName, modelByName, type Network } from '../../nn';
import { Model } from '../../model';
import type { ScaleAmendedSgdOptions, SgdOptions, SgdSchedule } from '../../optim';
import { subset } from '../../data/dataset';
import { stratifiedSplit } from '../../data/split';
import { fitParts, Progress } from '../../progress';
import { getNumThreads, info, setNumThreads } from '../../runtime';
import {
  DivergenceError,
  evaluateObjective,
  evaluateObjectiveAsync,
  maxStableLearningRate,
  MIN_CL,
  trainNewton,
  trainSgd,
  type EpochStats,
  type NewtonIteration,
  type NewtonProgress,
  type NewtonTrainResult,
  type TrainResult,
  type TrainState,
  WARN_INVERSE_CL,
} from '../../train';
import { short } from '../../train/divergence';
import { EarlyStopping } from '../../train/early-stopping';
import { RunLog, type RunRecord } from '../../train/run-log';
import { checkModelOptions, checkOptimizerOptions, defaultStem, flagOf, OPTIMIZERS, parseTrainArgs, RUN_DEFINING_OPTIONS, UsageError, type TrainArgs } from '../args';
import { checkDevice, loadPaperData } from '../common';
import { imageFolderMessage } from '../image-folder';
import { IMAGE_FOLDER_OPTIONS, isImageFolderLayout, loadImageFolderData, loadRecordData } from '../streamed-data';
import { EXIT, type CliIo } from '../io';

/** Where Ctrl-C writes its checkpoint when no --checkpoint is given (in the working directory). */
export const INTERRUPTED_CHECKPOINT = 'newton-cnn-interrupted.ckpt';

/** trainSgd evaluates on at most this many training examples at epoch ends (its default). */
const EPOCH_EVALUATION_SIZE = 10000;

/** The final metrics of a run. */
export interface TrainSummary {
  /** Accuracy on the test set. */
  testAccuracy: number;
  /** Accuracy on the training set. */
  trainAccuracy: number;
  /** f(θ) on the training set. */
  objective: number;
  /** Mean training loss. */
  trainLoss: number;
  /** Mean test loss. */
  testLoss: number;
}

/** What runTrain returns (besides printing). */
export interface TrainOutcome {
  /** The process exit code: 0, or 130 when interrupted. */
  exitCode: number;
  /** The trainer's result (SGD's TrainResult, or trainNewton's result with --optimizer newton). */
  result: TrainResult | NewtonTrainResult;
  /** The final metrics (absent when interrupted). */
  summary?: TrainSummary;
  /** The checkpoint written last, if any. */
  checkpoint?: string;
  /** With --validation: the validation accuracy, its best and whether --early-stop ended the run. */
  validation?: ValidationReport;
}

/**
 * Stops a training run when the caller's signal fires (Ctrl-C) or when the command decides to
 * (--iterations reached), and remembers which of the two it was.
 */
class RunControl {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  #interrupted: boolean;
  readonly #onAbort = (): void => {
    this.#interrupted = true;
    this.#controller.abort();
  };

  constructor(caller: AbortSignal | undefined) {
    this.#caller = caller;
    this.#interrupted = caller?.aborted === true;
    if (this.#interrupted) this.#controller.abort();
    caller?.addEventListener('abort', this.#onAbort);
  }

  /** The signal handed to the trainer. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the caller interrupted the run (not the command's own stop). */
  get interrupted(): boolean {
    return this.#interrupted;
  }

  /** Stops the run on the command's own account. */
  stop(): void {
    this.#controller.abort();
  }

  /** Stops following the caller's signal (after training). */
  detach(): void {
    this.#caller?.removeEventListener('abort', this.#onAbort);
  }
}

/**
 * A training run that diverged (DivergenceError): main() prints the trainer's message and the
 * note (which checkpoint holds the last finite state) and exits with EXIT.diverged (3).
 */
export class DivergedRun extends Error {
  /** @param divergence the trainer's error; @param note what became of the checkpoint */
  constructor(
    readonly divergence: DivergenceError,
    readonly note: string,
  ) {
    super(divergence.message, { cause: divergence });
    this.name = 'DivergedRun';
  }
}

// Turns a trainer's DivergenceError into a DivergedRun that says which checkpoint is kept.
function divergedRun(e: unknown, args: TrainArgs, checkpoints: CheckpointWriter, unit: string): unknown {
  if (!(e instanceof DivergenceError)) return e;
  const file = args.checkpoint;
  const note =
    file === undefined
      ? 'no checkpoint was written (no --checkpoint)'
      : checkpoints.last !== undefined
        ? `the last checkpoint, ${file} (${unit} ${checkpoints.lastIteration}), is kept: it holds the last finite state`
        : `${file} is kept as it was: this run wrote no checkpoint before it diverged`;
  return new DivergedRun(e, note);
}

/**
 * Refuses (as bad usage) a --C whose C·l is not finite or below 2^-53, and with --optimizer sgd an
 * --lr at which the regulariser alone diverges (lib/train/divergence.ts); warns when 1/(C·l) > 2^24.
 * @throws UsageError naming the option, the rule and the bound
 */
export function checkRegularizationArgs(args: TrainArgs, l: number, io: CliIo): void {
  const Cl = args.C * l;
  if (!Number.isFinite(Cl)) {
    throw new UsageError(`--C ${args.C} with ${l} training images gives C·l = ${Cl}, which overflows; give --C below ${short(Number.MAX_VALUE / l)}`);
  }
  if (!(Cl >= MIN_CL)) {
    throw new UsageError(
      `--C ${args.C} with ${l} training images gives C·l = ${short(Cl)}, below 2^-53 ≈ 1.1e-16: in f = ‖θ‖²/(2Cl) + mean loss the rounding error of the ` +
        `regulariser would exceed the whole loss term and the run would diverge or learn nothing; give --C ${short(MIN_CL / l)} or more (the paper uses 0.01 to 1)`,
    );
  }
  if (args.optimizer === 'sgd') {
    const max = maxStableLearningRate({ learningRate: args.lr, momentum: args.momentum, nesterov: args.nesterov, C: args.C, weightDecay: args.weightDecay }, l);
    if (!(args.lr < max)) {
      const h = 1 / Cl + args.weightDecay;
      const rule = args.nesterov ? '2(1 + μ)/(1 + 2μ) (Nesterov)' : '2(1 + μ)';
      throw new UsageError(
        `--lr ${args.lr} is too large for the regulariser: with --C ${args.C}, ${l} training images${args.weightDecay > 0 ? ` and --weight-decay ${args.weightDecay}` : ''}, ` +
          `η·(1/(C·l)${args.weightDecay > 0 ? ' + W' : ''}) = ${short(args.lr * h)} ≥ ${rule} = ${short(max * h)} (--momentum ${args.momentum}): ` +
          `the term ‖θ‖²/(2Cl) alone makes every step grow θ; give --lr below ${short(max)} or a larger --C`,
      );
    }
  }
  if (1 / Cl > WARN_INVERSE_CL) {
    io.stderr.write(
      `newton-cnn: warning: --C ${args.C} with ${l} training images weights ‖θ‖²/2 by 1/(C·l) = ${short(1 / Cl)} (> 2^24): the regulariser's gradient ` +
        'outweighs the loss gradient beyond float32 resolution and will drive θ towards 0; the paper uses C = 0.01 to 1\n',
    );
  }
}

/** Writes this run's checkpoints and remembers the last file written. */
class CheckpointWriter {
  last: string | undefined;
  /** The optimizer step (Newton iteration) of the last checkpoint written. */
  lastIteration = 0;

  constructor(
    private readonly model: CheckpointModel,
    private readonly options: { [key: string]: JsonValue },
    private readonly optimizer: string,
    private readonly library: string,
  ) {}

  async write(file: string, state: TrainState): Promise<void> {
    await saveCheckpoint(file, { model: this.model, options: this.options, state, optimizer: this.optimizer }, { library: this.library });
    this.last = file;
    this.lastIteration = state.optimizer.iteration;
  }
}

// The run's options as recorded in (and compared with) a checkpoint. The stem is the one the
// network was built with (given or the model's default; null without one).
function recordedOptions(a: TrainArgs): { [key: string]: JsonValue } {
  return {
    model: a.model,
    stem: a.stem ?? defaultStem(a.model) ?? null,
    data: a.data,
    format: a.format ?? null,
    test: a.test ?? null,
    shape: a.shape ?? null,
    classes: a.classes ?? null,
    svhnExtra: a.svhnExtra ?? false,
    cifarLabels: a.cifarLabels ?? null,
    augment: a.augment ?? null,
    // image folders only (absent otherwise, as in checkpoints from before they existed)
    ...(a.imageSize !== undefined ? { imageSize: a.imageSize } : {}),
    ...(a.cropScale !== undefined ? { cropScale: a.cropScale } : {}),
    ...(a.valLabels !== undefined ? { valLabels: a.valLabels } : {}),
    ...(a.skipCorrupt === true ? { skipCorrupt: true } : {}),
    ...(a.stream === true ? { stream: true } : {}),
    trainLimit: a.trainLimit ?? null,
    testLimit: a.testLimit ?? null,
    preprocess: a.format === 'imagefolder' ? 'channels' : 'paper',
    optimizer: a.optimizer,
    loss: a.loss,
    lr: a.lr,
    momentum: a.momentum,
    nesterov: a.nesterov,
    decay: a.decay,
    weightDecay: a.weightDecay,
    decayWeightsOnly: a.decayWeightsOnly,
    milestones: a.milestones ?? null,
    lrFactor: a.lrFactor,
    warmup: a.warmup,
    schedule: a.schedule,
    stepEvery: a.stepEvery ?? null,
    lrMin: a.lrMin,
    validation: a.validation,
    C: a.C,
    batchSize: a.batchSize,
    seed: a.seed,
    epochs: a.epochs,
    iterations: a.iterations ?? null,
    device: a.device,
    ...(a.optimizer === 'newton'
      ? { samplingRate: a.samplingRate, sampling: a.sampling, cgMax: a.cgMax, cgTol: a.cgTol, lambda: a.lambda, gvMode: a.gvMode }
      : {}),
    // (given: compared with a resumed checkpoint's before its optimizer is known)
    ...(a.optimizer === 'scale-amended-sgd' || a.given.has('mFanout') ? { mFanout: a.mFanout } : {}),
  };
}

// What a checkpoint that lacks an option (written before the option existed, or by the other
// optimizer) ran with: the option's default.
let defaultOptions: { [key: string]: JsonValue } | undefined;
function defaultRecordedOptions(): { [key: string]: JsonValue } {
  defaultOptions ??= recordedOptions(parseTrainArgs([])!);
  return defaultOptions;
}

function show(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return '(not set)';
  return Array.isArray(v) ? v.join(',') : String(v);
}

/**
 * The options of a resumed run: the checkpoint's run-defining options, which options given on
 * the command line must equal; --epochs / --iterations may change (to extend the run).
 * @throws UsageError naming the first conflicting option.
 */
export function mergeResumeArgs(args: TrainArgs, ckpt: Checkpoint, file: string): TrainArgs {
  const saved = ckpt.options;
  const given = recordedOptions(args);
  const merged: Record<string, unknown> = { ...args };
  for (const key of RUN_DEFINING_OPTIONS) {
    if (!(key in saved) && !args.given.has(key)) continue; // not recorded (e.g. Newton options of an SGD run): keep the default
    const mine = given[key] ?? null;
    // not recorded: the checkpoint's run had the default (an option newer than the file, or of the other optimizer)
    const theirs = (key in saved ? saved[key] : defaultRecordedOptions()[key]) ?? null;
    if (args.given.has(key)) {
      if (JSON.stringify(mine) !== JSON.stringify(theirs)) {
        throw new UsageError(
          `${flagOf(key)} ${show(mine)} differs from the checkpoint's ${show(theirs)} (${file}): a resumed run keeps its model, data and ` +
            'hyperparameters; only --epochs/--iterations, the checkpoint options, --device, --threads, --quiet and --json may change',
        );
      }
    } else {
      merged[key] = theirs === null ? undefined : Array.isArray(theirs) ? [...theirs] : theirs;
    }
  }
  if (!(OPTIMIZERS as readonly JsonValue[]).includes(saved.optimizer)) {
    throw new UsageError(`${file}: the checkpoint is of a '${show(saved.optimizer)}' run; this newton-cnn resumes ${OPTIMIZERS.join(', ')} runs only`);
  }
  if (ckpt.optimizer !== saved.optimizer) throw new UsageError(`${file}: the checkpoint's state is of '${show(ckpt.optimizer ?? 'sgd')}' but its options say '${show(saved.optimizer)}'`);
  if (!args.given.has('epochs') && !args.given.has('iterations')) {
    merged.epochs = typeof saved.epochs === 'number' ? saved.epochs : args.epochs;
    merged.iterations = typeof saved.iterations === 'number' ? saved.iterations : undefined;
  } else if (args.given.has('epochs')) {
    merged.iterations = undefined;
  }
  // a checkpoint from before --schedule: its --milestones meant the multistep schedule
  if (!('schedule' in saved) && !args.given.has('schedule') && merged.milestones !== undefined && merged.milestones !== null) merged.schedule = 'multistep';
  for (const k of Object.keys(merged)) if (merged[k] === undefined || (k === 'stepEvery' && merged[k] === null)) delete merged[k];
  return merged as unknown as TrainArgs;
}

function fmt(x: number | undefined, digits = 4): string {
  return x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/** The data of a run: in memory with the paper's preprocessing, or an image folder normalised per channel. */
interface TrainingData {
  train: AnyDataset;
  test: AnyDataset;
  preprocessing: Preprocessing;
  classNames?: readonly string[];
  /** --skip-corrupt: the images left out. */
  skipped?: SkippedImages;
  /** An image folder's evaluation transform (shorter side before the central crop), for the model file. */
  imageResize?: number;
}

// Reads --data: an image folder (DIR/train/CLASS/…, --format imagefolder or guessed) streams from
// disk; everything else is read into memory and preprocessed as the paper does.
async function loadTrainingData(args: TrainArgs, io: CliIo): Promise<TrainingData> {
  if (args.format === 'imagefolder') {
    const d = await loadImageFolderData(args, (line) => io.stderr.write(`warning: ${line}\n`));
    return {
      train: d.train,
      test: d.test,
      classNames: d.classNames,
      preprocessing: { kind: 'channels', mean: Float32Array.from(d.stats.mean), std: Float32Array.from(d.stats.std) },
      imageResize: d.train.resizeTo,
      ...(d.skipped !== undefined ? { skipped: d.skipped } : {}),
    };
  }
  for (const [key, flag] of IMAGE_FOLDER_OPTIONS) {
    if (args[key] !== undefined && args[key] !== false) throw new UsageError(`${flag} applies to image folders (--data DIR with DIR/train/CLASS/*.jpg), not to ${args.data}`);
  }
  if (args.augment === 'random-resized-crop') throw new UsageError(`--augment random-resized-crop is for image folders; ${args.data} takes --augment crop-flip`);
  if (args.stream === true) {
    const d = await loadRecordData(args);
    return { train: d.train, test: d.test, preprocessing: { kind: 'paper', mean: d.mean }, ...(d.classNames !== undefined ? { classNames: d.classNames } : {}) };
  }
  try {
    const d = await loadPaperData(args);
    return { train: d.train, test: d.test, preprocessing: { kind: 'paper', mean: d.mean }, ...(d.classNames !== undefined ? { classNames: d.classNames } : {}) };
  } catch (e) {
    // a folder of PNG/JPEG images not laid out as train/CLASS: say how, rather than the reader's "not a CIFAR binary directory"
    const hint = imageFolderMessage(args.data, path.relative(io.cwd ?? process.cwd(), args.data) || args.data);
    if (hint !== undefined) throw new UsageError(hint);
    throw e;
  }
}

/**
 * Runs `newton-cnn train` with parsed arguments.
 * @throws UsageError for options inconsistent with a resumed checkpoint or an unavailable device;
 *   Error for unreadable data or checkpoints.
 */
export async function runTrain(parsed: TrainArgs, cliIo: CliIo): Promise<TrainOutcome> {
  let io = cliIo;
  const out = (line: string): void => {
    progress?.clear();
    io.stdout.write(`${line}\n`);
  };
  let progress: Progress | undefined;

  let resumeFrom: Checkpoint | undefined;
  let args = parsed;
  if (parsed.resume !== undefined) {
    resumeFrom = await loadCheckpoint(parsed.resume);
    args = mergeResumeArgs(parsed, resumeFrom, parsed.resume);
    checkOptimizerOptions(args);
    checkModelOptions(args);
  }
  // an image folder is recognised by its layout (and so recorded in checkpoints and logs)
  if (args.format === undefined && isImageFolderLayout(args.data)) args = { ...args, format: 'imagefolder' };
  // --distributed: every rank trains; rank 0 alone prints and writes files
  let distributed: Distributed | undefined;
  if (args.distributed !== undefined) {
    try {
      distributed = initDistributed(args.distributed);
    } catch (e) {
      throw new UsageError(`--distributed ${args.distributed}: ${(e as Error).message.replace(/^initDistributed: /, '')}`);
    }
    // nccl: this rank's GPU (cuda:localRank modulo the host's GPUs)
    if (distributed.backend === 'nccl') args = { ...args, device: distributed.device };
    if (distributed.rank !== 0) {
      io = { ...io, stdout: { write: () => true } };
      args = { ...args, quiet: true, json: false, checkpoint: undefined, save: undefined, log: undefined, profile: undefined, follower: true };
    }
  }
  if (args.threads !== undefined) setNumThreads(args.threads);
  checkDevice(args.device);
  // the output paths, before any training (a directory, a missing or unwritable directory)
  if (args.checkpoint !== undefined) {
    try {
      await checkCheckpointPath(args.checkpoint);
    } catch (e) {
      throw new UsageError(`--checkpoint: ${(e as Error).message.replace(/^checkpoint: /, '')}`);
    }
  }
  // (--save after --checkpoint: by default it lies next to the checkpoint)
  if (args.save !== undefined) {
    try {
      await checkWritableDestination('--save', args.save);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }

  const loaded = await loadTrainingData(args, io);
  const { test } = loaded;
  // --validation: a stratified held-out part of the training set (the same for a resumed run: seeded)
  let train = loaded.train;
  let validation: AnyDataset | undefined;
  if (args.validation > 0) {
    // a number of images (≥ 1) or a fraction
    const fraction = args.validation >= 1 ? args.validation / loaded.train.length : args.validation;
    const split = fraction < 1 ? stratifiedSplit(loaded.train, fraction, args.seed) : { train: subset(loaded.train, []), validation: loaded.train };
    if (split.validation.length === 0 || split.train.length === 0) {
      throw new UsageError(`--validation ${args.validation} of ${loaded.train.length} training images leaves ${split.validation.length === 0 ? 'no validation' : 'no training'} images; give a fraction in (0, 1) or a number of images that leaves both`);
    }
    train = split.train;
    validation = split.validation;
  }
  checkRegularizationArgs(args, train.length, io);
  const model = modelByName(args.model, train.shape, train.classes, { seed: args.seed, device: args.device, ...(args.stem !== undefined ? { stem: args.stem } : {}) });
  let log: RunLog | undefined;
  try {
    if (args.log !== undefined) {
      try {
        // a resumed run appends to its log, so that the log holds the whole run
        log = RunLog.open(args.log, { append: resumeFrom !== undefined });
      } catch (e) {
        throw new UsageError(`--log: cannot write '${args.log}': ${(e as Error).message}`);
      }
      if (log.format === 'jsonl') log.write({ kind: 'start', optimizer: args.optimizer, time: resumeFrom?.state.elapsed ?? 0, iteration: resumeFrom?.state.optimizer.iteration ?? 0, options: recordedOptions(args) });
    }
    const extras: RunExtras = {
      ...(log !== undefined ? { log } : {}),
      ...(validation !== undefined ? { validation } : {}),
      ...(args.earlyStop !== undefined ? { earlyStop: new EarlyStopping(args.earlyStop) } : {}),
      ...(distributed !== undefined ? { distributed } : {}),
    };
    const saver = modelSaver(model, args, loaded);
    const setProgress = (p: Progress): void => void (progress = p);
    const outcome =
      args.optimizer === 'newton'
        ? await trainModelNewton(model, train, test, args, resumeFrom, io, out, saver, setProgress, extras)
        : await trainModel(model, train, test, args, resumeFrom, io, out, setProgress, saver, extras);
    if (log !== undefined && outcome.summary !== undefined) {
      log.write({ kind: 'final', optimizer: args.optimizer, time: outcome.result.state.elapsed, iteration: outcome.result.state.optimizer.iteration, ...outcome.summary, ...(outcome.validation !== undefined ? { validationAccuracy: outcome.validation.accuracy } : {}) });
    }
    const skipped = loaded.skipped;
    if (skipped !== undefined && skipped.count > 0) {
      const first = skipped.entries()[0];
      io.stderr.write(`skipped ${skipped.count} unreadable image${skipped.count === 1 ? '' : 's'} (--skip-corrupt), e.g. ${first.file}: ${first.message}\n`);
    }
    return outcome;
  } finally {
    progress?.clear();
    log?.close();
    model.dispose();
  }
}

/** What a run does besides training: the run log, the validation split and early stopping. */
interface RunExtras {
  /** --log. */
  log?: RunLog;
  /** --validation: the held-out images. */
  validation?: AnyDataset;
  /** --early-stop. */
  earlyStop?: EarlyStopping;
  /** --distributed: the job this process is a rank of. */
  distributed?: Distributed;
}

/** The validation report of a run with --validation. */
export interface ValidationReport {
  /** Accuracy on the validation split at the end. */
  accuracy: number;
  /** The best validation accuracy seen during the run. */
  best: number;
  /** The epoch (SGD) or iteration (Newton) of the best. */
  bestAt: number;
  /** Whether --early-stop ended the run. */
  stoppedEarly: boolean;
}

// Evaluates the validation split (synchronously: it runs inside the trainers' callbacks), feeds
// early stopping and returns the record fields; `stop` ends the run when early stopping says so.
function validationStep(extras: RunExtras, model: Network, args: TrainArgs, trainSize: number, at: number, stop: () => void): Partial<RunRecord> {
  if (extras.validation === undefined) return {};
  const v = evaluateObjective(model, extras.validation, { C: args.C, loss: lossByName(args.loss), trainSize });
  tracker(extras).observe(v.accuracy, at);
  if (extras.earlyStop?.observe(v.accuracy, at) === true) stop();
  return { validationAccuracy: v.accuracy, validationLoss: v.lossMean };
}

// The best validation accuracy of a run (kept even without --early-stop, for the report).
const trackers = new WeakMap<RunExtras, EarlyStopping>();
function tracker(extras: RunExtras): EarlyStopping {
  let t = trackers.get(extras);
  if (t === undefined) {
    t = new EarlyStopping(Number.MAX_SAFE_INTEGER);
    trackers.set(extras, t);
  }
  return t;
}

// The validation accuracy at the end of a run and the best during it.
function validationReport(extras: RunExtras, model: Network, args: TrainArgs, trainSize: number): ValidationReport | undefined {
  if (extras.validation === undefined) return undefined;
  const v = evaluateObjective(model, extras.validation, { C: args.C, loss: lossByName(args.loss), trainSize });
  const t = tracker(extras);
  return { accuracy: v.accuracy, best: Math.max(t.best, v.accuracy), bestAt: t.bestAt ?? 0, stoppedEarly: extras.earlyStop?.stopped === true };
}

// The line of the validation report, e.g. `validation accuracy: 0.8125 (best 0.8250 at epoch 3; stopped early: no improvement in 5 evaluations)`.
function validationLine(r: ValidationReport, unit: string, patience: number | undefined): string {
  return (
    `validation accuracy: ${r.accuracy.toFixed(4)} (best ${r.best.toFixed(4)} at ${unit} ${r.bestAt}` +
    `${r.stoppedEarly ? `; stopped early: no improvement in ${patience} evaluations` : ''})`
  );
}

async function trainModel(
  model: Network,
  train: AnyDataset,
  test: AnyDataset,
  args: TrainArgs,
  resumeFrom: Checkpoint | undefined,
  io: CliIo,
  out: (line: string) => void,
  setProgress: (p: Progress) => void,
  saveModel: ModelSaver,
  extras: RunExtras = {},
): Promise<TrainOutcome> {
  const loss = lossByName(args.loss);
  const l = train.length;
  const batches = Math.ceil(l / args.batchSize);
  const modelInfo = checkpointModel(model, train, args);
  let resume: TrainState | undefined;
  if (resumeFrom !== undefined) {
    checkResumedModel(model, train, args, resumeFrom);
    resume = resumeFrom.state;
  }
  const epochs = args.iterations !== undefined ? Math.max(1, Math.ceil(args.iterations / batches)) : args.epochs;
  if (resume !== undefined && resume.epoch > epochs) {
    throw new UsageError(`${args.resume}: the checkpoint is already at epoch ${resume.epoch}; give --epochs ${resume.epoch} or more to continue it`);
  }
  if (resume !== undefined && args.iterations !== undefined && resume.optimizer.iteration > args.iterations) {
    throw new UsageError(`${args.resume}: the checkpoint has already taken ${resume.optimizer.iteration} steps; give --iterations ${resume.optimizer.iteration} or more`);
  }

  const rt = info();
  const sgd = sgdOptions(args, batches);
  const talk = !args.quiet && !args.json;
  if (talk) {
    const summaryLine = model.summary().split('\n').pop() ?? args.model;
    out(`newton-cnn ${rt.version}: train ${args.model} with ${args.optimizer}`);
    out(`model: ${summaryLine}; input ${train.shape.join('×')}, ${train.classes} classes`);
    out(`parameters: ${model.numParameters}`);
    out(`data: ${path.basename(args.data)}: ${l} training / ${test.length} test images (paper preprocessing)`);
    out(
      `optimizer: ${args.optimizer}, lr ${args.lr}, momentum ${args.momentum}${args.nesterov ? ' (nesterov)' : ''}, ${scheduleText(args, sgd)}, ` +
        `${args.optimizer === 'scale-amended-sgd' ? `m fan-out ${args.mFanout}, ` : ''}C ${args.C}, batch ${args.batchSize}, loss ${args.loss}, seed ${args.seed}`,
    );
    out(`device: ${args.device}, BLAS ${rt.blas} (gemm ${rt.gemm}), threads ${getNumThreads()}`);
    const plan = args.iterations !== undefined ? `${args.iterations} steps` : `${epochs} epoch${epochs === 1 ? '' : 's'}`;
    out(
      resume !== undefined
        ? `resuming ${args.resume} at epoch ${resume.epoch + 1}, batch ${resume.batch} (step ${resume.optimizer.iteration}); running to ${plan} of ${batches} batches`
        : `training: ${plan} of ${batches} batches`,
    );
  }
  const progress = new Progress(io.stderr, { batchSize: args.batchSize, ...(args.iterations !== undefined ? { totalSteps: args.iterations } : {}) });
  if (!args.quiet) setProgress(progress);

  // Stop on the caller's signal (Ctrl-C) or when --iterations is reached.
  const run = new RunControl(io.signal);
  const options = recordedOptions(args);
  const checkpoints = new CheckpointWriter(modelInfo, options, args.optimizer, rt.version);
  let previousElapsed = resume?.elapsed ?? 0;
  let learningRate = NaN;
  const epochLine = (s: EpochStats): void => {
    const seconds = s.elapsed - previousElapsed;
    previousElapsed = s.elapsed;
    const v = validationStep(extras, model, args, l, s.epoch + 1, () => run.stop());
    extras.log?.write(RunLog.fromEpoch(s, args.optimizer, { learningRate, ...v }));
    if (!talk) return;
    out(
      `epoch ${s.epoch + 1}/${epochs}  objective ${fmt(s.objective, 6)}  train loss ${fmt(s.trainLoss ?? s.trainLossRunning)}  ` +
        `train accuracy ${fmt(s.trainAccuracy)}  test accuracy ${fmt(s.testAccuracy)}` +
        `${v.validationAccuracy !== undefined ? `  validation ${fmt(v.validationAccuracy)}` : ''}  time ${seconds.toFixed(1)}s`,
    );
    if (extras.earlyStop?.stopped === true) out(`early stop: validation accuracy has not improved for ${extras.earlyStop.patience} epochs (best ${fmt(extras.earlyStop.best)} after epoch ${extras.earlyStop.bestAt})`);
  };

  let result: TrainResult;
  const t0 = performance.now();
  try {
    result = await trainSgd(model, train, {
      ...(extras.distributed !== undefined ? { distributed: extras.distributed, syncBatchNorm: args.localBatchNorm !== true } : {}),
      ...(args.optimizer === 'scale-amended-sgd' ? { optimizer: 'scale-amended-sgd' as const } : {}),
      epochs,
      batchSize: args.batchSize,
      seed: args.seed,
      sgd,
      loss,
      test,
      trainEvaluationSize: EPOCH_EVALUATION_SIZE,
      signal: run.signal,
      ...(resume !== undefined ? { resume } : {}),
      ...(args.augment !== undefined ? { augment: args.cropScale !== undefined ? { randomResizedCrop: { scale: [args.cropScale, 1] as const }, flip: true } : args.augment } : {}),
      onProgress: (p) => {
        learningRate = p.learningRate;
        if (!args.quiet) progress.update(p);
        if (args.iterations !== undefined && p.iteration >= args.iterations) run.stop();
      },
      onEpoch: epochLine,
      ...(args.checkpoint !== undefined ? { onCheckpoint: (s: TrainState) => checkpoints.write(args.checkpoint!, s) } : {}),
      ...(args.checkpointEvery !== undefined ? { checkpointEvery: args.checkpointEvery } : {}),
    });
  } catch (e) {
    throw divergedRun(e, args, checkpoints, 'step');
  } finally {
    run.detach();
    progress.clear();
  }

  const done = args.iterations !== undefined ? result.state.optimizer.iteration >= args.iterations : !result.aborted;
  if (run.interrupted && !done) {
    // a --distributed rank other than 0 stops with the others; rank 0 writes the checkpoint
    if (args.follower === true) return { exitCode: EXIT.interrupted, result };
    const file = args.checkpoint ?? path.resolve(io.cwd ?? process.cwd(), INTERRUPTED_CHECKPOINT);
    await checkpoints.write(file, result.state);
    const s = result.state;
    const where = s.batch === 0 ? `after epoch ${s.epoch}` : `in epoch ${s.epoch + 1}, after batch ${s.batch}/${batches}`;
    const rel = path.relative(io.cwd ?? process.cwd(), file) || file;
    io.stderr.write(`interrupted ${where} (step ${s.optimizer.iteration}); checkpoint written to ${file}\n`);
    io.stderr.write(`resume with: newton-cnn train --resume ${rel.includes(' ') ? JSON.stringify(rel) : rel}\n`);
    if (args.json) io.stdout.write(`${JSON.stringify({ interrupted: true, checkpoint: file, epoch: s.epoch, batch: s.batch, iteration: s.optimizer.iteration })}\n`);
    return { exitCode: EXIT.interrupted, result, checkpoint: file };
  }

  // Final metrics: the last epoch's evaluation when it covered the whole training set at the final θ.
  let summary: TrainSummary;
  const f = result.final;
  if (f !== undefined && result.state.batch === 0 && l <= EPOCH_EVALUATION_SIZE && f.testAccuracy !== undefined && f.objective !== undefined) {
    summary = { testAccuracy: f.testAccuracy, trainAccuracy: f.trainAccuracy!, objective: f.objective, trainLoss: f.trainLoss!, testLoss: f.testLoss! };
  } else {
    // (the ranks of a --distributed job share the final evaluations' batches)
    const shared = extras.distributed !== undefined ? { distributed: extras.distributed } : {};
    const tr = await evaluateObjectiveAsync(model, train, { C: args.C, loss, trainSize: l, ...shared });
    const te = await evaluateObjectiveAsync(model, test, { C: args.C, loss, trainSize: l, ...shared });
    summary = { testAccuracy: te.accuracy, trainAccuracy: tr.accuracy, objective: tr.value, trainLoss: tr.lossMean, testLoss: te.lossMean };
  }
  if (args.checkpoint !== undefined && (checkpoints.last === undefined || result.state.batch !== 0 || result.iterations === 0)) {
    await checkpoints.write(args.checkpoint, result.state);
  }
  const modelFile = await saveModel(options, summary);
  const vr = validationReport(extras, model, args, l);
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({
        command: 'train',
        version: rt.version,
        model: { ...modelInfo },
        data: { name: args.data, train: l, test: test.length },
        options: { ...options, threads: getNumThreads(), blas: rt.blas },
        history: result.history,
        ...summary,
        epoch: result.state.epoch,
        iteration: result.state.optimizer.iteration,
        time: seconds,
        ...(vr !== undefined ? { validation: vr } : {}),
        imagesPerSecond: result.imagesPerSecond,
        ...(checkpoints.last !== undefined ? { checkpoint: checkpoints.last } : {}),
        ...(modelFile !== undefined ? { modelFile } : {}),
      })}\n`,
    );
  } else {
    writeFinalLines(io, summary, seconds, talk ? checkpoints.last : undefined, talk ? modelFile : undefined, vr !== undefined ? validationLine(vr, 'epoch', args.earlyStop) : undefined);
  }
  return { exitCode: EXIT.ok, result, summary, ...(checkpoints.last !== undefined ? { checkpoint: checkpoints.last } : {}), ...(vr !== undefined ? { validation: vr } : {}) };
}

/**
 * The Sgd options of a run with `batches` batches per epoch: --milestones and --warmup (epochs)
 * become step counts (rounded), --decay-weights-only weightDecayOn 'weights'. For
 * --optimizer scale-amended-sgd, ScaleAmendedSgdOptions: the weight decay always given (its default
 * is not 0) and fanOut.
 * @throws UsageError when the milestones round to step counts that are not strictly increasing and positive.
 */
export function sgdOptions(args: TrainArgs, batches: number): SgdOptions | ScaleAmendedSgdOptions {
  let schedule: SgdSchedule | undefined;
  if (args.milestones !== undefined) {
    const steps = args.milestones.map((e) => Math.round(e * batches));
    if (steps.some((t, i) => t < 1 || (i > 0 && t <= steps[i - 1]))) {
      throw new UsageError(
        `--milestones ${args.milestones.join(',')}: with ${batches} batches per epoch they fall at steps ${steps.join(',')}, ` +
          'which must be strictly increasing and positive; give epochs further apart',
      );
    }
    schedule = { kind: 'multistep', milestones: steps, factor: args.lrFactor };
  } else if (args.schedule === 'step' && args.stepEvery !== undefined) {
    schedule = { kind: 'step', every: Math.max(1, Math.round(args.stepEvery * batches)), factor: args.lrFactor };
  } else if (args.schedule === 'cosine') {
    // over the whole run: --iterations steps, or --epochs epochs of `batches` steps
    schedule = { kind: 'cosine', steps: args.iterations ?? args.epochs * batches, minimum: args.lrMin };
  }
  return {
    learningRate: args.lr,
    momentum: args.momentum,
    nesterov: args.nesterov,
    decay: args.decay,
    C: args.C,
    // absent when unused, so that runs without the new options take exactly the old path
    ...(args.weightDecay > 0 || args.optimizer === 'scale-amended-sgd' ? { weightDecay: args.weightDecay } : {}),
    ...(args.optimizer === 'scale-amended-sgd' ? { fanOut: args.mFanout } : {}),
    ...(args.decayWeightsOnly ? { weightDecayOn: 'weights' as const } : {}),
    ...(schedule !== undefined ? { schedule } : {}),
    ...(args.warmup > 0 ? { warmup: Math.round(args.warmup * batches) } : {}),
  };
}

// The learning-rate schedule and the weight decay of the SGD header line.
function scheduleText(args: TrainArgs, sgd: SgdOptions): string {
  const parts: string[] = [];
  if (sgd.schedule?.kind === 'multistep') {
    parts.push(`lr ×${args.lrFactor} after epochs ${args.milestones!.join(',')} (steps ${sgd.schedule.milestones.join(',')})`);
  } else if (sgd.schedule?.kind === 'step') {
    parts.push(`lr ×${args.lrFactor} every ${args.stepEvery} epoch${args.stepEvery === 1 ? '' : 's'} (${sgd.schedule.every} steps)`);
  } else if (sgd.schedule?.kind === 'cosine') {
    parts.push(`cosine schedule to ${args.lrMin} over ${sgd.schedule.steps} steps`);
  } else {
    parts.push(`decay ${args.decay}`);
  }
  if (args.warmup > 0) parts.push(`warm-up ${args.warmup} epoch${args.warmup === 1 ? '' : 's'} (${sgd.warmup ?? 0} step${sgd.warmup === 1 ? '' : 's'})`);
  if (args.weightDecay > 0 || args.decayWeightsOnly) parts.push(`weight decay ${args.weightDecay}${args.decayWeightsOnly ? ' (conv/linear weights only)' : ''}`);
  return parts.join(', ');
}

/** The closing lines every run prints (README: "Output"), after the checkpoint's path if any. */
function writeFinalLines(io: CliIo, summary: TrainSummary, seconds: number, checkpoint: string | undefined, modelFile: string | undefined, validation?: string): void {
  const w = (line: string): void => void io.stdout.write(`${line}\n`);
  if (checkpoint !== undefined) w(`checkpoint: ${checkpoint}`);
  if (modelFile !== undefined) w(`model: ${modelFile}`);
  if (validation !== undefined) w(validation);
  w(`test accuracy: ${summary.testAccuracy.toFixed(4)}`);
  w(`train accuracy: ${summary.trainAccuracy.toFixed(4)}`);
  w(`objective: ${fmt(summary.objective, 6)}`);
  w(`time: ${seconds.toFixed(1)}s`);
}

/** Writes the trained model file of --save (when given) and returns its path. */
type ModelSaver = (options: { [key: string]: JsonValue }, summary: TrainSummary) => Promise<string | undefined>;

// --save: the network with the paper's preprocessing (the training mean), the data's class names,
// the loss, the run's options and final metrics (lib/model).
function modelSaver(model: Network, args: TrainArgs, data: TrainingData): ModelSaver {
  const { preprocessing, classNames, imageResize } = data;
  return async (options, summary) => {
    if (args.save === undefined) return undefined;
    const trained = new Model(model, {
      preprocessing,
      ...(imageResize !== undefined ? { imageResize } : {}),
      ...(classNames !== undefined && classNames.length === model.outputSize ? { classNames } : {}),
      loss: args.loss,
      provenance: { training: options, metrics: { ...summary } },
    });
    await trained.save(args.save);
    return args.save;
  };
}

// The checkpoint's description of the network (with the stem of a ResNet).
function checkpointModel(model: Network, train: AnyDataset, args: TrainArgs): CheckpointModel {
  const stem = args.stem ?? defaultStem(args.model);
  return {
    name: args.model,
    inputShape: [...train.shape] as [number, number, number],
    classes: train.classes,
    dtype: model.dtype,
    numParameters: model.numParameters,
    ...(stem !== undefined ? { stem } : {}),
  };
}

function checkResumedModel(model: Network, train: AnyDataset, args: TrainArgs, ckpt: Checkpoint): void {
  const m = ckpt.model;
  const stem = args.stem ?? defaultStem(args.model);
  if (m.stem !== undefined && m.stem !== stem) {
    throw new UsageError(`${args.resume}: the checkpoint holds a ${m.name} with the ${m.stem} stem, but this run builds ${args.model} with the ${stem ?? 'no'} stem`);
  }
  if (m.numParameters !== model.numParameters || m.classes !== train.classes || m.inputShape.join() !== train.shape.join() || m.name !== args.model) {
    throw new UsageError(
      `${args.resume}: the checkpoint holds a ${m.name} for ${m.inputShape.join('×')} images and ${m.classes} classes (${m.numParameters} parameters), ` +
        `but the data give ${train.shape.join('×')} images and ${train.classes} classes (${model.numParameters} parameters)`,
    );
  }
  if (ckpt.state.trainSize !== train.length) {
    throw new UsageError(`${args.resume}: the checkpoint was made with ${ckpt.state.trainSize} training images but the data have ${train.length}`);
  }
}

/**
 * One stdout line per Newton iteration, at most 80 columns, e.g.
 * `iteration 3/20  f 0.234567  |grad| 1.23e-2  CG 45  λ 0.667  ρ 0.812  α 1  9.1s  test 0.8123`.
 * The least needed fields (‖∇f‖, then α, then ρ) are left out when the line would be longer; the
 * CG residual and the time split are in --json's history and the --log records.
 */
export function newtonIterationLine(it: NewtonIteration, validationAccuracy?: number): string {
  const t = it.times;
  const seconds = t.gradient + t.cg + t.lineSearch + t.evaluation;
  const head = [`iteration ${it.iteration}/${it.iterations}`, `f ${fmt(it.objective, 6)}`];
  const grad = `|grad| ${it.gradientNorm.toPrecision(3)}`;
  const cg = `CG ${it.cgSteps}`;
  const lambda = `λ ${it.lambda.toPrecision(3)}`;
  const rho = it.accepted ? `ρ ${it.rho.toFixed(3)}` : '';
  const step = it.accepted ? `α ${+it.stepSize.toPrecision(3)}` : 'no step (λ raised)';
  const tail = [`${seconds.toFixed(1)}s`, ...(it.testAccuracy !== undefined ? [`test ${it.testAccuracy.toFixed(4)}`] : []), ...(validationAccuracy !== undefined ? [`val ${validationAccuracy.toFixed(4)}`] : [])];
  // the fields in the order of the line; dropped in the order of `optional` until it fits
  const build = (skip: ReadonlySet<string>): string => fitParts([...head, ...[grad, cg, lambda, rho, step].filter((x) => x !== '' && !skip.has(x)), ...tail], 1e9);
  const optional = [grad, step === 'no step (λ raised)' ? '' : step, rho].filter((x) => x !== '');
  const skip = new Set<string>();
  let line = build(skip);
  for (const o of optional) {
    if (line.length <= NEWTON_LINE_WIDTH) break;
    skip.add(o);
    line = build(skip);
  }
  return fitParts([line], NEWTON_LINE_WIDTH);
}

/** The widest a Newton iteration line gets. */
export const NEWTON_LINE_WIDTH = 80;

// `newton-cnn train --optimizer newton`: the Newton counterpart of trainModel.
async function trainModelNewton(
  model: Network,
  train: AnyDataset,
  test: AnyDataset,
  args: TrainArgs,
  resumeFrom: Checkpoint | undefined,
  io: CliIo,
  out: (line: string) => void,
  saveModel: ModelSaver,
  setProgress: (p: Progress) => void,
  extras: RunExtras = {},
): Promise<TrainOutcome> {
  const loss = lossByName(args.loss);
  const l = train.length;
  const iterations = args.iterations!;
  const modelInfo = checkpointModel(model, train, args);
  let resume: TrainState | undefined;
  if (resumeFrom !== undefined) {
    checkResumedModel(model, train, args, resumeFrom);
    resume = resumeFrom.state;
    if (resume.optimizer.iteration > iterations) {
      throw new UsageError(`${args.resume}: the checkpoint has already done ${resume.optimizer.iteration} Newton iterations; give --iterations ${resume.optimizer.iteration} or more`);
    }
  }
  const rt = info();
  const talk = !args.quiet && !args.json;
  const subsample = Math.min(l, Math.max(1, Math.ceil(args.samplingRate * l - 1e-9)));
  if (talk) {
    const summaryLine = model.summary().split('\n').pop() ?? args.model;
    out(`newton-cnn ${rt.version}: train ${args.model} with newton`);
    out(`model: ${summaryLine}; input ${train.shape.join('×')}, ${train.classes} classes`);
    out(`parameters: ${model.numParameters}`);
    out(`data: ${path.basename(args.data)}: ${l} training / ${test.length} test images (paper preprocessing)`);
    out(
      `optimizer: newton, sampling rate ${args.samplingRate} (|S| = ${subsample}, ${args.sampling}), CG σ ${args.cgTol} max ${args.cgMax}, λ0 ${args.lambda}, ` +
        `Gv ${args.gvMode}, C ${args.C}, batch ${args.batchSize}, loss ${args.loss}, seed ${args.seed}`,
    );
    out(`device: ${args.device}, BLAS ${rt.blas} (gemm ${rt.gemm}), threads ${getNumThreads()}`);
    out(
      resume !== undefined
        ? `resuming ${args.resume} after iteration ${resume.optimizer.iteration} (λ ${resume.newton?.lambda}); running to ${iterations} iterations`
        : `training: ${iterations} Newton iterations`,
    );
  }

  const run = new RunControl(io.signal);
  const options = recordedOptions(args);
  const checkpoints = new CheckpointWriter(modelInfo, options, 'newton', rt.version);
  // Progress within an iteration (stderr), as SGD's: a redrawn line on a terminal, else occasional lines.
  const progress = new Progress(io.stderr);
  if (!args.quiet) setProgress(progress);
  // Iteration lines: stdout normally, stderr (as progress) with --json, none with --quiet.
  const iterationLine = (it: NewtonIteration): void => {
    const v = validationStep(extras, model, args, l, it.iteration, () => run.stop());
    extras.log?.write(RunLog.fromNewton(it, v));
    if (args.quiet) return;
    const line = newtonIterationLine(it, v.validationAccuracy);
    if (args.json) {
      progress.clear();
      io.stderr.write(`${line}\n`);
    } else out(line);
    if (extras.earlyStop?.stopped === true) {
      const say = `early stop: validation accuracy has not improved for ${extras.earlyStop.patience} iterations (best ${fmt(extras.earlyStop.best)} after iteration ${extras.earlyStop.bestAt})`;
      if (args.json) io.stderr.write(`${say}\n`);
      else out(say);
    }
  };

  let result: NewtonTrainResult;
  const t0 = performance.now();
  try {
    result = await trainNewton(model, train, {
      iterations,
      loss,
      newton: { C: args.C, samplingRate: args.samplingRate, sampling: args.sampling, cgTolerance: args.cgTol, cgMaxIterations: args.cgMax, lambda: args.lambda, gvMode: args.gvMode },
      batchSize: args.batchSize,
      seed: args.seed,
      test,
      signal: run.signal,
      ...(extras.distributed !== undefined ? { distributed: extras.distributed } : {}),
      ...(resume !== undefined ? { resume } : {}),
      onIteration: iterationLine,
      ...(args.quiet ? {} : { onProgress: (p: NewtonProgress) => progress.newton(p) }),
      ...(args.checkpoint !== undefined ? { onCheckpoint: (s: TrainState) => checkpoints.write(args.checkpoint!, s) } : {}),
      ...(args.checkpointEvery !== undefined ? { checkpointEvery: args.checkpointEvery } : {}),
    });
  } catch (e) {
    throw divergedRun(e, args, checkpoints, 'iteration');
  } finally {
    run.detach();
    progress.clear();
  }

  if (run.interrupted && result.aborted) {
    // a --distributed rank other than 0 stops with the others; rank 0 writes the checkpoint
    if (args.follower === true) return { exitCode: EXIT.interrupted, result };
    const file = args.checkpoint ?? path.resolve(io.cwd ?? process.cwd(), INTERRUPTED_CHECKPOINT);
    await checkpoints.write(file, result.state);
    const it = result.state.optimizer.iteration;
    const rel = path.relative(io.cwd ?? process.cwd(), file) || file;
    io.stderr.write(`interrupted after Newton iteration ${it} (the unfinished iteration is discarded); checkpoint written to ${file}\n`);
    io.stderr.write(`resume with: newton-cnn train --resume ${rel.includes(' ') ? JSON.stringify(rel) : rel}\n`);
    if (args.json) io.stdout.write(`${JSON.stringify({ interrupted: true, checkpoint: file, iteration: it })}\n`);
    return { exitCode: EXIT.interrupted, result, checkpoint: file };
  }

  // (the ranks of a --distributed job share the final evaluations' batches)
  const shared = extras.distributed !== undefined ? { distributed: extras.distributed } : {};
  const tr = await evaluateObjectiveAsync(model, train, { C: args.C, loss, trainSize: l, ...shared });
  const last = result.final;
  const te =
    last?.testAccuracy !== undefined && last.testLoss !== undefined && last.iteration === result.state.optimizer.iteration
      ? { accuracy: last.testAccuracy, lossMean: last.testLoss }
      : await evaluateObjectiveAsync(model, test, { C: args.C, loss, trainSize: l, ...shared });
  const summary: TrainSummary = { testAccuracy: te.accuracy, trainAccuracy: tr.accuracy, objective: tr.value, trainLoss: tr.lossMean, testLoss: te.lossMean };
  if (args.checkpoint !== undefined && (checkpoints.last === undefined || result.iterations === 0)) await checkpoints.write(args.checkpoint, result.state);
  const modelFile = await saveModel(options, summary);
  const vr = validationReport(extras, model, args, l);
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({
        command: 'train',
        version: rt.version,
        model: { ...modelInfo },
        data: { name: args.data, train: l, test: test.length },
        options: { ...options, threads: getNumThreads(), blas: rt.blas },
        history: result.history,
        ...summary,
        iteration: result.state.optimizer.iteration,
        lambda: result.state.newton?.lambda ?? null,
        time: seconds,
        ...(vr !== undefined ? { validation: vr } : {}),
        ...(checkpoints.last !== undefined ? { checkpoint: checkpoints.last } : {}),
        ...(modelFile !== undefined ? { modelFile } : {}),
      })}\n`,
    );
  } else {
    writeFinalLines(io, summary, seconds, talk ? checkpoints.last : undefined, talk ? modelFile : undefined, vr !== undefined ? validationLine(vr, 'iteration', args.earlyStop) : undefined);
  }
  return { exitCode: EXIT.ok, result, summary, ...(checkpoints.last !== undefined ? { checkpoint: checkpoints.last } : {}), ...(vr !== undefined ? { validation: vr } : {}) };
}
