// Misuse gets a message that says what to do: the Tensor constructor called from JS, and
// malformed integer environment variables (NEWTON_NUM_THREADS, NEWTON_CPU_CACHE_BYTES,
// NEWTON_MEMORY_LIMIT_BYTES), which used to be ignored silently (NEWTON_NUM_THREADS=abc ran with
// every core, =4abc with 4).
import { spawnSync } from 'node:child_process';

import { Tensor } from '../lib';
import { checkEnvironment } from '../lib/native';
import { ensureDist } from './fixtures/dist';

describe('the Tensor constructor', () => {
  const how = /^Tensor: the constructor is internal and cannot be called directly; create tensors with Tensor\.from\(data, \{ shape, dtype \}\), Tensor\.zeros\(shape\), Tensor\.full\(shape, value\) or an op/;
  const Ctor = Tensor as unknown as new (...args: unknown[]) => Tensor;

  test.each([
    ['no arguments', []],
    ['data and a shape', [[1, 2, 3], [3]]],
    ['a typed array', [new Float32Array(4)]],
    ['a handle-like object', [{ shape: [1], dtype: 'float32', device: 'cpu', size: 1, disposed: false, dispose() {} }]],
  ])('new Tensor(%s) is a TypeError saying how to create tensors', (_, args) => {
    expect(() => new Ctor(...args)).toThrow(TypeError);
    expect(() => new Ctor(...args)).toThrow(how);
  });

  test('a subclass cannot construct one either; creation still works afterwards', () => {
    class Sub extends (Tensor as unknown as new () => object) {}
    expect(() => new Sub()).toThrow(how);
    const t = Tensor.zeros([2]);
    expect(t.shape).toEqual([2]);
    t.dispose();
  });
});

describe('integer environment variables', () => {
  test.each([
    ['NEWTON_NUM_THREADS', 'abc', 'an integer from 1 to 256'],
    ['NEWTON_NUM_THREADS', '0', 'an integer from 1 to 256'],
    ['NEWTON_NUM_THREADS', '-2', 'an integer from 1 to 256'],
    ['NEWTON_NUM_THREADS', '1.5', 'an integer from 1 to 256'],
    ['NEWTON_NUM_THREADS', '4abc', 'an integer from 1 to 256'],
    ['NEWTON_NUM_THREADS', '100000', 'an integer from 1 to 256'],
    ['NEWTON_NUM_THREADS', ' 2', 'an integer from 1 to 256'],
    ['NEWTON_CPU_CACHE_BYTES', '1e9', 'a whole number of bytes'],
    ['NEWTON_MEMORY_LIMIT_BYTES', '0', 'a positive whole number of bytes'],
    ['NEWTON_MEMORY_LIMIT_BYTES', '1GiB', 'a positive whole number of bytes'],
  ])('%s=%j is an Error naming the variable, the value and the domain', (name, value, what) => {
    expect(() => checkEnvironment({ [name]: value })).toThrow(new Error(`newton-cnn: environment variable ${name} must be ${what}, got '${value}' (unset it ${name === 'NEWTON_NUM_THREADS' ? 'to use every core' : name === 'NEWTON_CPU_CACHE_BYTES' ? 'for the default (the peak of the memory in use)' : 'for no limit beyond the memory available'})`));
  });

  test.each([['NEWTON_NUM_THREADS', '1'], ['NEWTON_NUM_THREADS', '256'], ['NEWTON_NUM_THREADS', ''], ['NEWTON_CPU_CACHE_BYTES', '0'], ['NEWTON_MEMORY_LIMIT_BYTES', '1073741824']])('%s=%j is accepted', (name, value) => {
    expect(() => checkEnvironment({ [name]: value })).not.toThrow();
  });

  test.each([['-1'], ['2000000'], ['50us']])('NEWTON_POOL_SPIN_US=%j is an Error naming the variable, the value and the domain', (value) => {
    expect(() => checkEnvironment({ NEWTON_POOL_SPIN_US: value })).toThrow(
      new Error(`newton-cnn: environment variable NEWTON_POOL_SPIN_US must be a whole number of microseconds from 0 to 1000000, got '${value}' (unset it for the default (50; 0 = the pool never spins))`),
    );
  });

  test('NEWTON_POOL_SPIN_US 0 … 1000000 and NEWTON_CPU_ISA baseline | avx2 | avx512 are accepted; another ISA name is refused', () => {
    for (const value of ['0', '50', '1000000', '']) expect(() => checkEnvironment({ NEWTON_POOL_SPIN_US: value })).not.toThrow();
    for (const value of ['baseline', 'avx2', 'avx512', '']) expect(() => checkEnvironment({ NEWTON_CPU_ISA: value })).not.toThrow();
    expect(() => checkEnvironment({ NEWTON_CPU_ISA: 'AVX2' })).toThrow(
      new Error("newton-cnn: environment variable NEWTON_CPU_ISA must be one of baseline, avx2, avx512, got 'AVX2' (unset it for the best the processor runs)"),
    );
  });

  // The real path: a process started with a bad value fails on its first call into the library,
  // with the message on stderr; a good value is used.
  test('a process with NEWTON_NUM_THREADS=abc fails with that message; =1 runs with one thread', () => {
    const dist = ensureDist();
    const program = `const nc = require(${JSON.stringify(dist)}); console.log(nc.getNumThreads());`;
    const bad = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NEWTON_NUM_THREADS: 'abc' } });
    expect(bad.signal).toBeNull();
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("newton-cnn: environment variable NEWTON_NUM_THREADS must be an integer from 1 to 256, got 'abc' (unset it to use every core)");
    const good = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NEWTON_NUM_THREADS: '1' } });
    expect(good.signal).toBeNull();
    expect(good.status).toBe(0);
    expect(good.stdout.trim()).toBe('1');
  }, 300_000);
});
