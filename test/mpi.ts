// Running test scripts as MPI jobs: `mpirun -np N node …` with what Open MPI needs in this
// container (root, more ranks than cores, no cross-memory attach), and why a test skips when
// it cannot.
import { spawnSync } from 'node:child_process';

import { distributedInfo } from '../lib';
import { mpirunEnv } from '../scripts/mpi-env';

/** Why MPI jobs cannot run here, or null when they can. */
export function mpiUnavailable(): string | null {
  const info = distributedInfo().mpi;
  if (info.library === null) return info.reason;
  const probe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return 'mpirun is not on PATH (apt-get install openmpi-bin)';
  return null;
}

/** The environment of an mpirun child (scripts/mpi-env.ts). */
export function mpiEnv(): NodeJS.ProcessEnv {
  return mpirunEnv();
}

/** Runs `mpirun -np n node args…` to completion (at most timeoutMs). */
export function mpirun(n: number, args: readonly string[], timeoutMs: number): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('mpirun', ['-np', String(n), process.execPath, ...args], { encoding: 'utf8', env: mpiEnv(), timeout: timeoutMs, maxBuffer: 256 * 2 ** 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Helpers of the tests' child scripts (plain JS, placed after a script's own `fs`, `path` and
 * `outDir`): caught(f), the error f throws as { type, message } (null when none); write(name,
 * value), a JSON result file in outDir; values(rank, count, salt), deterministic inputs that
 * differ between ranks.
 */
export const CHILD_HELPERS = `const caught = (f) => { try { f(); return null; } catch (e) { return { type: e.constructor.name, message: String(e.message) }; } };
const write = (name, value) => fs.writeFileSync(path.join(outDir, name), JSON.stringify(value));
function values(rank, count, salt) {
  const a = [];
  let s = ((rank + 1) * 7919 + salt * 104729) >>> 0;
  for (let i = 0; i < count; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; a.push((s / 2 ** 32 - 0.5) * 200); }
  return a;
}
`;
