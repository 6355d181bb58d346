/**
 * README.md, run: every ```ts and ```js block is type-checked against the package's declarations
 * (dist/lib/index.d.ts, as a user's project sees them) and run, in README order, in one temporary
 * project whose node_modules/newton-cnn is this repository (so a later block may read a file an
 * earlier one wrote, e.g. model.onnx). Each block runs in its own Node.js process with a time
 * limit: blocks that would train for minutes are written with small settings.
 *
 * A comment on the line above a block's fence changes what happens to it:
 *   <!-- readme-test: compile-only (why) -->   type-checked, not run
 *   <!-- readme-test: skip (why) -->           neither
 * and the test counts them. It also checks that every repository path the README names exists.
 *
 * TypeScript blocks are ES modules (.mts, top-level await allowed); a JS block is CommonJS when it
 * uses require() and has no import, else an ES module.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const PER_BLOCK_TIMEOUT_MS = 40_000;

type Mode = 'run' | 'compile-only' | 'skip';
interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'ts' | 'js';
  code: string;
  mode: Mode;
  reason: string;
  /** The file it is written to (set when written). */
  file?: string;
}

function extractBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) j++;
    const lang = open[1];
    if (lang === 'ts' || lang === 'js') {
      let k = i - 1;
      while (k >= 0 && lines[k].trim() === '') k--;
      const marker = k >= 0 ? /^<!--\s*readme-test:\s*(skip|compile-only)\s*(?:\((.*)\))?\s*-->$/.exec(lines[k].trim()) : null;
      blocks.push({
        line: i + 1,
        lang,
        code: lines.slice(i + 1, j).join('\n'),
        mode: marker ? (marker[1] as Mode) : 'run',
        reason: marker?.[2] ?? '',
      });
    }
    i = j;
  }
  return blocks;
}

const blocks = extractBlocks(README);

describe('README.md', () => {
  let app: string;

  beforeAll(() => {
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'newton-cnn-readme-'));
    fs.mkdirSync(path.join(app, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(app, 'node_modules', 'newton-cnn'), 'dir');
    fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "readme-test", "private": true }\n');
    // Other packages the blocks install (`npm install onnxruntime-node`): this repository's copies.
    for (const dep of ['onnxruntime-node', 'onnxruntime-common']) {
      const from = path.join(ROOT, 'node_modules', dep);
      if (fs.existsSync(from)) fs.symlinkSync(from, path.join(app, 'node_modules', dep), 'dir');
    }
  });

  afterAll(() => {
    if (app) fs.rmSync(app, { recursive: true, force: true });
  });

  test('has TypeScript and JavaScript blocks, and every marker says why', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    const counts = { run: 0, 'compile-only': 0, skip: 0 };
    for (const b of blocks) {
      counts[b.mode]++;
      if (b.mode !== 'run') expect(`line ${b.line}: ${b.reason}`).toMatch(/: \S/);
    }
    console.log(`README blocks: ${blocks.length} (run ${counts.run}, compile-only ${counts['compile-only']}, skipped ${counts.skip})`);
    // Skipping must stay the exception.
    expect(counts.run).toBeGreaterThanOrEqual(blocks.length - 3);
  });

  test('every block type-checks against the package declarations', () => {
    expect(fs.existsSync(path.join(ROOT, 'dist', 'lib', 'index.d.ts'))).toBe(true);
    const files: string[] = [];
    blocks.forEach((b, n) => {
      if (b.mode === 'skip') return;
      const base = `block-${String(n).padStart(2, '0')}-line-${b.line}`;
      const commonjs = b.lang === 'js' && /\brequire\(/.test(b.code) && !/^import /m.test(b.code);
      const ext = b.lang === 'ts' ? '.mts' : commonjs ? '.cjs' : '.mjs';
      b.file = path.join(app, base + ext);
      // `export {}` makes every TypeScript block a module of its own (no shared globals).
      fs.writeFileSync(b.file, b.lang === 'ts' ? `${b.code}\nexport {};\n` : `${b.code}\n`);
      files.push(b.file);
    });
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      strict: true,
      skipLibCheck: true,
      allowJs: true,
      checkJs: true,
      outDir: path.join(app, 'out'),
      noEmitOnError: false,
    });
    const emitted = program.emit();
    const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].filter(
      (d) => d.category === ts.DiagnosticCategory.Error,
    );
    const messages = diagnostics.map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      const block = blocks.find((b) => b.file !== undefined && d.file !== undefined && path.resolve(d.file.fileName) === b.file);
      if (block && d.file && d.start !== undefined) {
        const { line } = d.file.getLineAndCharacterOfPosition(d.start);
        return `README.md:${block.line + 1 + line}: ${text}`;
      }
      return `${d.file?.fileName ?? '?'}: ${text}`;
    });
    expect(messages).toEqual([]);
  }, 60_000);

  test('every block that is not marked runs, in order, without an error', () => {
    const failures: string[] = [];
    const times: string[] = [];
    for (const b of blocks) {
      if (b.mode !== 'run' || !b.file) continue;
      // The compiled .mts is out/<name>.mjs; JS blocks run as written.
      const script = b.lang === 'ts' ? path.join(app, 'out', path.basename(b.file).replace(/\.mts$/, '.mjs')) : b.file;
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [script], {
        cwd: app,
        encoding: 'utf8',
        timeout: PER_BLOCK_TIMEOUT_MS,
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      times.push(`line ${b.line}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      if (r.status !== 0) {
        const why = r.error ? `${r.error.message}` : `exit ${r.status ?? r.signal}`;
        failures.push(`README.md:${b.line} (${b.lang}) failed: ${why}\n${(r.stderr || '').split('\n').slice(0, 15).join('\n')}`);
      }
    }
    console.log(`README blocks run: ${times.join(', ')}`);
    expect(failures).toEqual([]);
  }, 180_000);

  test('every repository path it names exists', () => {
    // Paths that builds and commands create (not in the repository).
    const generated = /^(build|build-gyp|build-prebuild|dist|prebuilds|docs\/api|\.carry)(\/|$)/;
    const generatedFiles = new Set(['GPU-RESULTS.md']);
    const missing: string[] = [];
    const re = /(?<![\w./-])((?:\.ci|lib|test|native|cuda|scripts|docs|build|build-gyp|build-prebuild|dist|prebuilds)\/[A-Za-z0-9_.*\-/]*[A-Za-z0-9_*])/g;
    for (const m of README.matchAll(re)) {
      const p = m[1];
      if (generated.test(p)) continue;
      if (p.includes('*')) {
        // A glob such as test/hardening.*.test.ts: some file must match.
        const dir = path.dirname(p);
        const pattern = new RegExp(`^${path.basename(p).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
        const entries = fs.existsSync(path.join(ROOT, dir)) ? fs.readdirSync(path.join(ROOT, dir)) : [];
        if (!entries.some((e) => pattern.test(e))) missing.push(p);
      } else if (!fs.existsSync(path.join(ROOT, p))) {
        missing.push(p);
      }
    }
    // Top-level files named on their own: DESIGN.md, LICENSE, package.json, …
    const topLevel = /(?<![\w./-])([A-Z][A-Z_-]*\.md|LICENSE|package\.json|CMakeLists\.txt|binding\.gyp|tsconfig\.json|typedoc\.json)(?![\w-])/g;
    for (const m of README.matchAll(topLevel)) {
      if (!generatedFiles.has(m[1]) && !fs.existsSync(path.join(ROOT, m[1]))) missing.push(m[1]);
    }
    // Markdown links to files.
    for (const m of README.matchAll(/\]\(([^)#\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target) || generated.test(target)) continue;
      if (!fs.existsSync(path.join(ROOT, target))) missing.push(target);
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});
