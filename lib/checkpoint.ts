/**
 * Training checkpoints: a self-checking binary file holding θ, the optimizer state, the data-order
 * RNG state, the position in the run and the run's options, written atomically.
 *
 * ## File format (version 2; all integers little-endian)
 *
 * | offset | size | field                                                               |
 * |-------:|-----:|---------------------------------------------------------------------|
 * |      0 |    8 | magic: the ASCII bytes `NCNNCKPT`                                   |
 * |      8 |    4 | format version, uint32 (2; version 1 files are read too)            |
 * |     12 |    4 | reserved, 0                                                         |
 * |     16 |   32 | SHA-256 of every byte from offset 48 to the end of the file         |
 * |     48 |    8 | total file size in bytes, uint64                                    |
 * |     56 |    4 | header length H in bytes, uint32                                    |
 * |     60 |    4 | reserved, 0                                                         |
 * |     64 |    H | header: UTF-8 JSON (below), padded with spaces to a multiple of 8   |
 * |      … |    … | binary sections at the offsets the header names, 8-byte aligned     |
 *
 * The JSON header:
 * ```json
 * { "format": "newton-cnn checkpoint", "version": 2, "createdAt": "2025-…Z", "library": "0.1.0",
 *   "model": { "name": "cnn3", "inputShape": [1, 28, 28], "classes": 10, "dtype": "float32", "numParameters": 62026,
 *              "numBuffers": 0 },     (a ResNet's also has "stem": "imagenet" | "cifar"; optional, so older files load)
 *   "options": { …the run's options (model, data, optimizer, loss, learning rate, C, batch size, seed, epochs…) },
 *   "train": { "stateVersion": 1, "epoch": 1, "batch": 17, "seed": 0, "batchSize": 128, "trainSize": 10000,
 *              "elapsed": 31.5, "epochLoss": { "sum": 8.1, "batches": 17 }, "rngState": [u32, u32, u32, u32] },
 *   "optimizer": { "name": "sgd", "iteration": 96 },
 *   "newton": { "lambda": 0.444 },        (only in the checkpoints of Newton runs)
 *   "sections": [ { "name": "parameters",  "dtype": "float32", "offset": 1024, "length": 62026, "byteLength": 248104 },
 *                 { "name": "velocity",    "dtype": "float32", "offset": …,    "length": 62026, "byteLength": … },
 *                 { "name": "permutation", "dtype": "int32",   "offset": …,    "length": 10000, "byteLength": … },
 *                 { "name": "buffers",     "dtype": "float32", "offset": …,    "length": 0,     "byteLength": 0 } ] }
 * ```
 * The buffers section (version 2) holds the network's buffers, Network.getBuffers(): the
 * batch-norm running statistics. Version 1 files have none; they load, and resume only a network
 * without buffers (which every network of that version was).
 * Non-finite numbers of the state (a diverged loss sum) are written as the strings "NaN",
 * "Infinity", "-Infinity". Sections hold raw little-endian element bytes: θ and the SGD velocity in
 * the network's dtype, and the current epoch's permutation (int32; empty at an epoch boundary).
 *
 * Newton runs (optimizer name "newton") use the same layout: `train.epoch`/`train.batch` and the
 * permutation are the position among the subsamples (batch = subsamples of the current permutation
 * already used), `train.batchSize` is |S|, `optimizer.iteration` counts Newton iterations, the
 * velocity section is empty, and `newton.lambda` holds the damping λ of the next iteration.
 *
 * ## Writing and reading
 * {@link saveCheckpoint} writes to a temporary file in the destination's directory, fsyncs it,
 * renames it over the destination and fsyncs the directory: a crash, a failed write or a second
 * Ctrl-C leaves either the previous checkpoint or the new one, never a mixture.
 * It refuses a state whose θ, velocity or buffers hold NaN or ±∞ (a diverged run), and a path
 * that is a directory, before writing anything; it removes the temporary files that killed
 * writes of the same checkpoint left behind (`.<name>.<pid>.<hex>.tmp` of a pid that is no live
 * process). {@link checkCheckpointPath} checks a path before training starts.
 * {@link loadCheckpoint} checks the magic, the version, the size, the checksum and the header, and
 * throws an Error naming the file and the problem.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { checkDestinationKind, checkWritableDestination, fsyncDirectory, removeStaleTemporaries, temporaryPathFor } from './atomic-file';
import { ContainerError, decodeContainer, encodeContainer, type SectionArray, type SectionDType } from './container';

import type { SgdState } from './optim/sgd';
import { firstNonFinite } from './train/divergence';
import type { TrainState } from './train/types';

/** The 8 bytes every checkpoint starts with. */
export const CHECKPOINT_MAGIC = 'NCNNCKPT';
/** The format version this code writes; it reads this one and version 1. */
export const CHECKPOINT_VERSION = 2;
const FORMAT = 'newton-cnn checkpoint';


/** A JSON value (the run's options are stored as one). */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** What a checkpoint says about the network. */
export interface CheckpointModel {
  /** The builder's name, e.g. 'cnn3'. */
  name: string;
  /** Per-image input shape [C, H, W]. */
  inputShape: [number, number, number];
  /** Number of classes (outputs). */
  classes: number;
  /** Element type of θ and the velocity. */
  dtype: 'float32' | 'float64';
  /** P, the length of θ. */
  numParameters: number;
  /** The number of buffer values (batch-norm running statistics); 0 when absent (version 1). */
  numBuffers?: number;
  /** The ResNet stem ('imagenet' or 'cifar') of a ResNet; absent for networks without one and in older files. */
  stem?: string;
}

/** The content of a checkpoint. */
export interface Checkpoint {
  /** The network θ belongs to. */
  model: CheckpointModel;
  /** The run's options, as the writer chose to record them (the CLI stores its resolved options). */
  options: { readonly [key: string]: JsonValue };
  /** The training state (θ, optimizer, RNG, position). */
  state: TrainState;
  /** The optimizer's name (default 'sgd'). */
  optimizer?: string;
  /** When it was written (ISO 8601); set by saveCheckpoint. */
  createdAt?: string;
  /** The library version that wrote it; set by saveCheckpoint. */
  library?: string;
}

/** The file operations saveCheckpoint uses; replaceable to test failures. */
export interface CheckpointFs {
  /** fs.promises.open. */
  open(file: string, flags: string, mode?: number): Promise<fs.promises.FileHandle>;
  /** fs.promises.rename. */
  rename(from: string, to: string): Promise<void>;
  /** fs.promises.unlink. */
  unlink(file: string): Promise<void>;
}

/** Options of saveCheckpoint. */
export interface SaveCheckpointOptions {
  /** File operations (default: node:fs promises). */
  fs?: CheckpointFs;
  /** Library version recorded in the header (default 'unknown'). */
  library?: string;
}

const realFs: CheckpointFs = {
  open: (file, flags, mode) => fs.promises.open(file, flags, mode),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (file) => fs.promises.unlink(file),
};

// Temporary files being written right now, so an immediate exit (second Ctrl-C) can remove them.
const pending = new Set<string>();
// Writes in progress, and whether they are being abandoned: an exit must wait for a write's
// in-flight file operation (an open running on libuv's thread pool would otherwise create its
// temporary file after the exit's cleanup).
const inFlight = new Set<Promise<void>>();
let abandoning = false;

/**
 * Abandons the checkpoint writes in progress (for an immediate exit): each stops at its next
 * file operation and removes its temporary file; resolves when all have settled. Existing
 * checkpoint files are never touched.
 */
export async function abandonCheckpointWrites(): Promise<void> {
  abandoning = true;
  await Promise.allSettled([...inFlight]);
  removePendingCheckpointFiles();
}

function checkNotAbandoned(): void {
  if (abandoning) throw new Error('abandoned (the process is exiting)');
}

/** Temporary files of checkpoint writes in progress (absolute paths). */
export function pendingCheckpointFiles(): string[] {
  return [...pending];
}

/** Removes the temporary files of writes in progress, synchronously (for an immediate exit). */
export function removePendingCheckpointFiles(): void {
  for (const file of pending) {
    try {
      fs.unlinkSync(file);
    } catch {
      // already gone
    }
  }
  pending.clear();
}

const encodeNumber = (x: number): number | string => (Number.isFinite(x) ? x : String(x));

function decodeNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return NaN;
}

/**
 * Serialises a checkpoint to bytes (the file format above).
 * @throws TypeError when the state is not a TrainState with typed arrays.
 */
export function encodeCheckpoint(ckpt: Checkpoint): Buffer {
  const fn = 'encodeCheckpoint';
  const s = ckpt.state;
  if (s === null || typeof s !== 'object') throw new TypeError(`${fn}: state must be a TrainState, got ${s === null ? 'null' : typeof s}`);
  if (!(s.parameters instanceof Float32Array || s.parameters instanceof Float64Array)) {
    throw new TypeError(`${fn}: state.parameters must be a Float32Array or Float64Array`);
  }
  if (!(s.optimizer.velocity instanceof Float32Array || s.optimizer.velocity instanceof Float64Array)) {
    throw new TypeError(`${fn}: state.optimizer.velocity must be a Float32Array or Float64Array`);
  }
  if (!(s.permutation instanceof Int32Array)) throw new TypeError(`${fn}: state.permutation must be an Int32Array`);
  if (s.buffers !== undefined && !(s.buffers instanceof Float32Array || s.buffers instanceof Float64Array)) {
    throw new TypeError(`${fn}: state.buffers must be a Float32Array or Float64Array`);
  }
  // the last line of defence against saving a diverged run: θ, the velocity and the buffers must be finite
  for (const [name, a] of [['θ', s.parameters], ['velocity', s.optimizer.velocity], ['buffers', s.buffers]] as const) {
    const i = a === undefined ? -1 : firstNonFinite(a);
    if (i >= 0) {
      throw new RangeError(`${fn}: refusing to save a non-finite state: ${name}[${i}] = ${a![i]} (the run diverged; the previous checkpoint is kept)`);
    }
  }
  const buffers = s.buffers ?? (s.parameters instanceof Float64Array ? new Float64Array(0) : new Float32Array(0));
  const sections: [string, SectionArray][] = [
    ['parameters', s.parameters],
    ['velocity', s.optimizer.velocity],
    ['permutation', s.permutation],
    ['buffers', buffers],
  ];
  const header = {
    format: FORMAT,
    version: CHECKPOINT_VERSION,
    createdAt: ckpt.createdAt ?? new Date().toISOString(),
    library: ckpt.library ?? 'unknown',
    model: { ...ckpt.model, numBuffers: buffers.length },
    options: ckpt.options,
    train: {
      stateVersion: s.version,
      epoch: s.epoch,
      batch: s.batch,
      seed: s.seed,
      batchSize: s.batchSize,
      trainSize: s.trainSize,
      elapsed: encodeNumber(s.elapsed),
      epochLoss: { sum: encodeNumber(s.epochLoss.sum), batches: s.epochLoss.batches },
      rngState: s.rngState,
    },
    optimizer: { name: ckpt.optimizer ?? 'sgd', iteration: s.optimizer.iteration },
    ...(s.newton !== undefined ? { newton: { lambda: encodeNumber(s.newton.lambda) } } : {}),
  };
  return encodeContainer(CHECKPOINT_MAGIC, CHECKPOINT_VERSION, header, sections);
}

function fail(file: string, what: string): never {
  throw new Error(`loadCheckpoint: ${file}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function nonNegativeInteger(file: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(file, `the header's ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Parses and verifies checkpoint bytes; `file` names the source in errors.
 * @throws Error `loadCheckpoint: FILE: …` for a wrong magic or version, a truncated or extended
 *   file, a checksum mismatch or a malformed header.
 */
export function decodeCheckpoint(buf: Buffer, file = '<buffer>'): Checkpoint {
  try {
    return decodeCheckpointContainer(buf, file);
  } catch (e) {
    if (e instanceof ContainerError) fail(file, e.reason);
    throw e;
  }
}

function decodeCheckpointContainer(buf: Buffer, file: string): Checkpoint {
  const container = decodeContainer(buf, { magic: CHECKPOINT_MAGIC, versions: [1, CHECKPOINT_VERSION], format: FORMAT, what: 'checkpoint' });
  const { version, header } = container;
  const model = header.model;
  const train = header.train;
  const optimizer = header.optimizer;
  const options = header.options;
  if (!isObject(model) || typeof model.name !== 'string' || (model.dtype !== 'float32' && model.dtype !== 'float64')) fail(file, 'the header has no valid model');
  if (!isObject(train) || !isObject(optimizer) || !isObject(options)) fail(file, 'the header lacks train, optimizer or options');
  const numParameters = nonNegativeInteger(file, 'model.numParameters', model.numParameters);
  const floatTypes: SectionDType[] = [model.dtype];
  const parameters = container.section('parameters', floatTypes) as Float32Array | Float64Array;
  const velocity = container.section('velocity', floatTypes) as Float32Array | Float64Array;
  const permutation = container.section('permutation', ['int32']) as Int32Array;
  // version 1 predates buffers (batch norm): it has no section, and no network of its time had any
  const buffers = version === 1 ? undefined : (container.section('buffers', floatTypes) as Float32Array | Float64Array);
  const numBuffers = version === 1 ? 0 : nonNegativeInteger(file, 'model.numBuffers', model.numBuffers);
  if (buffers !== undefined && buffers.length !== numBuffers) fail(file, `the buffers section has ${buffers.length} elements but model.numBuffers is ${numBuffers}`);
  const isNewton = optimizer.name === 'newton';
  if (parameters.length !== numParameters || velocity.length !== (isNewton ? 0 : numParameters)) {
    fail(file, `θ has ${parameters.length} and the velocity ${velocity.length} elements but the model has ${numParameters} parameters${isNewton ? ' (a Newton checkpoint has no velocity)' : ''}`);
  }
  let newton: { lambda: number } | undefined;
  if (isNewton) {
    const n = header.newton;
    const lambda = isObject(n) ? decodeNumber(n.lambda) : NaN;
    if (!(lambda > 0 && Number.isFinite(lambda))) fail(file, `a Newton checkpoint needs newton.lambda, a positive number; got ${JSON.stringify(isObject(n) ? n.lambda : n)}`);
    newton = { lambda };
  }
  const rngState = train.rngState;
  if (!Array.isArray(rngState) || !rngState.every((w) => typeof w === 'number' && Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
    fail(file, 'train.rngState must be an array of uint32 words');
  }
  const epochLoss = isObject(train.epochLoss) ? train.epochLoss : {};
  const opt: SgdState = { iteration: nonNegativeInteger(file, 'optimizer.iteration', optimizer.iteration), velocity };
  if (train.stateVersion !== 1) fail(file, `train.stateVersion is ${JSON.stringify(train.stateVersion)}, expected 1`);
  const state: TrainState = {
    version: 1,
    epoch: nonNegativeInteger(file, 'train.epoch', train.epoch),
    batch: nonNegativeInteger(file, 'train.batch', train.batch),
    permutation,
    rngState: rngState as number[],
    optimizer: opt,
    parameters,
    seed: nonNegativeInteger(file, 'train.seed', train.seed),
    batchSize: nonNegativeInteger(file, 'train.batchSize', train.batchSize),
    trainSize: nonNegativeInteger(file, 'train.trainSize', train.trainSize),
    elapsed: decodeNumber(train.elapsed),
    epochLoss: { sum: decodeNumber(epochLoss.sum), batches: nonNegativeInteger(file, 'train.epochLoss.batches', epochLoss.batches ?? 0) },
    ...(buffers !== undefined ? { buffers } : {}),
    ...(newton !== undefined ? { newton } : {}),
  };
  const shape = model.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) {
    fail(file, 'model.inputShape must be [C, H, W]');
  }
  return {
    model: {
      name: model.name,
      inputShape: [shape[0], shape[1], shape[2]] as [number, number, number],
      classes: nonNegativeInteger(file, 'model.classes', model.classes),
      dtype: model.dtype,
      numParameters,
      numBuffers,
      ...(typeof model.stem === 'string' ? { stem: model.stem } : {}),
    },
    options: options as { [key: string]: JsonValue },
    state,
    optimizer: typeof optimizer.name === 'string' ? optimizer.name : 'sgd',
    ...(typeof header.createdAt === 'string' ? { createdAt: header.createdAt } : {}),
    ...(typeof header.library === 'string' ? { library: header.library } : {}),
  };
}

/**
 * Reads and verifies a checkpoint file.
 * @throws Error naming the file: missing, unreadable, wrong magic/version, truncated, corrupted.
 */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`loadCheckpoint: file must be a non-empty string, got ${JSON.stringify(file)}`);
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    fail(file, err.code === 'ENOENT' ? 'no such file' : `cannot read it (${err.message})`);
  }
  return decodeCheckpoint(buf, file);
}

/**
 * Writes a checkpoint atomically: a temporary file in the same directory (write, fsync), then
 * rename over `file`, then fsync of the directory. On any failure the temporary file is removed
 * and an existing `file` is left untouched.
 * @throws Error `saveCheckpoint: FILE: …` when the file cannot be written.
 */
export async function saveCheckpoint(file: string, ckpt: Checkpoint, options: SaveCheckpointOptions = {}): Promise<void> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`saveCheckpoint: file must be a non-empty string, got ${JSON.stringify(file)}`);
  checkNotAbandoned();
  const write = writeAtomically(file, ckpt, options);
  inFlight.add(write);
  try {
    await write;
  } finally {
    inFlight.delete(write);
  }
}

/**
 * Removes the temporary files that killed writes of `target` left next to it
 * (.<name>.<pid>.<hex>.tmp whose pid is no live process; lib/atomic-file.ts). Returns them.
 */
export async function removeStaleCheckpointFiles(target: string): Promise<string[]> {
  return removeStaleTemporaries(target);
}

/**
 * Checks, before any training, that a checkpoint can be written to `file`: its directory exists
 * and is a directory, `file` is not a directory (nor another non-regular file), and a file can be
 * created in the directory. Returns the absolute path.
 * @throws Error `checkpoint: FILE: …` saying what is wrong.
 */
export async function checkCheckpointPath(file: string): Promise<string> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`checkCheckpointPath: file must be a non-empty string, got ${JSON.stringify(file)}`);
  return checkWritableDestination('checkpoint', file);
}

async function writeAtomically(file: string, ckpt: Checkpoint, options: SaveCheckpointOptions): Promise<void> {
  const io = options.fs ?? realFs;
  const target = path.resolve(file);
  const dir = path.dirname(target);
  let bytes: Buffer;
  try {
    bytes = encodeCheckpoint({ ...ckpt, library: ckpt.library ?? options.library });
    checkDestinationKind('saveCheckpoint', file);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('saveCheckpoint: ')) throw e;
    const Cls = e instanceof TypeError ? TypeError : e instanceof RangeError ? RangeError : Error;
    throw new Cls(`saveCheckpoint: ${file}: ${(e as Error).message}`, { cause: e });
  }
  await removeStaleTemporaries(target);
  const temp = temporaryPathFor(target);
  pending.add(temp);
  let created = false;
  try {
    const handle = await io.open(temp, 'wx', 0o644);
    created = true;
    try {
      checkNotAbandoned();
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, written);
        if (bytesWritten <= 0) throw new Error('write made no progress');
        written += bytesWritten;
        checkNotAbandoned();
      }
      await handle.sync();
      checkNotAbandoned();
    } finally {
      await handle.close();
    }
    await io.rename(temp, target);
    created = false;
    pending.delete(temp);
    await fsyncDirectory(dir);
  } catch (e) {
    if (created) await io.unlink(temp).catch(() => undefined);
    pending.delete(temp);
    throw new Error(`saveCheckpoint: ${file}: cannot write the checkpoint (${(e as Error).message})`, { cause: e });
  }
}
