// The shape of an op case (test/cases/<family>.ts) and what the four runners share.
//
// One case gives the shapes, attributes and inputs of one call of a declared op once
// (native/core/ops/*.h); the runners use it for
//   (a) every backend against the float64 reference          test/ops.reference.test.ts
//   (b) CUDA against the CPU on the same float32 inputs       test/ops.parity.test.ts
//   (c) central finite differences of its passes, float64    test/ops.gradients.test.ts
//   (d) a bench line: time and GFLOP/s or GB/s               scripts/bench/ops.ts
// test/op-surface.test.ts checks that every declared op has a case for each (from the
// addon's opSchemas(), not from a list kept by hand).
//
// Note [case tolerances]
// ~~~~~~~~~~~~~~~~~~~~~~~
// Each output of a case says how it may differ, the same way for (a) and (b); u is the unit
// roundoff of the dtype (2⁻²⁴ for float32, 2⁻⁵³ for float64):
//  - exact: bit for bit. Against the reference, the reference rounded once to the dtype: the
//    op is one correctly rounded operation per element (+, −, ×, max, a selection, a copy),
//    and float64 holds the exact result of one float32 operation on the generic data. Ops
//    whose backends share a documented order of several roundings (axpy, average pooling) are
//    exact too: their references round each step to the dtype in that order.
//  - accum {k, mag}: a sum of k products in an order of the implementation's choosing (GEMM,
//    convolution): |Δ| ≤ 4·√k·u·mag + 2u·|r|, mag = the same op on |inputs|
//    (Σ|terms|, the condition of the sum), r the reference. A k-term sum has error ≤ γₖ·mag in
//    the worst case and ~√k·u·mag in practice (rounding errors are a random walk); 4 is the
//    margin for two implementations, 2u·|r| the final rounding. A wrong index or a missed
//    padding row gives errors O(mag). (With NEWTON_CUDA_TF32=1 on a GPU, 2⁻¹⁰·mag is added:
//    TF32 rounds both factors to 10 mantissa bits.)
//  - double {n, absSum}: a sum of n terms accumulated in double whatever the dtype (sum, dot,
//    norms, losses, bias gradients): the terms are exact (float32 products are exact in
//    double), only the order differs, so |Δ| ≤ 2·n·2⁻⁵³·absSum rigorously (Higham), plus one
//    rounding to the dtype (u·|r|) when the result is stored as a tensor (rounded).
//  - tol {rtol, atol}: |Δ| ≤ atol + rtol·|r|, with the reason written at the case.
import type { Tensor } from '../../lib';
import type { OpName } from '../../lib/native-ops';

export type FloatDType = 'float32' | 'float64';

/** How one input of a case is made. */
export interface InputSpec {
  readonly shape: readonly number[];
  /**
   * 'generic' (default): uniform in ±[0.1, 1]·scale, never zero (no ReLU kinks, no ties);
   * 'awkward': generic with ±0, subnormals and huge values every third element (exact ops);
   * 'distribution': rows of the last axis positive, summing to 1 (cross-entropy targets).
   */
  readonly kind?: 'generic' | 'awkward' | 'distribution';
  /** Multiplies generic values (default 1). */
  readonly scale?: number;
  /** Explicit values instead (rounded to the dtype). */
  readonly values?: ArrayLike<number>;
  /** int32 index tensors: explicit values, always int32 whatever the case's dtype. */
  readonly int32?: boolean;
}

/** The input values as the tensors hold them (rounded to the dtype), in float64. */
export type Values = Record<string, Float64Array>;
/** What run() returns: named tensors (owned by the runner, which disposes them) and numbers. */
export type Outputs = Record<string, Tensor | number>;
/** What reference() returns: named float64 arrays and numbers. */
export type Expected = Record<string, Float64Array | Int32Array | number>;

/** How an output may differ from the reference or between backends (note [case tolerances]). */
export type Check =
  | { readonly kind: 'exact' }
  | { readonly kind: 'accum'; readonly k: number; readonly mag: Float64Array | number }
  | { readonly kind: 'double'; readonly n: number; readonly absSum: Float64Array | number; readonly rounded: boolean }
  | { readonly kind: 'tol'; readonly rtol: number; readonly atol: number };

/** What a case's checks may look at. */
export interface CheckContext {
  readonly dtype: FloatDType;
  /** The inputs' values. */
  readonly values: Values;
  /** The reference on the absolute values of the inputs: Σ|terms| of every accumulating output. */
  magnitude(): Expected;
}

/** The derivative checks of a case (runner (c)), in float64 on the CPU. */
export interface GradSpec {
  /** The declared passes this case checks (vjp, jvp and fused ops): coverage. */
  readonly ops: readonly OpName[];
  /** The inputs the function is differentiated with respect to. */
  readonly wrt: readonly string[];
  /** The function: its output for the inputs (the case's forward op). */
  forward(t: Record<string, Tensor>): Tensor | number;
  /** Its gradients: for the output cotangent r, ∂⟨forward, r⟩/∂input for each of `wrt`. */
  vjp?(t: Record<string, Tensor>, r: Tensor): Record<string, Tensor>;
  /** Its R-operator: the directional derivative along tangents of `wrt` (others fixed). */
  jvp?(t: Record<string, Tensor>, tangents: Record<string, Tensor>): Tensor;
}

/** The bench line of a case (runner (d)): its arithmetic and memory traffic. */
export interface BenchSpec {
  /** Floating-point operations of one call (multiply-adds count 2); 0 for data movement. */
  readonly flops: number;
  /** Bytes read and written once each by one call, in float32. */
  readonly bytes: number;
}

export interface OpCase {
  /** The declared op this case runs. */
  readonly op: OpName;
  /** What is special about the shapes or the attributes (the test title). */
  readonly name: string;
  readonly inputs: Readonly<Record<string, InputSpec>>;
  /** The dtypes it runs in (default both; a CUDA device runs float32 only). */
  readonly dtypes?: readonly FloatDType[];
  /** Calls the op on tensors of one device and dtype. It must not change or dispose the inputs. */
  run(t: Record<string, Tensor>, dtype: FloatDType, device: string): Outputs;
  /** The same in float64 from the input values: plain loops (test/cases/reference.ts). */
  reference(v: Values, dtype: FloatDType): Expected;
  /** How each output may differ (note [case tolerances]). */
  check(ctx: CheckContext): Record<string, Check>;
  readonly grad?: GradSpec;
  readonly bench?: BenchSpec;
}

/** A family's table: the ops it covers and its cases. */
export interface Family {
  readonly name: string;
  readonly cases: readonly OpCase[];
}
