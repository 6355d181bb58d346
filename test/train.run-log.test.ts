// lib/train/run-log: JSON Lines and CSV run logs written record by record (synchronously, so a
// crash loses at most one), read back (a truncated last line skipped); EarlyStopping.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { EarlyStopping } from '../lib/train/early-stopping';
import { readRunLog, RunLog, RUN_LOG_COLUMNS } from '../lib/train/run-log';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-run-log-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const epoch = { epoch: 0, iteration: 4, trainLossRunning: 0.5, objective: 0.4, trainLoss: 0.39, trainAccuracy: 0.8, testAccuracy: 0.75, testLoss: 0.41, elapsed: 1.5 };

test('JSON Lines: each record is on disk as soon as write returns; read back as written', () => {
  const file = path.join(dir, 'run.jsonl');
  const log = RunLog.open(file);
  expect(log.format).toBe('jsonl');
  log.write({ kind: 'start', optimizer: 'sgd', time: 0, iteration: 0, options: { lr: 0.1 } });
  log.write(RunLog.fromEpoch(epoch, 'sgd', { learningRate: 0.1, validationAccuracy: 0.7 }));
  // not closed yet: the records are already in the file (no buffering in the process)
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(JSON.parse(lines[1])).toEqual({ kind: 'epoch', optimizer: 'sgd', time: 1.5, iteration: 4, epoch: 1, objective: 0.4, trainLoss: 0.39, trainAccuracy: 0.8, testLoss: 0.41, testAccuracy: 0.75, learningRate: 0.1, validationAccuracy: 0.7 });
  log.close();
  log.close(); // idempotent
  expect(() => log.write({ kind: 'final', optimizer: 'sgd', time: 2, iteration: 4 })).toThrow(/is closed/);
  expect(readRunLog(file).map((r) => r.kind)).toEqual(['start', 'epoch']);
  // a crash in the middle of a write leaves a cut last line: skipped
  fs.appendFileSync(file, '{"kind":"epoch","optimizer":"sgd","ti');
  expect(readRunLog(file)).toHaveLength(2);
  fs.writeFileSync(path.join(dir, 'bad.jsonl'), 'nonsense\n{"kind":"epoch"}\n');
  expect(() => readRunLog(path.join(dir, 'bad.jsonl'))).toThrow(/bad\.jsonl:1: not a JSON object/);
});

test('CSV: a header and one row per record; the start record left out; numbers back as numbers', () => {
  const file = path.join(dir, 'run.csv');
  const log = RunLog.open(file, { fsync: true });
  expect(log.format).toBe('csv');
  log.write({ kind: 'start', optimizer: 'newton', time: 0, iteration: 0 });
  const it = { iteration: 1, iterations: 2, initialObjective: 2, objective: 1.5, gradientNorm: 0.3, trainAccuracy: 0.4, subsampleSize: 5, cgSteps: 7, cgRelativeResidual: 0.1,
    cgStop: 'tolerance', lambda: 1, nextLambda: 1.5, rho: 0.2, stepSize: 0.5, lineSearchSteps: 2, accepted: true, times: { gradient: 1, cg: 1, lineSearch: 1, evaluation: 0 }, testAccuracy: 0.45, elapsed: 3 } as const;
  log.write(RunLog.fromNewton(it));
  log.close();
  const text = fs.readFileSync(file, 'utf8').split('\n');
  expect(text[0]).toBe(RUN_LOG_COLUMNS.join(','));
  expect(text[1]).toBe('iteration,newton,3,1,,1.5,,0.4,,0.45,,,,1,7,0.2,0.5,0.3');
  expect(readRunLog(file)).toEqual([{ kind: 'iteration', optimizer: 'newton', time: 3, iteration: 1, objective: 1.5, trainAccuracy: 0.4, testAccuracy: 0.45, lambda: 1, cgSteps: 7, rho: 0.2, stepSize: 0.5, gradientNorm: 0.3 }]);
  // append (a resumed run) keeps the header once
  const again = RunLog.open(file, { append: true });
  again.write(RunLog.fromNewton({ ...it, iteration: 2 }));
  again.close();
  expect(readRunLog(file).map((r) => r.iteration)).toEqual([1, 2]);
});

test('EarlyStopping: stops after `patience` evaluations without improvement', () => {
  const s = new EarlyStopping(2);
  expect([0.5, 0.6, 0.6, 0.55].map((v, i) => s.observe(v, i + 1))).toEqual([false, false, false, true]);
  expect([s.best, s.bestAt, s.since]).toEqual([0.6, 2, 2]);
  expect(() => new EarlyStopping(0)).toThrow(/patience must be a positive integer/);
});
