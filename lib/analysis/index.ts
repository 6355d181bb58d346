/**
 * Curvature analysis: the Hessian or Gauss-Newton matrix of a network's mean loss as a
 * symmetric operator (on any network, batch norm in training mode included, restricted to some
 * parameters if wanted), its extreme eigenvalues by Lanczos or power iteration, every
 * eigenvalue of small operators through LAPACK, traces by Hutchinson and Hutch++, and spectral
 * densities by stochastic Lanczos quadrature. Every routine is seeded and deterministic and
 * reports the products it used and its time.
 *
 * @example
 * const op = analysis.curvatureOperator(net, { matrix: 'hessian', loss: nn.crossEntropyLoss, data: train });
 * const top = analysis.lanczos(op, { k: 5 });        // top.values, top.residuals, top.products
 * const tr = analysis.hutchPlusPlus(op, { products: 99 });
 * op.dispose();
 *
 * @packageDocumentation
 */
export {
  CurvatureOperator,
  curvatureOperator,
  matrixOperator,
  selectRanges,
  type CurvatureOptions,
  type ExampleBatch,
  type ParameterRange,
  type ParameterSelection,
  type SymmetricOperator,
} from './operator';
export type { CurvatureKind } from '../nn/products';
export {
  lanczos,
  lanczosBasis,
  powerIteration,
  rademacherVector,
  randomUnitVector,
  type LanczosBasis,
  type LanczosOptions,
  type LanczosResult,
  type PowerIterationOptions,
  type PowerIterationResult,
  type Which,
} from './lanczos';
export { hutchinson, hutchPlusPlus, type TraceOptions, type TraceResult } from './trace';
export { spectralDensity, type DensityOptions, type DensityResult } from './density';
export { denseMatrix, denseSpectrum, quantile, spectrumStatistics, type DenseMatrix, type DenseOptions, type DenseSpectrum, type SpectrumStatistics, type SpectrumStatisticsOptions } from './dense';
export { symmetricEigenSmall, type SmallEigen } from './jacobi';
export { conditionVersusDepth, whitenedRegressionData, type ConditionPoint, type ConditionVersusDepthOptions, type RegressionData } from './linear-depth';
