// worker.terminate() on worker threads that use newton-cnn never takes the process down.
//
// Terminating a worker tears its environment down while it may be inside a native call, an async
// read may still be queued, and its tensors' finalizers run during the teardown; before the fix
// an error that could not be thrown there reached std::terminate (SIGABRT), even for a loop of
// `Tensor.zeros(…).dispose()`. The workers run in a child process (test/fixtures/
// terminate-workers.js), so that such a crash fails this test instead of killing jest: 100
// terminations at random moments of workers running ops, async reads (tensors and a data file)
// and SGD training; then the main thread's results must be bit for bit what they were before,
// and the native memory of every terminated worker must have been freed.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { ensureDist } from './fixtures/dist';

let dist: string;
beforeAll(() => {
  dist = ensureDist();
}, 300_000);

test('100 worker terminations at random moments: no crash, main-thread results unchanged, memory freed', () => {
  const script = path.join(__dirname, 'fixtures', 'terminate-workers.js');
  const r = spawnSync(process.execPath, [script, dist, '100'], { encoding: 'utf8', timeout: 300_000 });
  const detail = `status ${r.status}, signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-4000)}`;
  if (r.signal !== null || r.status !== 0) throw new Error(`the child process failed: ${detail}`);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n');
  const out = JSON.parse(lines[lines.length - 1]) as { terminated: number; errors: string[]; same: boolean; bytesBefore: number; bytesAfter: number };
  expect(out.errors).toEqual([]);
  expect(out.terminated).toBe(100);
  expect(out.same).toBe(true);
  // Every tensor of a terminated worker is freed during its teardown (finalizers; async reads
  // complete first and release theirs).
  expect(out.bytesAfter).toBe(out.bytesBefore);
}, 320_000);
