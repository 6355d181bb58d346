// lib/plot: Vega-Lite specifications and their SVG (vega and vega-lite, the optional
// dependencies, loaded under jest's CommonJS), the validation of the options, and the message
// when the optional packages are missing.
import { densityPlotSpec, densityPlotSvg, linePlotSpec, linePlotSvg, panelPlotSpec, panelPlotSvg, PLOTTING_MISSING, plottingAvailable, type PlotJson } from '../lib/plot';

const count = (s: string, sub: string): number => s.split(sub).length - 1;

test('vega and vega-lite load (CommonJS builds) under jest', () => {
  expect(plottingAvailable()).toBe(true);
  const vega = require('vega') as { version: string };
  const vl = require('vega-lite') as { version: string };
  expect(vega.version).toMatch(/^5\./);
  expect(vl.version).toMatch(/^5\./);
});

test('linePlotSvg: an SVG with a line per series, the title, axis titles and a legend', async () => {
  const svg = await linePlotSvg({
    title: 'Loss per epoch',
    x: { label: 'epoch', values: [1, 2, 3, 4] },
    yLabel: 'loss',
    series: [
      { name: 'sgd', values: [1, 0.5, 0.3, 0.25] },
      { name: 'newton', values: [0.8, 0.3, 0.2, 0.1] },
    ],
    logY: true,
    rules: [{ x: 2.5 }],
  });
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg).toContain('Loss per epoch');
  expect(svg).toContain('>epoch<');
  expect(svg).toContain('>loss<');
  expect(svg).toContain('>sgd<'); // legend
  expect(svg).toContain('>newton<');
  expect(count(svg, 'role-mark')).toBeGreaterThanOrEqual(2);
  expect(svg).toMatch(/<path [^>]*d="M[\d.]+,[\d.]+L/); // a drawn line
  expect(svg).toMatch(/stroke-dasharray="4,3"/); // the rule
});

test('linePlotSpec: one series has no legend; log axes drop values ≤ 0 and non-finite ones', () => {
  const spec = linePlotSpec({ x: { label: 't', values: [1, 2, 3] }, series: [{ name: 'a', values: [1, -1, NaN] }], logY: true });
  const layer = (spec.layer as readonly { [k: string]: PlotJson }[])[0];
  expect((layer.data as { values: readonly PlotJson[] }).values).toEqual([{ x: 1, y: 1, series: 'a' }]);
  const enc = layer.encoding as { [k: string]: { [k: string]: PlotJson } };
  expect(enc.color).toBeUndefined();
  expect(enc.y.scale).toEqual({ type: 'log' });
  expect(spec.width).toBe(640);
  const lin = linePlotSpec({ x: { label: 't', values: [1, 2] }, series: [{ name: 'a', values: [0, -1] }], width: 300, height: 100 });
  expect(((lin.layer as readonly { [k: string]: PlotJson }[])[0].data as { values: readonly PlotJson[] }).values).toHaveLength(2);
  expect([lin.width, lin.height]).toEqual([300, 100]);
});

test('malformed options are refused with messages naming the field', async () => {
  const x = { label: 'x', values: [1, 2, 3] };
  await expect(linePlotSvg({ x, series: [] })).rejects.toThrow(/options.series must be a non-empty array/);
  await expect(linePlotSvg({ x, series: [{ name: 'a', values: [1, 2] }] })).rejects.toThrow(/series\[0\].values has 2 values but options.x.values has 3/);
  await expect(linePlotSvg({ x, series: [{ name: 'a', values: [1, 2, 3] }, { name: 'a', values: [1, 2, 3] }] })).rejects.toThrow(/'a' is used twice/);
  await expect(linePlotSvg({ x: { label: 'x', values: [1, Infinity] }, series: [{ name: 'a', values: [1, 2] }] })).rejects.toThrow(/x.values\[1\] must be a finite number/);
  await expect(linePlotSvg({ x, series: [{ name: 'a', values: [1, 2, 3] }], width: 3 })).rejects.toThrow(/options.width must be an integer in \[16, 10000\]/);
  await expect(densityPlotSvg({ grid: [0, 1], density: [1] })).rejects.toThrow(/grid has 2 points but options.density has 1/);
});

test('error bars: a rule from y − e to y + e per point in the series colour; none for e ≤ 0, NaN, or a log axis reaching 0', async () => {
  const spec = linePlotSpec({
    x: { label: 'lg(depth)', values: [0, 1, 2] },
    series: [
      { name: 'a', values: [1, 2, 3], errors: [0.5, 0, NaN] },
      { name: 'b', values: [2, 3, NaN], errors: [0.1, 0.2, 0.3] },
    ],
  });
  const [, bars] = spec.layer as readonly { [k: string]: PlotJson }[];
  expect((bars.mark as { type: string }).type).toBe('rule');
  expect((bars.data as { values: readonly PlotJson[] }).values).toEqual([
    { x: 0, lo: 0.5, hi: 1.5, series: 'a' },
    { x: 0, lo: 1.9, hi: 2.1, series: 'b' },
    { x: 1, lo: 2.8, hi: 3.2, series: 'b' },
  ]);
  const enc = bars.encoding as { [k: string]: { [k: string]: PlotJson } };
  expect(enc.y.field).toBe('lo');
  expect(enc.y2.field).toBe('hi');
  expect(enc.color.field).toBe('series');
  const log = linePlotSpec({ x: { label: 'x', values: [1, 2] }, series: [{ name: 'a', values: [1, 10], errors: [1, 5] }], logY: true });
  expect(((log.layer as readonly { [k: string]: PlotJson }[])[1].data as { values: readonly PlotJson[] }).values).toEqual([{ x: 2, lo: 5, hi: 15, series: 'a' }]);
  expect(linePlotSpec({ x: { label: 'x', values: [1] }, series: [{ name: 'a', values: [1] }] }).layer).toHaveLength(1); // no errors, no layer
  await expect(linePlotSvg({ x: { label: 'x', values: [1, 2] }, series: [{ name: 'a', values: [1, 2], errors: [1] }] })).rejects.toThrow(/options.series\[0\].errors has 1 values but options.x.values has 2/);
  const svg = await linePlotSvg({ x: { label: 'depth', values: [1, 2, 3] }, series: [{ name: 'a', values: [1, 2, 3], errors: [0.2, 0.2, 0.2] }, { name: 'a long series name of forty characters..', values: [3, 2, 1] }] });
  expect(count(svg, 'aria-roledescription="rule mark"')).toBe(3); // one bar per point of the series with errors
  expect(svg).toContain('a long series name of forty characters..'); // legend labels are not cut
});

test('panelPlotSvg: line plots side by side, scales and legends of their own; errors name the panel', async () => {
  const left = { title: 'left', x: { label: 'loss', values: [1, 2] }, yLabel: 'index', series: [{ name: 'p', values: [0.5, 0.4] }, { name: 'q', values: [0.3, 0.2] }] };
  const right = { title: 'right', x: { label: 'epoch', values: [0, 1, 2] }, yLabel: 'gradient norm', series: [{ name: 'r', values: [1, 100, 3] }], logY: true };
  const spec = panelPlotSpec({ title: 'Figure 8', panels: [left, right] });
  const panels = spec.hconcat as readonly { [k: string]: PlotJson }[];
  expect(panels).toHaveLength(2);
  expect(panels[0].$schema).toBeUndefined();
  expect(panels[0].config).toBeUndefined();
  expect(panels[1].title).toBe('right');
  expect(spec.resolve).toEqual({ scale: { color: 'independent', x: 'independent', y: 'independent' } });
  const svg = await panelPlotSvg({ title: 'Figure 8', panels: [left, right] });
  expect(svg.startsWith('<svg')).toBe(true);
  for (const t of ['Figure 8', '>left<', '>right<', '>loss<', '>epoch<', '>index<', '>gradient norm<', '>p<', '>q<']) expect(svg).toContain(t);
  await expect(panelPlotSvg({ panels: [] })).rejects.toThrow(/panelPlotSvg: options.panels must be a non-empty array/);
  await expect(panelPlotSvg({ panels: [left, { ...right, series: [] }] })).rejects.toThrow(/panelPlotSvg: options.panels\[1\].series must be a non-empty array/);
});

test('densityPlotSvg: log density with a floor, eigenvalues marked', async () => {
  const grid = Array.from({ length: 101 }, (_, i) => -1 + i * 0.05);
  const density = grid.map((t) => Math.exp(-(t * t) / 0.02) + 0.3 * Math.exp(-((t - 3) ** 2) / 0.02));
  const spec = densityPlotSpec({ grid, density, markers: [3] });
  const [line, rules] = spec.layer as readonly { [k: string]: PlotJson }[];
  const ys = ((line.data as { values: readonly { y: number }[] }).values).map((r) => r.y);
  expect(ys).toHaveLength(101); // every point kept: tiny densities sit at the floor
  expect(Math.min(...ys)).toBeCloseTo(1e-6 * Math.max(...density), 12);
  expect((rules.data as { values: readonly PlotJson[] }).values).toEqual([{ x: 3 }]);
  expect((line.encoding as { y: { axis: PlotJson } }).y.axis).toEqual({ format: '.0e' }); // decades as 1e-3, not 0.001
  const svg = await densityPlotSvg({ grid, density, markers: [3], title: 'Hessian density' });
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('Hessian density');
  expect(svg).toContain('eigenvalue λ');
  expect(svg).toContain('<path');
});

test('without vega the plotting functions reject with the install hint', async () => {
  let plot: typeof import('../lib/plot') | undefined;
  jest.isolateModules(() => {
    jest.doMock('vega', () => {
      throw Object.assign(new Error("Cannot find module 'vega' from 'lib/plot.ts'"), { code: 'MODULE_NOT_FOUND' });
    });
    plot = require('../lib/plot') as typeof import('../lib/plot');
  });
  expect(plot!.plottingAvailable()).toBe(false);
  await expect(plot!.linePlotSvg({ x: { label: 'x', values: [1] }, series: [{ name: 'a', values: [1] }] })).rejects.toThrow(PLOTTING_MISSING);
  jest.dontMock('vega');
  expect(PLOTTING_MISSING).toBe('plotting needs the optional packages vega and vega-lite: npm install vega@5 vega-lite@5');
});
