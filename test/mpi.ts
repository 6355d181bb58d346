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
