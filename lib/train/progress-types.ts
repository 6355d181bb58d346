// The progress report of every trainer, as one type: trainSgd's SgdProgress (after each
// mini-batch) and trainNewton's NewtonProgress (during each iteration), told apart by `optimizer`.
import type { NewtonProgress } from './newton-trainer';
import type { SgdProgress } from './types';

/** What an onProgress callback receives from trainSgd or trainNewton; `p.optimizer === 'newton'` narrows it. */
export type TrainProgress = SgdProgress | NewtonProgress;
