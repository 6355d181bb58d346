/**
 * Plots as SVG text: line plots and spectral densities, drawn by Vega-Lite and rendered to SVG
 * by Vega in Node (no browser, no canvas: text widths are estimated).
 *
 * Vega and Vega-Lite are optional dependencies (`vega@5`, `vega-lite@5`: the last major versions
 * with CommonJS builds), loaded on the first plot; without them every plotting function rejects
 * with an Error saying how to install them, and {@link plottingAvailable} returns false. The
 * rest of the library never needs them.
 *
 * @example
 * const svg = await linePlotSvg({
 *   title: 'Training loss',
 *   x: { label: 'epoch', values: [1, 2, 3] },
 *   series: [{ name: 'sgd', values: [0.9, 0.5, 0.4] }, { name: 'newton', values: [0.7, 0.4, 0.3] }],
 *   logY: true,
 * });
 * fs.writeFileSync('loss.svg', svg);
 *
 * @packageDocumentation
 */

/** The message of the Error thrown when vega or vega-lite is not installed. */
export const PLOTTING_MISSING = 'plotting needs the optional packages vega and vega-lite: npm install vega@5 vega-lite@5';

/** The x axis of a line plot: its label and the x value of every point. */
export interface PlotAxis {
  /** Axis title. */
  readonly label: string;
  /** The x values (finite numbers), one per point of every series. */
  readonly values: readonly number[];
}

/** One line of a plot. */
export interface PlotSeries {
  /** Its name in the legend (shown when there are several series); unique within a plot. */
  readonly name: string;
  /** One y value per x value; non-finite values (and values ≤ 0 on a log axis) leave the point out. */
  readonly values: readonly number[];
  /**
   * Error bars: one half-width per x value (e.g. a standard deviation over runs), drawn as a
   * vertical bar from y − e to y + e; non-finite or ≤ 0 entries draw none (default none).
   * On a log axis a bar whose lower end is ≤ 0 is left out, as the point would be.
   */
  readonly errors?: readonly number[];
}

/** A vertical reference line. */
export interface PlotRule {
  /** Where it stands on the x axis. */
  readonly x: number;
}

/** Options of {@link linePlotSvg}. */
export interface LinePlotOptions {
  /** The title above the plot (default none). */
  readonly title?: string;
  /** The x axis. */
  readonly x: PlotAxis;
  /** The y axis title (default none). */
  readonly yLabel?: string;
  /** The lines, drawn in this order (at least one). */
  readonly series: readonly PlotSeries[];
  /** Logarithmic y axis (default false). */
  readonly logY?: boolean;
  /** d3-format specifier of the y axis labels, e.g. '.0e' (default: Vega's). */
  readonly yFormat?: string;
  /** Dashed vertical lines (default none), e.g. x = 0 or eigenvalues. */
  readonly rules?: readonly PlotRule[];
  /** Width of the plotting area in pixels (default 640). */
  readonly width?: number;
  /** Height of the plotting area in pixels (default 360). */
  readonly height?: number;
}

/** Options of {@link densityPlotSvg}. */
export interface DensityPlotOptions {
  /** The points t of the grid, ascending (spectralDensity's `grid`). */
  readonly grid: readonly number[];
  /** The density at each grid point (spectralDensity's `density`). */
  readonly density: readonly number[];
  /** The title (default 'Spectral density'). */
  readonly title?: string;
  /** The x axis title (default 'eigenvalue λ'). */
  readonly xLabel?: string;
  /** Logarithmic density axis (default true: the spectra of networks span many decades). */
  readonly logY?: boolean;
  /** On a log axis, densities below this are drawn at it (default 1e-6 × the largest density). */
  readonly floor?: number;
  /** Eigenvalues to mark with dashed vertical lines (e.g. the extreme ones from Lanczos). */
  readonly markers?: readonly number[];
  /** Width of the plotting area in pixels (default 640). */
  readonly width?: number;
  /** Height of the plotting area in pixels (default 360). */
  readonly height?: number;
}

/** A JSON value (of a Vega-Lite specification). */
export type PlotJson = string | number | boolean | null | readonly PlotJson[] | { readonly [key: string]: PlotJson };
/** A Vega-Lite specification, as JSON. */
export type VegaLiteSpec = { readonly [key: string]: PlotJson };

// The parts of vega and vega-lite used here (their own typings are large and would make the
// optional packages a compile-time dependency).

interface VegaLogger {
  level(): number;
}

interface VegaView {
  toSVG(scaleFactor?: number): Promise<string>;
  finalize(): VegaView;
}

interface VegaModule {
  readonly version: string;
  readonly Error: number;
  logger(level?: number): VegaLogger;
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: 'none'; logLevel?: number }) => VegaView;
}

interface VegaLiteModule {
  readonly version: string;
  compile(spec: VegaLiteSpec, options?: { logger?: VegaLogger }): { spec: unknown };
}

interface Plotting {
  readonly vega: VegaModule;
  readonly vegaLite: VegaLiteModule;
}

let plotting: Plotting | undefined;

function isMissingModule(e: unknown, name: string): boolean {
  const err = e as { code?: unknown; message?: unknown };
  return err !== null && typeof err === 'object' && err.code === 'MODULE_NOT_FOUND' && typeof err.message === 'string' && err.message.includes(`'${name}'`);
}

function load(): Plotting {
  if (plotting !== undefined) return plotting;
  let vega: VegaModule;
  let vegaLite: VegaLiteModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    vega = require('vega') as VegaModule;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    vegaLite = require('vega-lite') as VegaLiteModule;
  } catch (e) {
    if (isMissingModule(e, 'vega') || isMissingModule(e, 'vega-lite')) throw new Error(PLOTTING_MISSING);
    throw e;
  }
  plotting = { vega, vegaLite };
  return plotting;
}

/** Whether vega and vega-lite can be loaded, so that the plotting functions work. */
export function plottingAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** Renders a Vega-Lite specification to SVG text. */
async function render(spec: VegaLiteSpec): Promise<string> {
  const { vega, vegaLite } = load();
  const quiet = vega.logger(vega.Error);
  const compiled = vegaLite.compile(spec, { logger: quiet }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function checkNumbers(fn: string, name: string, v: unknown, finite: boolean): readonly number[] {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new TypeError(`${fn}: ${name} must be an array of numbers`);
  const a = v as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== 'number' || (finite && !Number.isFinite(a[i]))) throw new RangeError(`${fn}: ${name}[${i}] must be a ${finite ? 'finite ' : ''}number, got ${String(a[i])}`);
  }
  return Array.from(a as ArrayLike<number>);
}

function size(fn: string, name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 16 || x > 10000) throw new RangeError(`${fn}: options.${name} must be an integer in [16, 10000] (pixels), got ${String(v)}`);
  return x;
}

function text(fn: string, name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TypeError(`${fn}: options.${name} must be a string, got ${typeof v}`);
  return v;
}

const FONT: VegaLiteSpec = { font: 'sans-serif', labelFontSize: 11, titleFontSize: 12 };

/** The Vega-Lite specification of a line plot (validated; exported for tests and custom rendering). */
export function linePlotSpec(options: LinePlotOptions): VegaLiteSpec {
  const fn = 'linePlotSvg';
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: options must be an object with x and series`);
  const o = options;
  if (o.x === null || typeof o.x !== 'object') throw new TypeError(`${fn}: options.x must be { label, values }`);
  const xLabel = text(fn, 'x.label', o.x.label) ?? '';
  const xs = checkNumbers(fn, 'options.x.values', o.x.values, true);
  if (xs.length < 1) throw new RangeError(`${fn}: options.x.values is empty`);
  if (!Array.isArray(o.series) || o.series.length < 1) throw new RangeError(`${fn}: options.series must be a non-empty array of { name, values }`);
  const names = new Set<string>();
  const logY = o.logY ?? false;
  if (typeof logY !== 'boolean') throw new TypeError(`${fn}: options.logY must be a boolean`);
  const rows: VegaLiteSpec[] = [];
  const bars: VegaLiteSpec[] = [];
  for (const [k, s] of o.series.entries()) {
    if (s === null || typeof s !== 'object' || typeof s.name !== 'string' || s.name === '') throw new TypeError(`${fn}: options.series[${k}] must be { name: a non-empty string, values }`);
    if (names.has(s.name)) throw new RangeError(`${fn}: options.series[${k}].name '${s.name}' is used twice`);
    names.add(s.name);
    const ys = checkNumbers(fn, `options.series[${k}].values`, s.values, false);
    if (ys.length !== xs.length) throw new RangeError(`${fn}: options.series[${k}].values has ${ys.length} values but options.x.values has ${xs.length}`);
    ys.forEach((y, i) => {
      if (Number.isFinite(y) && (!logY || y > 0)) rows.push({ x: xs[i], y, series: s.name });
    });
    if (s.errors !== undefined) {
      const es = checkNumbers(fn, `options.series[${k}].errors`, s.errors, false);
      if (es.length !== xs.length) throw new RangeError(`${fn}: options.series[${k}].errors has ${es.length} values but options.x.values has ${xs.length}`);
      es.forEach((e, i) => {
        const y = ys[i];
        if (Number.isFinite(y) && Number.isFinite(e) && e > 0 && (!logY || y - e > 0)) bars.push({ x: xs[i], lo: y - e, hi: y + e, series: s.name });
      });
    }
  }
  const rules = (o.rules ?? []).map((r, i) => {
    if (r === null || typeof r !== 'object' || typeof r.x !== 'number' || !Number.isFinite(r.x)) throw new RangeError(`${fn}: options.rules[${i}].x must be a finite number`);
    return { x: r.x };
  });
  const title = text(fn, 'title', o.title);
  const yLabel = text(fn, 'yLabel', o.yLabel) ?? '';
  const yFormat = text(fn, 'yFormat', o.yFormat);
  const several = names.size > 1;
  const lineLayer: VegaLiteSpec = {
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 1.5, clip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xLabel, scale: { zero: false, nice: false } },
      y: { field: 'y', type: 'quantitative', title: yLabel, scale: logY ? { type: 'log' } : { zero: false }, ...(yFormat !== undefined ? { axis: { format: yFormat } } : {}) },
      ...(several ? { color: { field: 'series', type: 'nominal', title: null, scale: { domain: [...names] }, legend: { orient: 'top-right' } } } : {}),
    },
  };
  const layers: VegaLiteSpec[] = [lineLayer];
  if (bars.length > 0) {
    // a rule per bar (not Vega-Lite's errorbar mark, which would aggregate): the bars are given
    layers.push({
      data: { values: bars },
      mark: { type: 'rule', strokeWidth: 1, clip: true },
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        y: { field: 'lo', type: 'quantitative', ...(logY ? { scale: { type: 'log' } } : {}) },
        y2: { field: 'hi' },
        ...(several ? { color: { field: 'series', type: 'nominal', title: null, scale: { domain: [...names] }, legend: null } } : {}),
      },
    });
  }
  if (rules.length > 0) {
    layers.push({
      data: { values: rules },
      mark: { type: 'rule', strokeDash: [4, 3], color: '#888888', strokeWidth: 1, clip: true },
      encoding: { x: { field: 'x', type: 'quantitative' } },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    ...(title !== undefined ? { title } : {}),
    width: size(fn, 'width', o.width, 640),
    height: size(fn, 'height', o.height, 360),
    background: 'white',
    config: { axis: FONT, legend: { labelFontSize: 11, labelLimit: 400 }, title: { fontSize: 14, font: 'sans-serif' }, view: { stroke: '#dddddd' } },
    layer: layers,
  };
}

/**
 * A line plot as SVG text (`<svg …>…</svg>`): one line per series over the shared x values, a
 * legend when there are several, an optional log y axis and dashed vertical rules.
 * @throws (rejects) TypeError / RangeError for malformed options (series of the wrong length,
 *   non-finite x values, duplicate names); Error {@link PLOTTING_MISSING} without vega / vega-lite.
 */
export async function linePlotSvg(options: LinePlotOptions): Promise<string> {
  return render(linePlotSpec(options));
}

/** Options of {@link panelPlotSvg}. */
export interface PanelPlotOptions {
  /** The title above the panels (default none). */
  readonly title?: string;
  /** The panels, side by side from left to right (at least one), each a line plot of its own. */
  readonly panels: readonly LinePlotOptions[];
}

/**
 * The Vega-Lite specification of {@link panelPlotSvg}: the panels' line plots concatenated
 * horizontally, each with its own scales and legend (a paper's "left / right" figure).
 */
export function panelPlotSpec(options: PanelPlotOptions): VegaLiteSpec {
  const fn = 'panelPlotSvg';
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: options must be an object with panels`);
  if (!Array.isArray(options.panels) || options.panels.length < 1) throw new RangeError(`${fn}: options.panels must be a non-empty array of line plot options`);
  const title = text(fn, 'title', options.title);
  const panels = options.panels.map((p, i) => {
    let spec: VegaLiteSpec;
    try {
      spec = linePlotSpec(p);
    } catch (e) {
      if (e instanceof Error) e.message = e.message.replace('linePlotSvg: options.', `${fn}: options.panels[${i}].`);
      throw e;
    }
    // The schema, background and config belong to the top level of a concatenation only.
    const { $schema: _schema, background: _background, config: _config, ...panel } = spec;
    return panel;
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    ...(title !== undefined ? { title } : {}),
    background: 'white',
    config: { axis: FONT, legend: { labelFontSize: 11, labelLimit: 400 }, title: { fontSize: 14, font: 'sans-serif' }, view: { stroke: '#dddddd' } },
    hconcat: panels,
    resolve: { scale: { color: 'independent', x: 'independent', y: 'independent' } },
  };
}

/**
 * Line plots side by side as one SVG (see {@link panelPlotSpec}).
 * @throws (rejects) as {@link linePlotSvg}, the messages naming the panel.
 */
export async function panelPlotSvg(options: PanelPlotOptions): Promise<string> {
  return render(panelPlotSpec(options));
}

/**
 * A spectral density (lib/analysis spectralDensity's grid and density) as an SVG line plot, on a
 * log density axis by default (densities below `floor` drawn at it, so that the bulk near zero
 * and the isolated outliers both show), with optional eigenvalues marked by dashed lines.
 * @throws (rejects) as {@link linePlotSvg}; RangeError when grid and density differ in length.
 */
export async function densityPlotSvg(options: DensityPlotOptions): Promise<string> {
  return render(densityPlotSpec(options));
}

/** The Vega-Lite specification of {@link densityPlotSvg}. */
export function densityPlotSpec(options: DensityPlotOptions): VegaLiteSpec {
  const fn = 'densityPlotSvg';
  if (options === null || typeof options !== 'object') throw new TypeError(`${fn}: options must be an object with grid and density`);
  const grid = checkNumbers(fn, 'options.grid', options.grid, true);
  const density = checkNumbers(fn, 'options.density', options.density, true);
  if (grid.length !== density.length) throw new RangeError(`${fn}: options.grid has ${grid.length} points but options.density has ${density.length}`);
  if (grid.length < 1) throw new RangeError(`${fn}: options.grid is empty`);
  const logY = options.logY ?? true;
  const top = Math.max(...density);
  const floor = options.floor ?? (top > 0 ? top * 1e-6 : 1e-12);
  if (typeof floor !== 'number' || !(floor > 0)) throw new RangeError(`${fn}: options.floor must be a number > 0, got ${String(options.floor)}`);
  const markers = checkNumbers(fn, 'options.markers', options.markers ?? [], true);
  return linePlotSpec({
    title: options.title ?? 'Spectral density',
    x: { label: options.xLabel ?? 'eigenvalue λ', values: grid },
    yLabel: logY ? 'density (log scale)' : 'density',
    series: [{ name: 'density', values: logY ? density.map((d) => Math.max(d, floor)) : density }],
    logY,
    ...(logY ? { yFormat: '.0e' } : {}),
    rules: markers.map((x) => ({ x })),
    ...(options.width !== undefined ? { width: options.width } : {}),
    ...(options.height !== undefined ? { height: options.height } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Training curves (run logs of `newton-cnn train --log`, lib/train/run-log.ts)

/** One run's curves: its name in the legend and the points of its log. */
export interface TrainingRun {
  /** Its name in the legend (unique among the runs of a plot), e.g. 'newton' or the log's file name. */
  readonly name: string;
  /**
   * Its records (RunRecord-shaped: kind, time, iteration, epoch, objective, testAccuracy); only the
   * 'iteration' (Newton) and 'epoch' (SGD) records are drawn.
   */
  readonly records: readonly {
    readonly kind: string;
    readonly time: number;
    readonly iteration: number;
    readonly epoch?: number;
    readonly objective?: number;
    readonly testAccuracy?: number;
  }[];
}

/** Options of {@link trainingCurvesSvg}. */
export interface TrainingCurvesOptions {
  /** The title above the four panels (default 'Training curves'). */
  readonly title?: string;
  /** Width of each panel in pixels (default 320). */
  readonly width?: number;
  /** Height of each panel in pixels (default 220). */
  readonly height?: number;
  /** Logarithmic objective axes (default true when every objective is > 0). */
  readonly logObjective?: boolean;
}

/**
 * The Vega-Lite specification of {@link trainingCurvesSvg}: four panels — test accuracy and the
 * objective against wall time (as in the Newton paper's Figure 3) and against epochs (SGD) or
 * iterations (Newton) — with one line per run and a legend.
 * @throws TypeError / RangeError for no runs, duplicate names, or runs without drawable records.
 */
export function trainingCurvesSpec(runs: readonly TrainingRun[], options: TrainingCurvesOptions = {}): VegaLiteSpec {
  const fn = 'trainingCurvesSvg';
  if (!Array.isArray(runs) || runs.length < 1) throw new RangeError(`${fn}: runs must be a non-empty array of { name, records }`);
  const names: string[] = [];
  const rows: VegaLiteSpec[] = [];
  for (const [k, run] of runs.entries()) {
    if (run === null || typeof run !== 'object' || typeof run.name !== 'string' || run.name === '') throw new TypeError(`${fn}: runs[${k}] must be { name: a non-empty string, records }`);
    if (names.includes(run.name)) throw new RangeError(`${fn}: runs[${k}].name '${run.name}' is used twice; give the runs different names`);
    if (!Array.isArray(run.records)) throw new TypeError(`${fn}: runs[${k}].records must be an array of run-log records`);
    names.push(run.name);
    const before = rows.length;
    for (const r of run.records) {
      if (r.kind !== 'iteration' && r.kind !== 'epoch') continue;
      const step = r.kind === 'epoch' ? r.epoch ?? r.iteration : r.iteration;
      const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
      if (!ok(r.time) || !ok(step)) continue;
      rows.push({
        run: run.name,
        time: r.time,
        step,
        ...(ok(r.objective) ? { objective: r.objective } : {}),
        ...(ok(r.testAccuracy) ? { testAccuracy: r.testAccuracy } : {}),
      });
    }
    if (rows.length === before) throw new RangeError(`${fn}: runs[${k}] ('${run.name}') has no iteration or epoch records to draw`);
  }
  const objectives = rows.map((r) => r.objective).filter((v): v is number => typeof v === 'number');
  const logObjective = options.logObjective ?? (objectives.length > 0 && objectives.every((v) => v > 0));
  const width = size(fn, 'width', options.width, 320);
  const height = size(fn, 'height', options.height, 220);
  const title = text(fn, 'title', options.title) ?? 'Training curves';
  const color = { field: 'run', type: 'nominal', title: null, scale: { domain: names }, legend: names.length > 1 ? { orient: 'bottom' } : null };
  const panel = (x: 'time' | 'step', y: 'testAccuracy' | 'objective'): VegaLiteSpec => ({
    width,
    height,
    transform: [{ filter: `isValid(datum.${y})${y === 'objective' && logObjective ? ` && datum.${y} > 0` : ''}` }],
    mark: { type: 'line', point: { size: 16 }, strokeWidth: 1.5, clip: true },
    encoding: {
      x: { field: x, type: 'quantitative', title: x === 'time' ? 'time (s)' : 'epoch (SGD) / iteration (Newton)', scale: { zero: x === 'time', nice: false } },
      y: {
        field: y,
        type: 'quantitative',
        title: y === 'objective' ? `objective f${logObjective ? ' (log scale)' : ''}` : 'test accuracy',
        scale: y === 'objective' && logObjective ? { type: 'log' } : { zero: false },
      },
      color,
      detail: { field: 'run', type: 'nominal' },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    background: 'white',
    data: { values: rows },
    config: { axis: FONT, legend: { labelFontSize: 11, labelLimit: 400 }, title: { fontSize: 14, font: 'sans-serif' }, view: { stroke: '#dddddd' } },
    vconcat: [{ hconcat: [panel('time', 'testAccuracy'), panel('time', 'objective')] }, { hconcat: [panel('step', 'testAccuracy'), panel('step', 'objective')] }],
  };
}

/**
 * Training curves of one or more runs as SVG text: test accuracy and the objective against wall
 * time and against epochs / iterations, several runs overlaid with a legend (Newton against SGD,
 * as in the Newton paper's Figure 3). The runs come from run logs (lib/train readRunLog).
 * @throws (rejects) as {@link trainingCurvesSpec}; Error {@link PLOTTING_MISSING} without vega / vega-lite.
 */
export async function trainingCurvesSvg(runs: readonly TrainingRun[], options: TrainingCurvesOptions = {}): Promise<string> {
  return render(trainingCurvesSpec(runs, options));
}

/** The message of the Error thrown when PNG output is asked for and sharp is not installed. */
export const PNG_MISSING = 'PNG output needs the optional package sharp (npm install sharp), which converts the SVG; without it, write .svg';

/**
 * Converts SVG text to PNG bytes. Vega renders PNG only through node-canvas (a native build), so
 * the SVG goes through sharp instead (librsvg inside its prebuilt binaries; already an optional
 * dependency for reading PNG/JPEG images).
 * @throws (rejects) Error {@link PNG_MISSING} without sharp.
 */
export async function svgToPng(svg: string, density = 144): Promise<Buffer> {
  let sharp: (input: Buffer, options?: { density?: number }) => { png(): { toBuffer(): Promise<Buffer> } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sharp = require('sharp') as typeof sharp;
  } catch (e) {
    if (isMissingModule(e, 'sharp') || (e as { code?: string }).code === 'ERR_DLOPEN_FAILED') throw new Error(PNG_MISSING);
    throw new Error(`${PNG_MISSING} (loading it failed: ${(e as Error).message})`);
  }
  return sharp(Buffer.from(svg, 'utf8'), { density }).png().toBuffer();
}
