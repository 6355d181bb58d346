// CUDA ↔ CPU parity of what is more than one op: a whole cnn3 forward + backward, the network
// products (Jv, Jᵀu, Gv in both modes, Hv), an SGD step and a Newton iteration, each from the
// same θ and batch on both devices; the CUDA device's own behaviour (memory statistics return to
// their start after disposal, an absurd allocation throws and the next op works, float64 is
// refused with a clear error, transfers round-trip, the asynchronous read) and determinism
// (repeated runs give identical bits). Every single op runs through the op cases instead
// (test/ops.parity.test.ts, test/cases/).
//
// Without a CUDA device every case is still registered, once per case, as a skipped test
// whose title carries devices()'s reason; with NEWTON_REQUIRE_CUDA=1 (what
// scripts/gpu-check.sh sets on the GPU machine) a missing device instead FAILS every case
// (test/helpers.ts, cudaTest).
//
// ResNet-20 (batch norm, residual adds, global average pooling) gets the same passes in both
// batch-norm modes (batch statistics and running statistics), an SGD step that updates the
// running statistics, and the refusal of the stored-Jacobian mode with batch norm in training mode.
//
// Tolerance of the compositions: ‖Δ‖₂ ≤ 1e-4·‖r‖₂ for outputs, gradients and products (~15
// float32 ops, errors compound through ReLU/pool selections: float32 noise is ~1e-6
// relative; a wrong layer is O(1)); the Newton iteration compares θ after a CG solve, which
// amplifies rounding by at most its iteration count, so 1e-3 there.
import * as nc from '../lib';
import * as analysis from '../lib/analysis';
import { Tensor, devices, memoryStats } from '../lib';
import { cifarResNet, cnn3, crossEntropyLoss, Network, newtonCgNet, newtonResnet, Sequential, squaredLoss as squaredLossObj } from '../lib/nn';
import { Sgd } from '../lib/optim';
import { trainNewton } from '../lib/train';
import { createDataset } from '../lib/data';
import { CUDA_DEVICE, cudaTest, expectThrow, PARITY_SELFTEST, prng, randDistribution, TF32 } from './helpers';

// --- data -------------------------------------------------------------------------------------
// Float32 values in ±[0.1, 1]·scale, never zero (generic: no ties in max pooling, no ReLU kinks).
function data(n: number, seed: number, scale = 1): Float32Array {
  const r = prng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = 0.1 + 0.9 * r();
    out[i] = (r() < 0.5 ? -m : m) * scale;
  }
  return out;
}
// Like data() with awkward values sprinkled in: ±0, subnormals, huge and tiny normals, so
// flush-to-zero or a different rounding path shows in the bit-exact ops.
const SPECIAL = [0, -0, 1e-40, -1e-45, 1.1754944e-38, 3e38, -3e38, 1e-30, 65504, 0.1];
function awkward(n: number, seed: number): Float32Array {
  const out = data(n, seed);
  for (let i = 0; i < n; i += 3) out[i] = SPECIAL[(i / 3 + seed) % SPECIAL.length];
  return out;
}
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const f32 = (shape: number[], values: Float32Array) => ({ shape, values });
const rnd = (shape: number[], seed: number, scale = 1) => f32(shape, data(numel(shape), seed, scale));

type Inputs = Record<string, { shape: number[]; values: Float32Array | Int32Array }>;
type Outputs = Record<string, Tensor | number>;

function upload(inp: Inputs, dev: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(inp)) out[k] = Tensor.from(v.values, { shape: v.shape, device: dev });
  return out;
}
function disposeAll(...groups: Record<string, Tensor | number | null>[]): void {
  for (const g of groups) for (const v of Object.values(g)) if (v instanceof Object && typeof (v as Tensor).dispose === 'function') (v as Tensor).dispose();
}
function read(t: Tensor | number): Float64Array {
  return typeof t === 'number' ? Float64Array.of(t) : Float64Array.from(t.toArray() as ArrayLike<number>);
}

function bitsEqual(g: Tensor, c: Tensor, what: string): void {
  const a = g.toArray(), b = c.toArray();
  expect(a.length).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let bad = 0, first = -1;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) { bad++; if (first < 0) first = i; }
  if (bad) throw new Error(`${what}: ${bad} of ${ua.length} elements differ bitwise; first at ${first}: cuda ${a[first]} (0x${ua[first].toString(16)}), cpu ${b[first]} (0x${ub[first].toString(16)})`);
}

// ================================================================================================
// Memory first: before any other CUDA test, so that no tensor leaked by an earlier test can be
// garbage-collected (and change bytesInUse) while this one measures.
describe('cuda memory', () => {
  cudaTest('memoryStats returns to its start after disposal; cache reuse', (dev) => {
    const s0 = memoryStats(dev);
    expect(s0.bytesInUse).toBeGreaterThanOrEqual(0);
    const live: Tensor[] = [];
    const x = Tensor.from(data(8 * 32 * 14 * 14, 100), { shape: [8, 32, 14, 14], device: dev });
    const w = Tensor.from(data(64 * 32 * 9, 101), { shape: [64, 32, 3, 3], device: dev });
    live.push(x, w);
    const y = nc.conv2d(x, w, null, { padding: 1 });
    const r = nc.relu(y);
    const p = nc.maxPool2d(r, { kernel: 2 });
    const flat = x.reshape([8, 32 * 196]); // a view: keeps x's memory until it is disposed too
    live.push(y, r, p.y, p.argmax, flat, nc.conv2dBackwardFilter(y, x, [64, 32, 3, 3], { padding: 1 }), nc.gemm(flat, flat, { transA: true }));
    const s1 = memoryStats(dev);
    expect(s1.bytesInUse).toBeGreaterThanOrEqual(s0.bytesInUse + 4 * (8 * 32 * 196 + 64 * 32 * 9));
    expect(s1.peakBytesInUse).toBeGreaterThanOrEqual(s1.bytesInUse);
    for (const t of live) t.dispose();
    const s2 = memoryStats(dev);
    expect(s2.bytesInUse).toBe(s0.bytesInUse);
    // the freed blocks are cached, and the same sizes again come from the cache
    expect(s2.bytesCached).toBeGreaterThan(0);
    const again = Tensor.zeros([8, 32, 14, 14], { device: dev });
    expect(memoryStats(dev).bytesCached).toBeLessThan(s2.bytesCached);
    again.dispose();
    expect(memoryStats(dev).bytesInUse).toBe(s0.bytesInUse);
  }, true);

});

describe('parity: cnn3 forward + backward', () => {
  for (const [name, input, batch] of [['28×28×1 batch 32', [1, 28, 28], 32], ['32×32×3 batch 8', [3, 32, 32], 8]] as [string, [number, number, number], number][]) {
    cudaTest(`cnn3 forward + backward: ${name}`, (dev) => {
      const cpu = cnn3(input, 10, { seed: 3 });
      const gpu = cnn3(input, 10, { seed: 3, device: dev });
      try {
        gpu.setParameters(cpu.getParameters() as Float32Array); // same θ (init draws normals: ≤ 1 ulp apart)
        const xv = data(batch * numel(input), 70, 0.5);
        const yv = Float32Array.from({ length: batch * 10 }, (_, i) => (i % 10 === (Math.floor(i / 10) * 7) % 10 ? 1 : 0));
        const res: Record<string, Float64Array> = {};
        for (const [m, d] of [[cpu, 'cpu'], [gpu, dev]] as const) {
          const x = Tensor.from(xv, { shape: [batch, ...input], device: d });
          const y = Tensor.from(yv, { shape: [batch, 10], device: d });
          const z = m.forward(x, { training: true });
          const dz = squaredLossObj.gradient(z, y);
          m.backward(dz);
          res[`z ${d}`] = read(z);
          res[`g ${d}`] = read(m.gradient);
          for (const t of [x, y, z, dz]) t.dispose();
          m.releaseCache();
        }
        for (const k of ['z', 'g']) {
          const a = res[`${k} ${dev}`], b = res[`${k} cpu`];
          let dd = 0, nn = 0;
          for (let i = 0; i < b.length; i++) { dd += (a[i] - b[i]) ** 2; nn += b[i] ** 2; }
          const rel = Math.sqrt(dd) / Math.sqrt(nn);
          if (!(rel <= 1e-4)) throw new Error(`cnn3 ${k === 'z' ? 'outputs' : 'gradient'}: ‖cuda − cpu‖/‖cpu‖ = ${rel} > 1e-4`);
        }
      } finally {
        cpu.dispose();
        gpu.dispose();
      }
    });
  }
});

// ================================================================================================
// Network passes beyond forward/backward: the R-operator (Jv), Jᵀu, the Gauss-Newton and
// Hessian products, one SGD step and one whole Newton iteration (CG with the fused update, line
// search), each on the same θ and batch on both devices. Tolerance: ‖Δ‖₂ ≤ 1e-4·‖r‖₂, as for
// cnn3 forward + backward above (compositions of float32 ops; a wrong pass is O(1)); the
// Newton iteration compares θ after the step, which CG (float32 vectors, ≤ 250 steps)
// amplifies at most by its iteration count, so 1e-3 there.
function relativeDistance(a: Float64Array, b: Float64Array): number {
  let dd = 0;
  let nn = 0;
  for (let i = 0; i < b.length; i++) {
    dd += (a[i] - b[i]) ** 2;
    nn += b[i] ** 2;
  }
  return Math.sqrt(dd) / Math.sqrt(nn);
}

describe('parity: network products, SGD and Newton on cnn3', () => {
  const input: [number, number, number] = [1, 12, 12];
  const batch = 16;
  const classes = 10;
  const oneHot = (n: number): Float32Array =>
    Float32Array.from({ length: n * classes }, (_, i) => (i % classes === (Math.floor(i / classes) * 3) % classes ? 1 : 0));
  const pair = (dev: string): { cpu: Sequential; gpu: Sequential } => {
    const cpu = cnn3(input, classes, { seed: 5 });
    const gpu = cnn3(input, classes, { seed: 5, device: dev });
    gpu.setParameters(cpu.getParameters() as Float32Array);
    return { cpu, gpu };
  };
  const products: [string, (m: Sequential, x: Tensor, y: Tensor, v: Tensor, u: Tensor) => Tensor][] = [
    ['jvp (Jv)', (m, _x, _y, v) => m.jvp(v)],
    ['vjp (Jᵀu)', (m, _x, _y, _v, u) => m.vjp(u)],
    ['gaussNewtonProduct (rop)', (m, _x, _y, v) => m.gaussNewtonProduct(v, { loss: squaredLossObj, lambda: 0.5, C: 0.01, trainSize: 1000 })],
    ['gaussNewtonProduct (stored)', (m, _x, _y, v) => m.gaussNewtonProduct(v, { loss: squaredLossObj, lambda: 0.5, C: 0.01, trainSize: 1000, mode: 'stored' })],
    ['hessianProduct', (m, _x, y, v) => m.hessianProduct(v, { loss: squaredLossObj, y, C: 0.01, trainSize: 1000 })],
  ];
  for (const [name, product] of products) {
    cudaTest(`cnn3 ${name}`, (dev) => {
      const { cpu, gpu } = pair(dev);
      try {
        const xv = data(batch * input[0] * input[1] * input[2], 120, 0.5);
        const vv = data(cpu.numParameters, 121, 0.01);
        const uv = data(batch * classes, 122);
        const res: Record<string, Float64Array> = {};
        for (const [m, d] of [[cpu, 'cpu'], [gpu, dev]] as const) {
          const x = Tensor.from(xv, { shape: [batch, ...input], device: d });
          const y = Tensor.from(oneHot(batch), { shape: [batch, classes], device: d });
          const v = Tensor.from(vv, { device: d });
          const u = Tensor.from(uv, { shape: [batch, classes], device: d });
          const z = m.forward(x);
          const r = product(m, x, y, v, u);
          res[d] = read(r);
          for (const t of [x, y, v, u, z, r]) t.dispose();
          m.releaseCache();
        }
        const rel = relativeDistance(res[dev], res.cpu);
        if (!(rel <= 1e-4)) throw new Error(`cnn3 ${name}: ‖cuda − cpu‖/‖cpu‖ = ${rel} > 1e-4`);
      } finally {
        cpu.dispose();
        gpu.dispose();
      }
    });
  }

  cudaTest('cnn3 one SGD step (momentum, Algorithm 2)', (dev) => {
    const { cpu, gpu } = pair(dev);
    try {
      const xv = data(batch * input[0] * input[1] * input[2], 123, 0.5);
      const res: Record<string, Float64Array> = {};
      for (const [m, d] of [[cpu, 'cpu'], [gpu, dev]] as const) {
        const sgd = new Sgd(m, { learningRate: 0.01 }, 1000);
        const x = Tensor.from(xv, { shape: [batch, ...input], device: d });
        const y = Tensor.from(oneHot(batch), { shape: [batch, classes], device: d });
        for (let step = 0; step < 2; step++) {
          const z = m.forward(x, { training: true });
          const dz = squaredLossObj.gradient(z, y);
          m.backward(dz);
          sgd.step(batch);
          z.dispose();
          dz.dispose();
        }
        res[d] = read(m.parameters);
        for (const t of [x, y]) t.dispose();
        sgd.dispose();
        m.releaseCache();
      }
      const rel = relativeDistance(res[dev], res.cpu);
      if (!(rel <= 1e-4)) throw new Error(`cnn3 SGD θ: ‖cuda − cpu‖/‖cpu‖ = ${rel} > 1e-4`);
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  });

  cudaTest('cnn3 one Newton iteration (CG with cgUpdate, line search, Levenberg-Marquardt)', async (dev) => {
    const { cpu, gpu } = pair(dev);
    try {
      const n = 64;
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % classes);
      const train = createDataset({ name: 'parity', images: data(n * input[0] * input[1] * input[2], 124, 0.5), labels, shape: input, classes });
      const res: Record<string, { theta: Float64Array; cgSteps: number }> = {};
      for (const [m, d] of [[cpu, 'cpu'], [gpu, dev]] as const) {
        const r = await trainNewton(m, train, { iterations: 1, loss: squaredLossObj, batchSize: 32, newton: { samplingRate: 0.5 }, yieldEveryMs: 1000 });
        res[d] = { theta: read(m.parameters), cgSteps: r.history[0].cgSteps };
      }
      expect(Math.abs(res[dev].cgSteps - res.cpu.cgSteps)).toBeLessThanOrEqual(1);
      const rel = relativeDistance(res[dev].theta, res.cpu.theta);
      if (!(rel <= 1e-3)) throw new Error(`cnn3 Newton θ: ‖cuda − cpu‖/‖cpu‖ = ${rel} > 1e-3`);
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  });
});

// ================================================================================================
// ResNet-20 (cifarResNet(20), projection shortcuts, batch norm after every conv) in both batch-norm
// modes: 'train' (forward with batchStatistics: true — the statistics of the batch, which every
// pass differentiates through) and 'inference' (the running statistics: per-channel affine maps).
// Same θ and buffers on both devices (copied from the cpu network with setParameters/setBuffers):
// batch-norm γ and β moved off 1 and 0, and running statistics that are those of a data batch
// (40 cpu passes with updateStatistics), perturbed per channel — so the inference-mode network
// has O(1) outputs and a softmax that is not saturated (its Gauss-Newton part does not vanish).
// Softmax cross-entropy throughout. Tolerance ‖Δ‖₂ ≤ 1e-4·‖r‖₂ as for cnn3: float32 CPU against
// float64 CPU differs by ≤ 2e-6 in every pass here (measured), so 1e-4 leaves room for cuDNN's
// algorithms and summation orders; with TF32 (NEWTON_CUDA_TF32=1) every conv rounds its
// factors to 10 bits, so 2e-2.
describe('parity: ResNet-20 (batch norm in training and inference mode)', () => {
  const input: [number, number, number] = [3, 16, 16];
  const batch = 6;
  const classes = 10;
  const tol = TF32 ? 2e-2 : 1e-4;
  const modes = [['train', { batchStatistics: true }], ['inference', { batchStatistics: false }]] as const;
  const oneHot = (n: number): Float32Array =>
    Float32Array.from({ length: n * classes }, (_, i) => (i % classes === (Math.floor(i / classes) * 3) % classes ? 1 : 0));
  const lossOpts = { loss: crossEntropyLoss, C: 0.01, trainSize: 5000 };

  // θ and buffers of the reference network, computed once on the cpu.
  let reference: { theta: Float32Array; buffers: Float32Array } | null = null;
  const referenceState = (): { theta: Float32Array; buffers: Float32Array } => {
    if (reference !== null) return reference;
    const ref = cifarResNet(20, input, classes, { seed: 11 });
    try {
      const theta = ref.getParameters() as Float32Array;
      for (const l of ref.layers()) {
        if (l.kind !== 'batchNorm2d') continue;
        const [g, b] = l.parameters;
        const r = data(2 * g.size, 300 + l.index);
        for (let c = 0; c < g.size; c++) {
          theta[g.offset + c] = 1 + 0.5 * r[c];
          theta[b.offset + c] = 0.2 * r[g.size + c];
        }
      }
      ref.setParameters(theta);
      const xs = Tensor.from(data(16 * numel(input), 301), { shape: [16, ...input] });
      for (let i = 0; i < 40; i++) ref.forward(xs, { batchStatistics: true, updateStatistics: true }).dispose();
      ref.releaseCache();
      xs.dispose();
      const buffers = ref.getBuffers() as Float32Array;
      for (const l of ref.layers()) {
        for (const s of l.buffers) {
          const r = data(s.size, 302 + l.index);
          for (let c = 0; c < s.size; c++) {
            buffers[s.offset + c] = s.name === 'runningVar' ? buffers[s.offset + c] * (1 + 0.3 * r[c]) : buffers[s.offset + c] + 0.1 * r[c];
          }
        }
      }
      const variances = ref.layers().flatMap((l) => l.buffers.filter((s) => s.name === 'runningVar').flatMap((s) => Array.from(buffers.subarray(s.offset, s.offset + s.size))));
      if (!(variances.length > 0 && variances.every((x) => x > 0.05))) throw new Error('ResNet-20 parity: the running variances must be positive');
      reference = { theta, buffers };
      return reference;
    } finally {
      ref.dispose();
    }
  };
  const pair = (dev: string): { cpu: Network; gpu: Network } => {
    const { theta, buffers } = referenceState();
    const cpu = cifarResNet(20, input, classes, { seed: 11 });
    const gpu = cifarResNet(20, input, classes, { seed: 11, device: dev });
    for (const m of [cpu, gpu]) {
      m.setParameters(theta);
      m.setBuffers(buffers);
    }
    return { cpu, gpu };
  };
  const compare = (res: Record<string, Float64Array>, dev: string, what: string, limit = tol): void => {
    const rel = relativeDistance(res[dev], res.cpu);
    if (!(rel <= limit)) throw new Error(`ResNet-20 ${what}: ‖cuda − cpu‖/‖cpu‖ = ${rel} > ${limit}`);
  };
  const xv = data(batch * numel(input), 310);

  for (const [mode, forwardOpts] of modes) {
    cudaTest(`ResNet-20 [${mode}] forward z, backward ∂θ and input gradient`, (dev) => {
      const { cpu, gpu } = pair(dev);
      try {
        const res: Record<string, Record<string, Float64Array>> = { z: {}, g: {}, dx: {} };
        for (const [m, d] of [[cpu, 'cpu'], [gpu, dev]] as const) {
          const x = Tensor.from(xv, { shape: [batch, ...input], device: d });
          const y = Tensor.from(oneHot(batch), { shape: [batch, classes], device: d });
          const z = m.forward(x, forwardOpts);
          const dz = crossEntropyLoss.gradient(z, y);
          const dx = m.backward(dz, { inputGradient: true })!;
          res.z[d] = read(z);
          res.g[d] = read(m.gradient);
          res.dx[d] = read(dx);
          for (const t of [x, y, z, dz, dx]) t.dispose();
          m.releaseCache();
        }
        // the forward pass left the running statistics alone (no updateStatistics)
        expect(Array.from(gpu.getBuffers())).toEqual(Array.from(referenceState().buffers));
        compare(res.z, dev, `${mode} outputs z`);
        compare(res.g, dev, `${mode} gradient ∂θ`);
        compare(res.dx, dev, `${mode} input gradient ∂x`);
      } finally {
        cpu.dispose();
        gpu.dispose();
      }
    });

    const products: [string, (m: Network, y: Tensor, v: Tensor, u: Tensor) => Tensor][] = [
      ['jvp (Jv)', (m, _y, v) => m.jvp(v)],
      ['vjp (Jᵀu)', (m, _y, _v, u) => m.vjp(u)],
      ['gaussNewtonProduct (rop)', (m, _y, v) => m.gaussNewtonProduct(v, { ...lossOpts, lambda: 0.1, mode: 'rop' })],
      ['hessianProduct', (m, y, v) => m.hessianProduct(v, { ...lossOpts, y })],
      // running statistics: the examples are independent, so the stored mode runs (in training mode it is refused, below)
      ...(mode === 'inference'
        ? [['gaussNewtonProduct (stored)', (m: Network, _y: Tensor, v: Tensor) => m.gaussNewtonProduct(v, { ...lossOpts, lambda: 0.1, mode: 'stored' })] as [string, (m: Network, y: Tensor, v: Tensor, u: Tensor) => Tensor]]
        : []),
    ];
    for (const [name, product] of products) {
      cudaTest(`ResNet-20 [${mode}] ${name}`, (dev) => {
        const { cpu, gpu } = pair(dev);
        try {
          const vv = data(cpu.numParameters, 311, 0.01);
          const uv = data(batch * classes, 312);
          const res: Record<string, Float64Array> = {};
          for (const [m, d] of [[cpu, 'cpu'], [gpu, dev]] as const) {
            const x = Tensor.from(xv, { shape: [batch, ...input], device: d });
            const y = Tensor.from(oneHot(batch), { shape: [batch, classes], device: d });
            const v = Tensor.from(vv, { device: d });
            const u = Tensor.from(uv, { shape: [batch, classes], device: d });
            const z = m.forward(x, forwardOpts);
            const r = product(m, y, v, u);
            res[d] = read(r);
            for (const t of [x, y, v, u, z, r]) t.dispose();
            m.releaseCache();
          }
          compare(res, dev, `${mode} ${name}`);
        } finally {
          cpu.dispose();
          gpu.dispose();
        }
      });
    }
  }

  cudaTest('ResNet-20 [train] two SGD steps with updateStatistics: θ and the running statistics', (dev) => {
    const { cpu, gpu } = pair(dev);
    try {
      const res: Record<string, Record<string, Float64Array>> = { theta: {}, buffers: {} };
      for (const [m, d] of [[cpu, 'cpu'], [gpu, dev]] as const) {
        const sgd = new Sgd(m, { learningRate: 0.01 }, 5000);
        const x = Tensor.from(xv, { shape: [batch, ...input], device: d });
        const y = Tensor.from(oneHot(batch), { shape: [batch, classes], device: d });
        for (let step = 0; step < 2; step++) {
          const z = m.forward(x, { training: true, updateStatistics: true });
          const dz = crossEntropyLoss.gradient(z, y);
          m.backward(dz);
          sgd.step(batch);
          z.dispose();
          dz.dispose();
        }
        res.theta[d] = read(m.parameters);
        res.buffers[d] = read(m.buffers);
        for (const t of [x, y]) t.dispose();
        sgd.dispose();
        m.releaseCache();
      }
      // the steps moved the running statistics (away from the reference's)
      expect(relativeDistance(res.buffers[dev], Float64Array.from(referenceState().buffers))).toBeGreaterThan(1e-3);
      compare(res.theta, dev, 'SGD θ');
      compare(res.buffers, dev, 'SGD running statistics');
    } finally {
      cpu.dispose();
      gpu.dispose();
    }
  });

  cudaTest('ResNet-20 [train] the stored-Jacobian Gauss-Newton mode is refused (batch norm mixes the batch)', (dev) => {
    const gpu = cifarResNet(20, input, classes, { seed: 11, device: dev });
    gpu.setParameters(referenceState().theta);
    gpu.setBuffers(referenceState().buffers);
    const x = Tensor.from(xv, { shape: [batch, ...input], device: dev });
    const v = Tensor.zeros([gpu.numParameters], { device: dev });
    try {
      const z = gpu.forward(x, { batchStatistics: true });
      z.dispose();
      expect(gpu.perSample()).toBe(false);
      expectThrow(() => gpu.gaussNewtonProduct(v, { ...lossOpts, lambda: 0.1, mode: 'stored' }), 'RangeError',
        /stored-Jacobian mode cannot run on this network: layer \d+ \(batchNorm2d\) mixes the examples of a batch \(batch norm in training mode\).*use mode 'rop'/);
      expectThrow(() => gpu.prepareStoredJacobian(), 'RangeError', /batchNorm2d.*batch norm in training mode/);
      // the network still works: a rop product on the same cached forward pass
      const gv = gpu.gaussNewtonProduct(v, { ...lossOpts, lambda: 0.1, mode: 'rop' });
      expect(gv.shape).toEqual([gpu.numParameters]);
      gv.dispose();
    } finally {
      x.dispose();
      v.dispose();
      gpu.releaseCache();
      gpu.dispose();
    }
  });
});

// ================================================================================================
// The papers' blocks on the device: a small Newton-ResNet and a small Newton-CGNet (their fused
// modules newtonResidual and cgNetUpdate, the latter with two outputs), batch norm in training
// mode: z, ∂θ, Jv, Gv and Hv against the CPU, ‖Δ‖ ≤ 1e-4‖cpu‖ as for cnn3.
describe("parity: the papers' blocks (Newton-ResNet, Newton-CGNet; fused modules)", () => {
  const input: [number, number, number] = [3, 8, 8];
  const builds: [string, (device: string) => Network][] = [
    ['Newton-ResNet [1, 1], width 4', (device) => newtonResnet(input, 10, { blocks: [1, 1], width: 4, seed: 3, device })],
    ['Newton-ResNet [1, 1], width 4, lin_proj 0', (device) => newtonResnet(input, 10, { blocks: [1, 1], width: 4, linProj: 0, seed: 3, device })],
    ['Newton-CGNet L-{1,2,1}, width 4', (device) => newtonCgNet(input, 10, { blocks: [1, 2, 1], width: 4, dropout: 0, seed: 3, device })],
  ];
  for (const [name, build] of builds) {
    cudaTest(`${name}: z, ∂θ, Jv, Gv, Hv`, (dev) => {
      const res: Record<string, Record<string, Float64Array>> = { z: {}, g: {}, jv: {}, gv: {}, hv: {} };
      const xv = data(6 * numel(input), 501);
      const yv = Float32Array.from({ length: 60 }, (_, i) => (i % 10 === (Math.floor(i / 10) * 7) % 10 ? 1 : 0));
      let theta: Float32Array | null = null;
      for (const d of ['cpu', dev]) {
        const net = build(d);
        if (theta === null) theta = net.getParameters() as Float32Array;
        else net.setParameters(theta);
        const x = Tensor.from(xv, { shape: [6, ...input], device: d });
        const y = Tensor.from(yv, { shape: [6, 10], device: d });
        const v = Tensor.from(data(net.numParameters, 502, 0.01), { device: d });
        const z = net.forward(x, { batchStatistics: true });
        const dz = crossEntropyLoss.gradient(z, y);
        net.backward(dz);
        const opts = { loss: crossEntropyLoss, C: 0.01, trainSize: 1000 };
        const jv = net.jvp(v);
        const gv = net.gaussNewtonProduct(v, { ...opts, lambda: 0.1 });
        const hv = net.hessianProduct(v, { ...opts, y });
        res.z[d] = read(z);
        res.g[d] = read(net.gradient);
        res.jv[d] = read(jv);
        res.gv[d] = read(gv);
        res.hv[d] = read(hv);
        for (const t of [x, y, v, z, dz, jv, gv, hv]) t.dispose();
        net.dispose();
      }
      for (const key of Object.keys(res)) {
        const rel = relativeDistance(res[key][dev], res[key].cpu);
        if (!(rel <= (TF32 ? 2e-2 : 1e-4))) throw new Error(`${name} ${key}: ‖cuda − cpu‖/‖cpu‖ = ${rel}`);
      }
    });
  }
});

// ================================================================================================
// Curvature analysis (lib/analysis) on the device: the operator's products (Hessian and
// Gauss-Newton, batch norm in training mode, restricted to two nodes) and the top eigenvalues by
// Lanczos, against the CPU. Same tolerance as the products; Lanczos amplifies rounding by at most
// its step count, so its values are compared to 1e-3 relative.
describe('parity: curvature analysis (ResNet-8, batch norm in training mode)', () => {
  const input: [number, number, number] = [3, 8, 8];
  const build = (device: string): Network => cifarResNet(8, input, 10, { seed: 5, width: 4, device });
  for (const matrix of ['hessian', 'gauss-newton'] as const) {
    cudaTest(`curvatureOperator(${matrix}).apply and lanczos top 3, all of θ and restricted to two nodes`, (dev) => {
      const nets = { cpu: build('cpu'), [dev]: build(dev) } as Record<string, Network>;
      const xv = data(6 * numel(input), 401);
      const yv = Float32Array.from({ length: 60 }, (_, i) => (i % 10 === (Math.floor(i / 10) * 3) % 10 ? 1 : 0));
      const res: Record<string, Record<string, Float64Array>> = { full: {}, part: {}, top: {} };
      for (const [d, net] of Object.entries(nets)) {
        const x = Tensor.from(xv, { shape: [6, ...input], device: d });
        const y = Tensor.from(yv, { shape: [6, 10], device: d });
        for (const [key, parameters] of [['full', undefined], ['part', [1, 4]]] as const) {
          const op = analysis.curvatureOperator(net, { matrix, loss: crossEntropyLoss, data: { x, y }, ...(parameters ? { parameters: [...parameters] } : {}) });
          const v = Tensor.from(data(op.dimension, 402, 0.1), { device: d });
          const av = op.apply(v);
          res[key][d] = read(av);
          if (key === 'full') res.top[d] = Float64Array.from(analysis.lanczos(op, { k: 3, maxIterations: 30, seed: 1 }).values);
          for (const t of [v, av]) t.dispose();
          op.dispose();
        }
        for (const t of [x, y]) t.dispose();
        net.dispose();
      }
      for (const key of ['full', 'part']) {
        const rel = relativeDistance(res[key][dev], res[key].cpu);
        if (!(rel <= (TF32 ? 2e-2 : 1e-4))) throw new Error(`${matrix} ${key}: ‖cuda − cpu‖/‖cpu‖ = ${rel}`);
      }
      const relTop = relativeDistance(res.top[dev], res.top.cpu);
      if (!(relTop <= (TF32 ? 2e-2 : 1e-3))) throw new Error(`${matrix} Lanczos top 3: ‖cuda − cpu‖/‖cpu‖ = ${relTop}`);
    });
  }
});

// ================================================================================================
// Determinism: the same call twice on the device gives the same bits.
describe('determinism on cuda: repeated runs give identical bits', () => {
  const runs: [string, () => Inputs, (t: Record<string, Tensor>) => Tensor | number][] = [
    ['sum', () => ({ x: rnd([1000003], 80) }), (t) => nc.sum(t.x)],
    ['dot', () => ({ a: rnd([1000003], 81), b: rnd([1000003], 82) }), (t) => nc.dot(t.a, t.b)],
    ['squaredNorm', () => ({ x: rnd([1000003], 83) }), (t) => nc.squaredNorm(t.x)],
    ['squaredLoss', () => ({ z: rnd([1024, 10], 84), y: rnd([1024, 10], 85) }), (t) => nc.squaredLoss(t.z, t.y)],
    ['softmaxCrossEntropy', () => ({ z: rnd([1024, 10], 86, 3), y: f32([1024, 10], Float32Array.from(randDistribution(1024, 10, 87))) }), (t) => nc.softmaxCrossEntropy(t.z, t.y)],
    ['biasGrad', () => ({ dy: rnd([128, 64, 14, 14], 88) }), (t) => nc.biasGrad(t.dy)],
    ['gemm', () => ({ a: rnd([128, 3136], 89), b: rnd([3136, 64], 90) }), (t) => nc.gemm(t.a, t.b)],
    ['conv2d', () => ({ x: rnd([64, 32, 14, 14], 91), w: rnd([64, 32, 3, 3], 92) }), (t) => nc.conv2d(t.x, t.w, null, { padding: 1 })],
    ['conv2dBackwardData', () => ({ dy: rnd([64, 64, 14, 14], 93), w: rnd([64, 32, 3, 3], 94) }), (t) => nc.conv2dBackwardData(t.dy, t.w, [64, 32, 14, 14], { padding: 1 })],
    ['conv2dBackwardFilter', () => ({ dy: rnd([64, 64, 14, 14], 95), x: rnd([64, 32, 14, 14], 96) }), (t) => nc.conv2dBackwardFilter(t.dy, t.x, [64, 32, 3, 3], { padding: 1 })],
    ['maxPool2dBackward (overlapping windows)', () => ({ x: rnd([8, 16, 15, 15], 97), dy: rnd([8, 16, 13, 13], 98) }), (t) => {
      const r = nc.maxPool2d(t.x, { kernel: 3, stride: 1 });
      const dx = nc.maxPool2dBackward(t.dy, r.argmax, [8, 16, 15, 15], { kernel: 3, stride: 1 });
      r.y.dispose(); r.argmax.dispose();
      return dx;
    }],
  ];
  for (const [name, inputs, fn] of runs) {
    cudaTest(`deterministic: ${name}`, (dev) => {
      const t = upload(inputs(), dev);
      try {
        const a = fn(t), b = fn(t), c = fn(t);
        if (typeof a === 'number') {
          expect(Object.is(a, b) && Object.is(b, c)).toBe(true);
        } else {
          bitsEqual(b as Tensor, a, `${name} run 2 vs run 1`);
          bitsEqual(c as Tensor, a, `${name} run 3 vs run 1`);
          for (const x of [a, b, c] as Tensor[]) x.dispose();
        }
      } finally {
        disposeAll(t);
      }
    });
  }
});

// ================================================================================================
// Device behaviour: memory, errors, transfers.
describe('cuda device behaviour', () => {
  cudaTest('an absurd allocation throws a JS error naming the size; the next op works', (dev) => {
    const before = memoryStats(dev);
    // 2^38 float32 = 1 TiB: passes the shape check (≤ 2^40 elements), exceeds every GPU.
    const e = expectThrow(() => Tensor.zeros([2 ** 38], { device: dev }), 'Error', /out of memory|memory/i);
    expect(e.message).toMatch(/cuda/);
    expect(memoryStats(dev).bytesInUse).toBe(before.bytesInUse);
    const a = Tensor.from(Float32Array.of(1, 2, 3), { device: dev });
    const b = nc.add(a, a);
    expect(Array.from(b.toArray())).toEqual([2, 4, 6]);
    a.dispose();
    b.dispose();
  }, true);

  cudaTest('float64 on cuda is refused with a clear error (zeros, from, cast, random)', (dev) => {
    const x = Tensor.from(Float32Array.of(1, 2), { device: dev });
    const attempts: [string, () => unknown][] = [
      ['Tensor.zeros', () => Tensor.zeros([3], { dtype: 'float64', device: dev })],
      ['Tensor.full', () => Tensor.full([3], 1, { dtype: 'float64', device: dev })],
      ['Tensor.from(Float64Array)', () => Tensor.from(Float64Array.of(1, 2), { device: dev })],
      ['cast', () => nc.cast(x, 'float64')],
      ['randomNormal', () => nc.randomNormal([4], { seed: 1, dtype: 'float64', device: dev })],
    ];
    for (const [what, fn] of attempts) {
      let err: Error | null = null;
      try {
        (fn() as Tensor | undefined)?.dispose?.();
      } catch (e) {
        err = e as Error;
      }
      if (!err) throw new Error(`${what}: a float64 tensor on ${dev} was accepted`);
      expect([what, err.name]).toEqual([what, expect.stringMatching(/^(TypeError|RangeError)$/)]);
      expect([what, err.message]).toEqual([what, expect.stringMatching(/float64/)]);
      expect([what, err.message]).toEqual([what, expect.stringMatching(/cuda|float32/)]);
    }
    // the device still works
    const x2 = nc.scale(x, 2);
    expect(Array.from(x2.toArray())).toEqual([2, 4]);
    x2.dispose();
    x.dispose();
  }, true);

  cudaTest('Tensor.from → toArray round trips (small, > 1 MiB staged, empty, scalar, int32)', (dev) => {
    for (const n of [0, 1, 7, 1031, 300000, 3 * 1024 * 1024 + 5]) {
      const v = awkward(n, n + 1);
      const t = Tensor.from(v, { device: dev });
      expect(t.device).toBe(dev);
      const ref = Tensor.from(v);
      bitsEqual(t, ref, `round trip of ${n} floats`);
      t.dispose();
      ref.dispose();
    }
    const s = Tensor.from(2.5, { device: dev });
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(2.5);
    const iv = Int32Array.from({ length: 1031 }, (_, i) => i * 2654435761);
    const ti = Tensor.from(iv, { device: dev });
    expect(Array.from(ti.toArray())).toEqual(Array.from(iv));
    // float64 host data becomes a float32 tensor on the device when dtype says so
    const conv = Tensor.from(Float64Array.of(1.5, -2, 0.1), { dtype: 'float32', device: dev });
    expect(conv.dtype).toBe('float32');
    expect(Array.from(conv.toArray())).toEqual([1.5, -2, Math.fround(0.1)]);
    conv.dispose();
    ti.dispose();
    s.dispose();
  });

  // The promise-returning read: the copy runs on a worker thread after the queued work.
  cudaTest('async read (toArrayAsync) resolves to the data', async (dev) => {
    const v = data(300000, 7);
    const t = Tensor.from(v, { device: dev });
    const y = nc.scale(t, 2);
    const out = await y.toArrayAsync();
    expect(Array.from(out).slice(0, 5)).toEqual(Array.from(v.slice(0, 5)).map((a) => Math.fround(2 * a)));
    t.dispose();
    y.dispose();
  });
});

// ================================================================================================
// Coverage: every op of native/core/op.h's table has a parity case (runs without a GPU too).
// An op of the table that lib/ does not export yet (work in progress elsewhere) cannot be
// called from JS: it is listed as a todo, and becomes a failure once its function exists.
describe('the device under test', () => {
  test('devices() names the CUDA device, or says why there is none', () => {
    // Informational: names what ran, so a log shows the GPU or why there was none.
    const d = devices().find((x) => x.kind === 'cuda');
    expect(d?.kind).toBe('cuda');
    if (CUDA_DEVICE && !PARITY_SELFTEST) expect(d!.description).not.toBe('');
    else if (!CUDA_DEVICE) expect(d!.reason).not.toBe('');
  });
});
