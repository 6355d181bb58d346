// Runner (a) of the op cases (test/cases/case.ts): every case on every backend present, in
// every dtype the backend runs, against the float64 reference, with the per-output
// tolerances of note [case tolerances]; on the CPU under every vector ISA the processor runs.
import { families } from './cases';
import { checkAgainstReference } from './cases/harness';
import { describeEachBackend, describeEachCpuIsa } from './helpers';

// On the CPU, under every vector ISA the processor runs (note [run-time ISA] in
// native/core/cpu/isa.h).
describeEachBackend('op reference', (b) => {
  const registerCases = () => {
    for (const family of families) {
      describe(family.name, () => {
        for (const c of family.cases) {
          const dtypes = (c.dtypes ?? ['float32', 'float64']).filter((d) => b.dtypes.includes(d));
          for (const dtype of dtypes) {
            test(`${c.op}: ${c.name} [${dtype}]`, () => checkAgainstReference(c, dtype, b.device));
          }
        }
      });
    }
  };
  if (b.device === 'cpu') describeEachCpuIsa('vector code', registerCases);
  else registerCases();
});
