// The data of the CIFAR/SVHN tables (issue 19, item 4): the data set given by --data (a CIFAR-10/100
// directory, an SVHN directory, …) or, when none is on the machine, a stated substitute — the
// bundled or Debian Fashion-MNIST, zero-padded to 32×32 for the CIFAR networks — whose label goes
// with every number it produced, so a substitute number is never read as the paper's data set.
// Shared by the newton-resnet, newton-cgnet and local-hessian-backprop scripts.
import * as path from 'node:path';

import { channelStats, loadDataset, normalizeChannels, padImages, subset, type Dataset } from '../../lib/data';
import { UsageError } from './harness';

/** The names that select the substitute (lib/data/load.ts's named data sets). */
export const SUBSTITUTES = Object.freeze(['fashion-mnist-small', 'fashion-mnist'] as const);

/** What a table's script asks for. */
export interface CifarLikeRequest {
  /** The paper's data set this stands for, in the words of the table ('CIFAR-10', 'SVHN', …). */
  readonly paperData: string;
  /** At most this many training images, evenly spaced over the set (default: all). */
  readonly trainLimit?: number;
  /** At most this many test images, evenly spaced (default: all). */
  readonly testLimit?: number;
}

/** Training and test sets, normalised per channel with the training set's statistics. */
export interface CifarLikeData {
  readonly train: Dataset;
  readonly test: Dataset;
  /** True when the data are a substitute for `paperData`. */
  readonly substitute: boolean;
  /** One line that goes with every number: what the data are, how many, and what they stand for. */
  readonly label: string;
}

/** `limit` indices evenly spaced over [0, n) (all of them when limit is absent or ≥ n). */
export function evenlySpaced(n: number, limit: number | undefined): Int32Array {
  const k = limit === undefined ? n : Math.min(n, limit);
  return Int32Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

/**
 * Loads `spec` (undefined: the bundled Fashion-MNIST subset) for a table of `request.paperData`.
 * Fashion-MNIST (either name) is zero-padded from 28×28 to 32×32 after normalisation (zero is
 * the channel mean, as the crop-flip augmentation's padding) and labelled a substitute.
 * @throws UsageError when the data set cannot be read (the message names --data and the cause).
 */
export async function cifarLikeData(spec: string | undefined, request: CifarLikeRequest): Promise<CifarLikeData> {
  const name = spec ?? SUBSTITUTES[0];
  let raw: { train: Dataset; test: Dataset };
  try {
    raw = await loadDataset(name);
  } catch (e) {
    throw new UsageError(`--data ${name}: ${(e as Error).message}`);
  }
  const train0 = subset(raw.train, evenlySpaced(raw.train.length, request.trainLimit));
  const test0 = subset(raw.test, evenlySpaced(raw.test.length, request.testLimit));
  const stats = channelStats(train0);
  let train = normalizeChannels(train0, stats);
  let test = normalizeChannels(test0, stats);
  const substitute = (SUBSTITUTES as readonly string[]).includes(name);
  const counts = `${train.length.toLocaleString('en-US')} training / ${test.length.toLocaleString('en-US')} test images`;
  if (substitute) {
    const [, h, w] = train.shape;
    if (h < 32 || w < 32) {
      train = padImages(train, Math.max(32, h), Math.max(32, w));
      test = padImages(test, Math.max(32, h), Math.max(32, w));
    }
    const source = name === 'fashion-mnist-small' ? 'the bundled Fashion-MNIST subset' : "Debian's Fashion-MNIST";
    return {
      train,
      test,
      substitute,
      label: `SUBSTITUTE for ${request.paperData}: ${source}, ${counts}, zero-padded to ${train.shape.join('×')}, ${train.classes} classes (not the paper's data set)`,
    };
  }
  return { train, test, substitute, label: `${path.basename(path.resolve(name))} (given by --data for ${request.paperData}), ${counts}, ${train.shape.join('×')}, ${train.classes} classes` };
}
