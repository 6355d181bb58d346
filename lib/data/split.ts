/**
 * Stratified train/validation split: each class contributes its share of the validation set.
 *
 * @packageDocumentation
 */
import { checkAnyDataset, subset, type AnyDataset, type Dataset, type ImageFolder } from './dataset';
import { Rng } from './rng';

/**
 * Splits `ds` so that the validation set holds round(fraction·length) images, shared among the
 * classes in proportion to their sizes (floor of each class's share, the remaining images going to
 * the classes with the largest remainders, ties to the lower class). Which images of a class go to
 * validation is decided by a permutation from Rng(seed); both parts keep the original order.
 * @throws RangeError unless validationFraction is in [0, 1] and seed a safe integer.
 */
export function stratifiedSplit(ds: Dataset, validationFraction: number, seed: number): { train: Dataset; validation: Dataset };
/** The same for an image folder (nothing is read: the parts are folders of the chosen files). */
export function stratifiedSplit(ds: ImageFolder, validationFraction: number, seed: number): { train: ImageFolder; validation: ImageFolder };
export function stratifiedSplit(ds: AnyDataset, validationFraction: number, seed: number): { train: AnyDataset; validation: AnyDataset };
export function stratifiedSplit(ds: AnyDataset, validationFraction: number, seed: number): { train: AnyDataset; validation: AnyDataset } {
  const fn = 'stratifiedSplit';
  checkAnyDataset(fn, 'ds', ds);
  if (typeof validationFraction !== 'number' || !(validationFraction >= 0 && validationFraction <= 1)) {
    throw new RangeError(`${fn}: validationFraction must be a number in [0, 1], got ${String(validationFraction)}`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${fn}: seed must be a safe integer, got ${String(seed)}`);

  const members: number[][] = Array.from({ length: ds.classes }, () => []);
  for (let i = 0; i < ds.length; i++) members[ds.labels[i]].push(i);

  // Largest-remainder apportionment of the validation total among classes.
  const total = Math.round(validationFraction * ds.length);
  const quota = members.map((m) => (m.length * total) / Math.max(ds.length, 1));
  const take = quota.map(Math.floor);
  let left = total - take.reduce((a, b) => a + b, 0);
  const byRemainder = quota
    .map((q, c) => ({ c, r: q - Math.floor(q) }))
    .sort((a, b) => b.r - a.r || a.c - b.c);
  for (const { c } of byRemainder) {
    if (left === 0) break;
    if (take[c] < members[c].length) {
      take[c]++;
      left--;
    }
  }

  const rng = new Rng(seed);
  const isValidation = new Uint8Array(ds.length);
  members.forEach((m, c) => {
    const order = rng.permutation(m.length);
    for (let k = 0; k < take[c]; k++) isValidation[m[order[k]]] = 1;
  });
  const train: number[] = [];
  const validation: number[] = [];
  for (let i = 0; i < ds.length; i++) (isValidation[i] ? validation : train).push(i);
  return { train: subset(ds, train), validation: subset(ds, validation) };
}
