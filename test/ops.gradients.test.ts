// Runner (c) of the op cases (test/cases/case.ts): every case with derivative checks, in
// float64 on the CPU: its vjp ops against central finite differences of its forward, its jvp
// ops likewise, and the adjoint identity between them (test/cases/harness.ts,
// checkDerivatives, says why the tolerances hold).
import { families } from './cases';
import { checkDerivatives } from './cases/harness';

for (const family of families) {
  const cases = family.cases.filter((c) => c.grad !== undefined);
  if (cases.length === 0) continue;
  describe(`op derivatives: ${family.name}`, () => {
    for (const c of cases) {
      test(`${c.grad!.ops.join(', ')} for ${c.op}: ${c.name}`, () => checkDerivatives(c));
    }
  });
}
