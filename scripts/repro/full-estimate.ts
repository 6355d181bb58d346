// How long a --full reproduction takes on one modern GPU (issue 19: "the expected time on one
// modern GPU estimated from the benches"): the GEMM-shaped FLOPs of every pass the run makes
// (scripts/bench/resnet.ts's passFlops: the conv and linear passes, which dominate these networks)
// divided by a sustained rate. No GPU session has measured that rate yet (scripts/gpu-check.sh
// writes it to scripts/GPU-RESULTS.md when one does), so the rate is an assumption, stated in every
// estimate: ASSUMED_GPU_TFLOPS on one H100-class GPU in float32 — about a third of its FP32
// peak, what cuDNN's FP32 convolutions of CIFAR/ImageNet ResNets typically sustain.
import type { Network } from '../../lib/nn';
import { passFlops } from '../bench/resnet';
import { durationText } from './harness';

/** The assumed sustained float32 rate of one H100-class GPU on convolutions, TFLOP/s. */
export const ASSUMED_GPU_TFLOPS = 20;

/** The work of a run, in passes over images. */
export interface RunWork {
  /** SGD: training images per epoch × epochs (one forward + backward each). */
  readonly trainImages?: number;
  /** Test-set forwards (evaluations × test images). */
  readonly evalImages?: number;
  /** Newton: images in full forward+backward passes (function and gradient evaluations). */
  readonly gradientImages?: number;
  /** Newton: images through a Gauss-Newton product Gv (CG steps × |S|). */
  readonly gvImages?: number;
  /** Newton: images through a forward pass only (line-search trials). */
  readonly forwardImages?: number;
}

/** The FLOPs of `work` on `net` and the hours at `tflops`, with the assumption in words. */
export function fullRunEstimate(net: Network, work: RunWork, tflops = ASSUMED_GPU_TFLOPS): { flops: number; hours: number; text: string } {
  const per = passFlops(net, 1);
  const flops =
    ((work.trainImages ?? 0) + (work.gradientImages ?? 0)) * (per.forward + per.backward) +
    ((work.evalImages ?? 0) + (work.forwardImages ?? 0)) * per.forward +
    (work.gvImages ?? 0) * per.gv;
  const hours = flops / (tflops * 1e12) / 3600;
  return { flops, hours, text: `≈ ${durationText(hours)} on one GPU (${(flops / 1e15).toFixed(1)} PFLOP of conv/linear passes at an assumed ${tflops} TFLOP/s sustained — not measured: no GPU bench has run yet)` };
}
