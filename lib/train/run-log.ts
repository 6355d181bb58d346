/**
 * Run logs: one record per Newton iteration or SGD epoch (with the evaluations made there), written
 * while training as JSON Lines (`.jsonl`) or CSV (`.csv`), and read back for plots
 * (lib/plot trainingCurvesSvg, `newton-cnn plot`).
 *
 * Durability: each record is written with one synchronous write(2) on an open file descriptor
 * (fs.writeSync) before {@link RunLog.write} returns, so it is in the kernel when training goes on:
 * a crash of the process (an exception, SIGKILL, an out-of-memory kill) loses at most the record
 * being written. A stream (fs.createWriteStream) would buffer records in the process and lose
 * them all on such a crash. `fsync: true` also survives a crash of the machine, at the price of a
 * disk flush per record. The reader skips a truncated last line, the trace such a crash leaves.
 *
 * @example
 * const log = RunLog.open('run.jsonl');
 * await trainNewton(model, train, { loss, test, onIteration: (it) => log.write(RunLog.fromNewton(it)) });
 * log.close();
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { NewtonIteration } from './newton-trainer';
import type { EpochStats } from './types';

/** The kinds of records: the run's description, a Newton iteration, an SGD epoch, the final evaluation. */
export type RunRecordKind = 'start' | 'iteration' | 'epoch' | 'final';

/** One line of a run log. Absent fields were not measured (CSV: empty cells). */
export interface RunRecord {
  /** What the record is. */
  kind: RunRecordKind;
  /** 'newton', 'sgd' or 'scale-amended-sgd'. */
  optimizer: string;
  /** Seconds of training so far (resumed runs included; evaluations included). */
  time: number;
  /** Optimizer steps so far: Newton iterations, SGD steps. */
  iteration: number;
  /** SGD: epochs done. */
  epoch?: number;
  /** f(θ) on the training (evaluation) set. */
  objective?: number;
  /** Mean training loss. */
  trainLoss?: number;
  /** Training accuracy (Newton: at the start of the iteration, from the gradient pass). */
  trainAccuracy?: number;
  /** Mean test loss. */
  testLoss?: number;
  /** Test accuracy. */
  testAccuracy?: number;
  /** Accuracy on the held-out validation split (--validation). */
  validationAccuracy?: number;
  /** Mean loss on the validation split. */
  validationLoss?: number;
  /** SGD: the learning rate of the last step. */
  learningRate?: number;
  /** Newton: the damping λ the iteration used. */
  lambda?: number;
  /** Newton: CG steps of the iteration. */
  cgSteps?: number;
  /** Newton: ρ, actual over predicted reduction. */
  rho?: number;
  /** Newton: the accepted step size α (0: none). */
  stepSize?: number;
  /** Newton: ‖∇f‖ at the start of the iteration. */
  gradientNorm?: number;
  /** 'start' records: the run's options (JSON Lines only). */
  options?: { [key: string]: unknown };
}

/** The CSV columns, in order (the header line of a CSV log). */
export const RUN_LOG_COLUMNS: readonly (keyof RunRecord)[] = Object.freeze([
  'kind', 'optimizer', 'time', 'iteration', 'epoch', 'objective', 'trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy',
  'validationAccuracy', 'validationLoss', 'learningRate', 'lambda', 'cgSteps', 'rho', 'stepSize', 'gradientNorm',
] as (keyof RunRecord)[]);

/** The formats of a run log. */
export type RunLogFormat = 'jsonl' | 'csv';

/** Options of {@link RunLog.open}. */
export interface RunLogOptions {
  /** The format (default: from the extension: `.csv` is CSV, anything else JSON Lines). */
  format?: RunLogFormat;
  /** fsync after every record, so that records survive a crash of the machine too (default false). */
  fsync?: boolean;
  /** Append to an existing log instead of replacing it (a resumed run; default false). */
  append?: boolean;
}

/** The format of a log file named `file`: CSV for `.csv`, else JSON Lines. */
export function runLogFormat(file: string): RunLogFormat {
  return path.extname(file).toLowerCase() === '.csv' ? 'csv' : 'jsonl';
}

// Numbers as JSON has them (non-finite ones as null in JSON, as text in CSV).
function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : String(v);
  const t = String(v);
  return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

/** A run log being written: open it, write records as training goes, close it. */
export class RunLog {
  /** The log's path. */
  readonly file: string;
  /** Its format. */
  readonly format: RunLogFormat;
  /** Records written so far. */
  records = 0;
  private fd: number | undefined;
  private readonly fsync: boolean;

  private constructor(file: string, fd: number, format: RunLogFormat, fsync: boolean) {
    this.file = file;
    this.fd = fd;
    this.format = format;
    this.fsync = fsync;
  }

  /**
   * Creates (or replaces; with `append`, extends) the log `file` and, for CSV, writes the header.
   * @throws Error from the file system (a missing directory, no permission), naming the file.
   */
  static open(file: string, options: RunLogOptions = {}): RunLog {
    const format = options.format ?? runLogFormat(file);
    if (format !== 'jsonl' && format !== 'csv') throw new RangeError(`RunLog.open: options.format must be 'jsonl' or 'csv', got ${String(format)}`);
    const fresh = !options.append || !fs.existsSync(file) || fs.statSync(file).size === 0;
    const fd = fs.openSync(file, options.append ? 'a' : 'w');
    const log = new RunLog(file, fd, format, options.fsync === true);
    if (format === 'csv' && fresh) log.put(`${RUN_LOG_COLUMNS.join(',')}\n`);
    return log;
  }

  /** Writes one record synchronously (see the file comment); 'start' records are left out of CSV logs. */
  write(record: RunRecord): void {
    if (this.format === 'csv') {
      if (record.kind === 'start') return;
      this.put(`${RUN_LOG_COLUMNS.map((c) => csvCell(record[c])).join(',')}\n`);
    } else {
      this.put(`${JSON.stringify(record)}\n`);
    }
    this.records++;
  }

  /** Closes the file (idempotent). */
  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private put(text: string): void {
    if (this.fd === undefined) throw new Error(`RunLog: ${this.file} is closed`);
    const buf = Buffer.from(text, 'utf8');
    // writeSync may write less than asked (rare, for regular files): loop until all is written
    for (let off = 0; off < buf.length; ) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    if (this.fsync) fs.fsyncSync(this.fd);
  }

  /** The record of a Newton iteration (trainNewton's onIteration). */
  static fromNewton(it: NewtonIteration, extra: Partial<RunRecord> = {}): RunRecord {
    return {
      kind: 'iteration',
      optimizer: 'newton',
      time: it.elapsed,
      iteration: it.iteration,
      objective: it.objective,
      trainAccuracy: it.trainAccuracy,
      ...(it.testAccuracy !== undefined ? { testAccuracy: it.testAccuracy } : {}),
      ...(it.testLoss !== undefined ? { testLoss: it.testLoss } : {}),
      lambda: it.lambda,
      cgSteps: it.cgSteps,
      rho: it.rho,
      stepSize: it.stepSize,
      gradientNorm: it.gradientNorm,
      ...extra,
    };
  }

  /** The record of an SGD epoch (trainSgd's onEpoch); `epoch` counts epochs done. */
  static fromEpoch(s: EpochStats, optimizer: string, extra: Partial<RunRecord> = {}): RunRecord {
    return {
      kind: 'epoch',
      optimizer,
      time: s.elapsed,
      iteration: s.iteration,
      epoch: s.epoch + 1,
      ...(s.objective !== undefined ? { objective: s.objective } : {}),
      trainLoss: s.trainLoss ?? s.trainLossRunning,
      ...(s.trainAccuracy !== undefined ? { trainAccuracy: s.trainAccuracy } : {}),
      ...(s.testLoss !== undefined ? { testLoss: s.testLoss } : {}),
      ...(s.testAccuracy !== undefined ? { testAccuracy: s.testAccuracy } : {}),
      ...extra,
    };
  }
}

const NUMERIC = new Set<string>(RUN_LOG_COLUMNS.filter((c) => c !== 'kind' && c !== 'optimizer'));

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/**
 * Reads a run log written by {@link RunLog} (JSON Lines or CSV, by extension unless `format` is
 * given). A last line cut short by a crash is skipped; any other malformed line is an error.
 * @throws Error naming the file and the line.
 */
export function readRunLog(file: string, format: RunLogFormat = runLogFormat(file)): RunRecord[] {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  const records: RunRecord[] = [];
  const bad = (n: number, why: string): never => {
    throw new Error(`${file}:${n}: ${why}`);
  };
  let header: string[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const last = i === lines.length - 1 && !complete;
    if (format === 'csv') {
      if (header === undefined) {
        header = parseCsvLine(line);
        if (!header.includes('kind') || !header.includes('time')) bad(i + 1, `not a run log: the CSV header has no 'kind' and 'time' columns`);
        continue;
      }
      const cells = parseCsvLine(line);
      if (cells.length !== header.length) {
        if (last) break;
        bad(i + 1, `${cells.length} cells, the header has ${header.length}`);
      }
      const r: Record<string, unknown> = {};
      header.forEach((h, k) => {
        const c = cells[k];
        if (c === '') return;
        r[h] = NUMERIC.has(h) ? Number(c) : c;
      });
      records.push(r as unknown as RunRecord);
    } else {
      let r: unknown;
      try {
        r = JSON.parse(line);
      } catch {
        if (last) break;
        bad(i + 1, 'not a JSON object (is this a run log written by --log?)');
      }
      if (r === null || typeof r !== 'object' || typeof (r as RunRecord).kind !== 'string') bad(i + 1, "not a run log record (no 'kind')");
      records.push(r as RunRecord);
    }
  }
  return records;
}
