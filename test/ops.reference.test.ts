// Runner (a) of the op cases (test/cases/case.ts): every case on every backend present, in
// every dtype the backend runs, against the float64 reference, with the per-output
// tolerances of note [case tolerances]. On the CPU the conv family runs once per convolution
// implementation (lib/runtime.ts setConvImplementation: oneDNN when it loaded, and the
// built-in im2col + GEMM), each against the same reference; without oneDNN its run reports as
// skipped with the reason. The cases run under the default vector ISA only: test/cpu-isa.test.ts
// shows every case gives the same bits under every ISA the processor runs.
import { getConvImplementation, info, setConvImplementation, type ConvImplementation } from '../lib';
import { families, type Family } from './cases';
import { checkAgainstReference } from './cases/harness';
import { describeEachBackend, expectOneDnnRefused, type BackendInfo } from './helpers';

function registerFamily(family: Family, b: BackendInfo): void {
  for (const c of family.cases) {
    const dtypes = (c.dtypes ?? ['float32', 'float64']).filter((d) => b.dtypes.includes(d));
    for (const dtype of dtypes) {
      test(`${c.op}: ${c.name} [${dtype}]`, () => checkAgainstReference(c, dtype, b.device));
    }
  }
}

// The family's cases with `impl` chosen for the CPU convolutions, the previous choice restored after.
function underConvImplementation(family: Family, b: BackendInfo, impl: ConvImplementation): void {
  describe(`${family.name} [conv: ${impl}]`, () => {
    let saved: ConvImplementation;
    beforeAll(() => {
      saved = getConvImplementation();
      setConvImplementation(impl);
    });
    afterAll(() => setConvImplementation(saved));
    registerFamily(family, b);
  });
}

// On the CPU, under every vector ISA the processor runs (note [run-time ISA] in
// native/core/cpu/isa.h).
describeEachBackend('op reference', (b) => {
  for (const family of families) {
    if (family.name === 'conv' && b.device === 'cpu') {
      underConvImplementation(family, b, 'builtin');
      const onednn = info().onednn;
      if (onednn.available) {
        underConvImplementation(family, b, 'onednn');
      } else {
        // No oneDNN to run the cases on: check instead that it is refused, with its reason.
        test(`${family.name} [conv: onednn]: unavailable (${onednn.reason}), the built-in path runs`, expectOneDnnRefused);
      }
      continue;
    }
    describe(family.name, () => registerFamily(family, b));
  }
});
