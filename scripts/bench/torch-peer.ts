// The PyTorch half of `npm run bench -- vs-torch`: finds a Python with torch, starts
// scripts/bench/vs_torch.py once and drives it, so that its timed samples can alternate with
// ours without importing torch again for each.
//
// Note [vs-torch protocol]
// One JSON object per line each way. The child first prints {"ready": true, "torch": …} (or
// {"ready": false, "error": …} and exits when torch does not import); then every request
// {"id": k, "cmd": …} gets exactly one answer {"id": k, "ok": true, …} or {"id": k, "ok": false,
// "error": …}. Requests are answered in order; the child ends at {"cmd": "exit"} or when its
// stdin closes (so it does not outlive us even when we are killed).
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

export const TORCH_PYTHON_ENV = 'NEWTON_TORCH_PYTHON';
export type Layout = 'contiguous' | 'channels_last';
export const LAYOUTS: readonly Layout[] = ['contiguous', 'channels_last'];

/** What the child reports once torch is imported. */
export interface TorchInfo {
  executable: string;
  torch: string;
  python: string;
  threads: number;
  interopThreads: number;
  mkldnn: boolean;
}

/** A workload for vs_torch.py to build (its WORKLOADS); the fields it needs depend on the workload. */
export interface TorchSetup {
  workload: 'sgd' | 'inference' | 'gv' | 'newton';
  shape: readonly [number, number, number];
  batch?: number;
  samples?: number;
  trainSize?: number;
  batchSize?: number;
  cgSteps?: number;
  lineSearchPasses?: number;
  imagesFile?: string;
  warmup: number;
  minSampleMs: number;
  layouts: readonly Layout[];
}

type Answer = Record<string, unknown> & { ok: boolean; error?: string; trace?: string };

const READY_TIMEOUT_MS = 120_000;
// The longest a request may take: a full Newton iteration's set-up runs one per layout on 32×32×3.
const REQUEST_TIMEOUT_MS = 30 * 60_000;
const STDERR_LINES = 15;

/** vs_torch.py next to this file (ts-node, jest) or in the source tree beside dist/ (the compiled suite). */
export function torchScript(): string | undefined {
  const candidates = [path.join(__dirname, 'vs_torch.py'), path.resolve(__dirname, '../../../scripts/bench/vs_torch.py')];
  return candidates.find((p) => fs.existsSync(p));
}

export class TorchPeer {
  private readonly pending = new Map<number, { cmd: string; resolve: (a: Answer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly stderr: string[] = [];
  private nextId = 1;
  private exited: string | undefined;
  private readonly killOnExit = (): void => {
    this.child.kill('SIGKILL');
  };

  private constructor(private readonly child: ChildProcessWithoutNullStreams, readonly info: TorchInfo, lines: readline.Interface) {
    lines.on('line', (line) => this.answer(line));
    child.on('close', (code, signal) => this.onExit(code, signal));
    process.once('exit', this.killOnExit);
  }

  /**
   * Starts vs_torch.py under $NEWTON_TORCH_PYTHON, else `python3` on PATH, with `threads` threads
   * and one inter-op thread. Resolves to the running peer, or to why there is none (one line).
   */
  static start(threads: number, env: NodeJS.ProcessEnv = process.env): Promise<TorchPeer | { skip: string }> {
    const fromEnv = env[TORCH_PYTHON_ENV];
    const executable = fromEnv !== undefined && fromEnv !== '' ? fromEnv : 'python3';
    const where = fromEnv !== undefined && fromEnv !== '' ? `${TORCH_PYTHON_ENV}=${fromEnv}` : 'python3 on PATH';
    const skip = (why: string): { skip: string } => ({
      skip: `PyTorch not found (${where}: ${why}), set ${TORCH_PYTHON_ENV}=/path/to/python; PyTorch half skipped`,
    });
    const script = torchScript();
    if (script === undefined) return Promise.resolve({ skip: `vs_torch.py not found beside ${__dirname}; PyTorch half skipped` });
    return new Promise((resolve) => {
      let settled = false;
      const stderr: string[] = [];
      const child = spawn(executable, [script, '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
      const lines = readline.createInterface({ input: child.stdout });
      const done = (r: TorchPeer | { skip: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const fail = (why: string): void => {
        if (settled) return;
        child.kill('SIGKILL');
        lines.close();
        done(skip(why));
      };
      const timer = setTimeout(() => fail(`no answer within ${READY_TIMEOUT_MS / 1000} s of starting`), READY_TIMEOUT_MS);
      child.on('error', (e) => fail(e.message));
      child.stdin.on('error', () => undefined); // a child gone before reading: reported by 'close'
      child.stderr.on('data', (chunk: Buffer) => keepTail(stderr, chunk.toString()));
      child.on('close', (code, signal) => fail(`exited with ${exitText(code, signal)} before importing torch${tailText(stderr)}`));
      lines.once('line', (line) => {
        let first: Record<string, unknown>;
        try {
          first = JSON.parse(line) as Record<string, unknown>;
        } catch {
          fail(`printed ${JSON.stringify(line.slice(0, 200))} instead of its ready line`);
          return;
        }
        if (first.ready !== true) {
          fail(String(first.error ?? 'torch did not import'));
          return;
        }
        child.removeAllListeners('close');
        const peer = new TorchPeer(child, {
          executable,
          torch: String(first.torch),
          python: String(first.python),
          threads: Number(first.threads),
          interopThreads: Number(first.interopThreads),
          mkldnn: first.mkldnn === true,
        }, lines);
        peer.stderr.push(...stderr);
        child.stderr.removeAllListeners('data');
        child.stderr.on('data', (chunk: Buffer) => keepTail(peer.stderr, chunk.toString()));
        done(peer);
      });
    });
  }

  /** Builds the workload in every layout and warms it up; returns PyTorch's parameter count. */
  async setup(s: TorchSetup): Promise<number> {
    const a = await this.request('setup', { ...s });
    if (typeof a.parameters !== 'number') throw new Error(`PyTorch half answered 'setup' without its parameter count: ${JSON.stringify(a).slice(0, 200)}`);
    return a.parameters;
  }

  /** One timed sample per layout, ms per call. */
  async time(): Promise<Map<Layout, number>> {
    const a = await this.request('time', {});
    const ms = (typeof a.ms === 'object' && a.ms !== null ? a.ms : {}) as Record<string, unknown>;
    const out = new Map<Layout, number>();
    for (const l of LAYOUTS) {
      const v = ms[l];
      if (typeof v === 'number' && v > 0) out.set(l, v);
    }
    if (out.size === 0) throw new Error(`PyTorch half answered 'time' without timings: ${JSON.stringify(a).slice(0, 200)}`);
    return out;
  }

  async release(): Promise<void> {
    await this.request('release', {});
  }

  /** Asks the child to exit and waits for it (killed after 5 s). */
  async close(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    this.request('exit', {}).catch(() => undefined);
    this.child.stdin.end();
    await gone;
    clearTimeout(timer);
  }

  private request(cmd: string, fields: Record<string, unknown>): Promise<Answer> {
    if (this.exited !== undefined) return Promise.reject(new Error(`PyTorch half is gone (${this.exited})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.child.kill('SIGKILL');
        reject(new Error(`PyTorch half (${this.info.executable} vs_torch.py) did not answer '${cmd}' within ${REQUEST_TIMEOUT_MS / 60000} min; killed`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { cmd, resolve, reject, timer });
      this.child.stdin.write(JSON.stringify({ id, cmd, ...fields }) + '\n');
    });
  }

  private answer(line: string): void {
    let a: Answer;
    try {
      a = JSON.parse(line) as Answer;
    } catch {
      keepTail(this.stderr, line); // stray output of a library: context for a later error
      return;
    }
    const p = this.pending.get(Number(a.id));
    if (p === undefined) return;
    this.pending.delete(Number(a.id));
    clearTimeout(p.timer);
    if (a.ok) p.resolve(a);
    else p.reject(new Error(`PyTorch half failed on '${p.cmd}': ${a.error ?? 'no message'}${a.trace ? `\n${a.trace.trimEnd()}` : ''}`));
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = `exited with ${exitText(code, signal)}`;
    process.removeListener('exit', this.killOnExit);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`PyTorch half (${this.info.executable} vs_torch.py) ${this.exited} during '${p.cmd}'${tailText(this.stderr)}`));
      this.pending.delete(id);
    }
  }
}

function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `code ${code}`;
}

function keepTail(tail: string[], text: string): void {
  tail.push(...text.split('\n').filter((l) => l.trim() !== ''));
  tail.splice(0, Math.max(0, tail.length - STDERR_LINES));
}

function tailText(tail: readonly string[]): string {
  return tail.length === 0 ? '' : `; its last output:\n  ${tail.join('\n  ')}`;
}
