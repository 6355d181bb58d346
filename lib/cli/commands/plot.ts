/**
 * `newton-cnn plot LOG… -o FILE`: reads run logs (lib/train/run-log.ts) and writes their training
 * curves (lib/plot trainingCurvesSvg) as SVG, or PNG through sharp.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';

import { svgToPng, trainingCurvesSvg } from '../../plot';
import { readRunLog } from '../../train/run-log';
import type { PlotArgs } from '../plot-args';
import { EXIT, type CliIo } from '../io';

/** Runs `newton-cnn plot`; returns the exit code. @throws Error for unreadable logs or missing plotting packages. */
export async function runPlot(args: PlotArgs, io: CliIo): Promise<number> {
  const runs = args.logs.map((file, i) => ({ name: args.names[i], records: readRunLog(file) }));
  const svg = await trainingCurvesSvg(runs, {
    ...(args.title !== undefined ? { title: args.title } : {}),
    ...(args.width !== undefined ? { width: args.width } : {}),
    ...(args.height !== undefined ? { height: args.height } : {}),
  });
  if (args.format === 'png') fs.writeFileSync(args.output, await svgToPng(svg));
  else fs.writeFileSync(args.output, svg);
  const points = runs.map((r) => `${r.name} (${r.records.filter((x) => x.kind === 'iteration' || x.kind === 'epoch').length} points)`).join(', ');
  io.stdout.write(`plot: ${args.output}: ${points}\n`);
  return EXIT.ok;
}
