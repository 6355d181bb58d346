// The vector ISA of the CPU kernels (note [run-time ISA] in native/core/cpu/isa.h): choosing
// it, its errors, results that are the same bits under every ISA and every thread count, and
// AVX instructions only inside the dispatched instantiations of the built addon.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import * as nc from '../lib';
import type { CpuIsaName, Tensor } from '../lib';
import { CPU_ISAS } from '../lib/native';
import { families } from './cases';
import { disposeAll, inputValues, upload } from './cases/harness';
import { describeEachCpuIsa, expectCpuIsaRefused, expectThrow, randTensor, withCpuIsa } from './helpers';

const supported = nc.info().cpuIsa.supported;

// Every output of a call as numbers (tensors read back as float64: exact for float32 and int32).
function flatten(out: Record<string, Tensor | number | null> | Tensor | number): number[][] {
  if (typeof out === 'number') return [[out]];
  if (out instanceof nc.Tensor) return [Array.from(out.toArray() as ArrayLike<number>)];
  const result: number[][] = [];
  for (const key of Object.keys(out).sort()) {
    const v = out[key];
    if (v !== null) result.push(...flatten(v));
  }
  return result;
}

// Same bits: Object.is tells −0 from +0 and takes NaN as NaN.
function expectSameBits(actual: number[][], expected: number[][], what: string): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, k) => {
    const e = expected[k];
    expect(a.length).toBe(e.length);
    const first = a.findIndex((x, i) => !Object.is(x, e[i]));
    if (first >= 0) throw new Error(`${what}: output ${k} differs first at index ${first}: got ${a[first]}, expected ${e[first]}`);
  });
}

describe('setCpuIsa / getCpuIsa / info().cpuIsa', () => {
  test('the processor runs the baseline; the default is the best it runs', () => {
    expect(supported[0]).toBe('baseline');
    expect(supported.every((isa) => (CPU_ISAS as readonly string[]).includes(isa))).toBe(true);
    if (process.env.NEWTON_CPU_ISA === undefined || process.env.NEWTON_CPU_ISA === '') {
      expect(nc.getCpuIsa()).toBe(supported[supported.length - 1]);
    }
  });

  test('set, get, info() and the CPU device description agree', () => {
    for (const isa of supported) {
      withCpuIsa(isa, () => {
        expect(nc.getCpuIsa()).toBe(isa);
        expect(nc.info().cpuIsa.active).toBe(isa);
        const cpu = nc.devices().find((d) => d.name === 'cpu');
        expect(cpu?.description).toContain(`vector code: ${isa}`);
      });
    }
  });

  test('an unknown name or a non-string is refused, naming the op and the argument', () => {
    const before = nc.getCpuIsa();
    expectThrow(() => nc.setCpuIsa('sse4' as CpuIsaName), 'RangeError', /^setCpuIsa: isa must be 'baseline', 'avx2' or 'avx512', got 'sse4'$/);
    expectThrow(() => nc.setCpuIsa(2 as unknown as CpuIsaName), 'TypeError', /^setCpuIsa: isa must be 'baseline', 'avx2' or 'avx512', got /);
    expect(nc.getCpuIsa()).toBe(before);
  });

  const missing = CPU_ISAS.filter((isa) => !supported.includes(isa));
  if (missing.length === 0) {
    // No ISA to refuse here: check instead that every one is reported and can be chosen.
    test('this processor runs every ISA: each is listed and can be chosen', () => {
      expect(supported).toEqual([...CPU_ISAS]);
      for (const isa of CPU_ISAS) withCpuIsa(isa, () => expect(nc.getCpuIsa()).toBe(isa));
    });
  } else {
    test('an ISA the processor lacks is refused, naming it and what the processor runs', () => {
      for (const isa of missing) expectCpuIsaRefused(isa, supported);
    });
  }
});

describe('NEWTON_CPU_ISA', () => {
  const script = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
  const run = (value: string) =>
    spawnSync(process.execPath, ['-e', `const nc = require(${JSON.stringify(script)}); console.log(nc.getCpuIsa());`], {
      env: { ...process.env, NEWTON_CPU_ISA: value },
      encoding: 'utf8',
    });
  const built = fs.existsSync(script);
  (built ? test : test.skip)('picks the ISA; a misspelt or unsupported one is an Error naming the variable', () => {
    for (const isa of supported) {
      const r = run(isa);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(isa);
    }
    const bad = run('avx9');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("environment variable NEWTON_CPU_ISA must be one of baseline, avx2, avx512, got 'avx9'");
    for (const isa of CPU_ISAS.filter((i) => !supported.includes(i))) {
      const r = run(isa);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`environment variable NEWTON_CPU_ISA asks for '${isa}', which this processor does not run`);
    }
  });
});

// Every op case, in both dtypes, gives the same bits under every ISA as under the baseline:
// no FMA, no reassociation, and the reductions' order is written out (note [run-time ISA]).
describe('every op case gives the same bits under every ISA', () => {
  const others = supported.filter((isa) => isa !== 'baseline');
  if (others.length === 0) {
    // Only the baseline to compare with itself: check instead that the others are refused.
    test(`this processor runs only the baseline: ${CPU_ISAS.slice(1).join(' and ')} are refused`, () => {
      for (const isa of CPU_ISAS.slice(1)) expectCpuIsaRefused(isa, supported);
    });
    return;
  }
  for (const family of families) {
    describe(family.name, () => {
      for (const c of family.cases) {
        for (const dtype of c.dtypes ?? (['float32', 'float64'] as const)) {
          const title = `${c.op}: ${c.name} [${dtype}]`;
          test(title, () => {
            const values = inputValues(c, dtype);
            const t = upload(c, values, dtype, 'cpu');
            try {
              const runUnder = (isa: CpuIsaName) =>
                withCpuIsa(isa, () => {
                  const out = c.run(t, dtype, 'cpu');
                  try {
                    return flatten(out);
                  } finally {
                    disposeAll(out);
                  }
                });
              const base = runUnder('baseline');
              for (const isa of others) expectSameBits(runUnder(isa), base, `${title} under ${isa}`);
            } finally {
              disposeAll(t);
            }
          });
        }
      }
    });
  }
});

function withThreads<R>(n: number, f: () => R): R {
  const saved = nc.getNumThreads();
  nc.setNumThreads(n);
  try {
    return f();
  } finally {
    nc.setNumThreads(saved);
  }
}

// Large enough that every op below is split over the pool's threads.
describeEachCpuIsa('thread-count independence', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    test(`element-wise, reductions, per-channel, pooling, losses and fused ops [${dtype}]`, () => {
      const shape = [8, 16, 36, 34];
      const X = randTensor(shape, 21, dtype);
      const Y = randTensor(shape, 22, dtype);
      const P = randTensor(shape, 23, dtype);
      const B = randTensor([16], 24, dtype);
      const alpha = nc.Tensor.from(dtype === 'float32' ? Float32Array.of(0.37) : Float64Array.of(0.37), { shape: [1] });
      const beta = nc.Tensor.from(dtype === 'float32' ? Float32Array.of(-0.61) : Float64Array.of(-0.61), { shape: [1] });
      const compute = () => {
        const x = X.t.clone();
        const r = Y.t.clone();
        const cg = nc.cgUpdate(x, r, P.t, X.t, 0.25);
        const residual = nc.newtonResidual(X.t, Y.t, P.t, X.t, alpha, { relu: true });
        return [
          ...flatten(nc.add(X.t, Y.t)),
          ...flatten(nc.mul(X.t, Y.t)),
          ...flatten(nc.relu(X.t)),
          ...flatten(nc.reluBackward(Y.t, X.t)),
          ...flatten(nc.scale(X.t, 0.3)),
          [nc.sum(X.t), nc.dot(X.t, Y.t), nc.squaredNorm(X.t), cg, nc.squaredLoss(X.t.reshape([128, 1224]), Y.t.reshape([128, 1224]))],
          ...flatten(x),
          ...flatten(r),
          ...flatten(nc.biasAdd(X.t, B.t)),
          ...flatten(nc.biasGrad(X.t)),
          ...flatten(nc.channelAffine(X.t, B.t, B.t)),
          ...flatten(nc.maxPool2d(X.t, { kernel: 2 }).y),
          ...flatten(nc.maxPool2d(X.t, { kernel: 3, stride: 2, padding: 1 }).y),
          ...flatten(nc.avgPool2d(X.t, { kernel: 2 })),
          ...flatten(nc.squaredLossGradient(X.t.reshape([128, 1224]), Y.t.reshape([128, 1224]))),
          ...flatten(residual),
          ...flatten(nc.newtonResidualBackward(Y.t, residual, P.t, X.t, alpha, { relu: true })),
          ...flatten(nc.cgNetUpdate(X.t, Y.t, P.t, X.t, Y.t, alpha, beta)),
        ];
      };
      const r1 = withThreads(1, compute);
      expectSameBits(withThreads(2, compute), r1, '1 vs 2 threads');
      expectSameBits(withThreads(3, compute), r1, '1 vs 3 threads');
    });
  }
});

// The property note [run-time ISA] rests on: in the built addon, every function that holds an
// AVX instruction (a VEX or EVEX one: mnemonics starting with 'v') is an instantiation of
// run_avx2 or run_avx512 or a kernel named *_avx2 / *_avx512 (pool.cpp), which only run when
// cpu_isa() chose them. A template or inline function compiled for AVX elsewhere could be
// linked in place of its baseline copy and then crash an older processor.
describe('AVX instructions only in the dispatched instantiations', () => {
  const addon = nc.info().addon;
  const objdump = spawnSync('objdump', ['--version'], { encoding: 'utf8' });
  const usable = process.platform === 'linux' && process.arch === 'x64' && objdump.status === 0;
  (usable ? test : test.skip)(`${path.basename(addon)}${usable ? '' : ' skipped: needs objdump on linux-x64'}`, () => {
    const dis = spawnSync('objdump', ['-d', '--no-show-raw-insn', addon], { encoding: 'utf8', maxBuffer: 1 << 30 });
    expect(dis.status).toBe(0);
    const offenders = new Map<string, number>();
    let fn = '';
    let dispatched = 0;
    for (const line of dis.stdout.split('\n')) {
      const header = /^[0-9a-f]+ <(.*)>:$/.exec(line);
      if (header) {
        fn = header[1];
        if (/avx(2|512)/.test(fn)) dispatched++;
        continue;
      }
      const insn = /^\s+[0-9a-f]+:\s+(\S+)/.exec(line);
      if (!insn || !insn[1].startsWith('v') || insn[1] === 'vzeroupper' || /avx(2|512)/.test(fn)) continue;
      offenders.set(fn, (offenders.get(fn) ?? 0) + 1);
    }
    expect(dispatched).toBeGreaterThan(0);
    expect([...offenders.keys()]).toEqual([]);
  });
});
