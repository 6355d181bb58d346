/**
 * Help text laid out for a terminal: paragraphs and option lists wrapped to a width (the
 * terminal's, process.stdout.columns, else 80), so that no line is longer than the width.
 *
 * @packageDocumentation
 */

/** The width help is wrapped to: the terminal's columns (at least 40, at most 120), else 80. */
export function helpWidth(columns: number | undefined): number {
  if (columns === undefined || !Number.isFinite(columns) || columns <= 0) return 80;
  return Math.max(40, Math.min(120, Math.floor(columns)));
}

/** Breaks `text` into lines of at most `width` characters at spaces (a longer word is cut). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter((w) => w !== '')) {
    while (word.length > width) {
      if (line !== '') {
        lines.push(line);
        line = '';
      }
      lines.push(word.slice(0, width));
      word = word.slice(width);
    }
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

/** A paragraph wrapped to `width` (with every line indented by `indent` spaces). */
export function paragraph(text: string, width: number, indent = 0): string {
  return wrap(text, width - indent)
    .map((l) => ' '.repeat(indent) + l)
    .join('\n');
}

/**
 * Two-column option rows: `  --flag VALUE  help…`, the help wrapped under itself; a flag wider than
 * the left column (at most a third of the width) gets its help on the next line.
 */
export function optionRows(rows: ReadonlyArray<readonly [string, string]>, width: number): string {
  const maxLeft = Math.max(12, Math.floor(width / 3));
  const left = Math.min(maxLeft, Math.max(...rows.map(([a]) => a.length)));
  const helpAt = 2 + left + 2;
  const out: string[] = [];
  for (const [flag, help] of rows) {
    const body = wrap(help, width - helpAt);
    if (flag.length <= left) {
      out.push(`  ${flag.padEnd(left)}  ${body[0]}`.trimEnd());
      for (const l of body.slice(1)) out.push(' '.repeat(helpAt) + l);
    } else {
      out.push(...wrap(flag, width - 2).map((l) => `  ${l}`));
      for (const l of body) out.push(' '.repeat(helpAt) + l);
    }
  }
  return out.join('\n');
}
