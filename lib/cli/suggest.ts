/**
 * "Did you mean …?" for misspelt options and commands: the closest known name by edit distance.
 *
 * @packageDocumentation
 */

/** The Levenshtein distance (insertions, deletions, substitutions; a swap of neighbours counts 1). */
export function editDistance(a: string, b: string): number {
  // Damerau's optimal-string-alignment variant: `--itertaions` is one typo, not two
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known name closest to `name`, or undefined when none is close: within 1 edit for short
 * names, about a third of the length for longer ones (so that `--lr` does not suggest `--C`), or
 * the only name `name` is a prefix of.
 */
export function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(lower, k.toLowerCase());
    if (dist < bestDistance) {
      best = k;
      bestDistance = dist;
    }
  }
  const limit = Math.max(1, Math.floor(name.length / 3));
  if (best !== undefined && bestDistance <= limit) return best;
  const prefixed = known.filter((k) => lower.length >= 3 && k.toLowerCase().startsWith(lower));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** ` (did you mean --xyz?)` for an unknown option `--xy` among the long names `known`, or ''. */
export function didYouMeanOption(option: string, known: readonly string[]): string {
  const bare = option.replace(/^-+/, '').split('=')[0];
  const match = closest(bare, known);
  return match === undefined ? '' : `; did you mean --${match}?`;
}
