/**
 * The package in browser apps: `npm pack` makes the tarball a user installs; it is unpacked into a
 * temp app's node_modules/decoupled (with the tfjs packages linked from this repository's
 * node_modules: the test runs offline), and one page importing `decoupled` and `decoupled/tfjs`
 * (./bundle-page.ts) is bundled for the browser by esbuild, Vite and webpack 5 through their
 * programmatic APIs with default settings (webpack: production mode without its minifier, for
 * time). Each bundle must build without a Node built-in, contain
 * neither the Node worker-thread code nor nodeFileSystem (a Node-targeted esbuild bundle of the same
 * page is the positive control for those markers), and run in Chromium with the fused WASM kernels
 * doing the AdamW steps, bit for bit equal to PyTorch 1.13's golden trajectory, through the core
 * and through decoupled/tfjs on the tfjs cpu backend. Skipped only when /usr/bin/chromium is absent.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromiumSkip, withChromium } from '../helpers/chromium.js';
import type { BundlePageResult, GoldenCase } from './bundle-page.js';
import { linkPackage, makeApp, packPackage, REPO } from './packed-app.js';

const pageScript = fileURLToPath(new URL('./bundle-page.js', import.meta.url));
const GOLDEN_CASE = 'AdamW decayScale schedule amsgrad, SIMD-sized (seed 0)';
/** Strings only the Node-only modules contain: the worker-thread code, nodeFileSystem. */
const NODE_ONLY_MARKERS = ["require('node:worker_threads')", 'the files do not belong together'];

const skip = chromiumSkip();
let work = '';
let app = '';

/** npm pack, then the tarball unpacked as npm installs it, into a fresh app. */
function installPackedPackage(): void {
  work = mkdtempSync(join(tmpdir(), 'decoupled-bundlers-'));
  app = join(work, 'app');
  makeApp(app, packPackage(work));
  linkPackage(join(app, 'node_modules'), '@tensorflow', join(REPO, 'node_modules', '@tensorflow'));
  copyFileSync(pageScript, join(app, 'main.js'));
  writeFileSync(
    join(app, 'index.html'),
    '<!doctype html><script type="module" src="/main.js"></script>',
  );
  const fixture = JSON.parse(
    readFileSync(join(REPO, 'test', 'fixtures', 'optimizers.json'), 'utf8'),
  ) as { cases: GoldenCase[] };
  const golden = fixture.cases.find((c) => c.name === GOLDEN_CASE);
  assert.ok(golden, GOLDEN_CASE);
  writeFileSync(join(work, 'golden.json'), JSON.stringify(golden));
}

/** A built page: its directory, its HTML, and the warnings the bundler printed. */
interface Built {
  dir: string;
  html: string;
  warnings: string[];
}

const CLASSIC_PAGE = '<!doctype html><script src="main.js"></script>';

async function buildWithEsbuild(platform: 'browser' | 'node' = 'browser'): Promise<Built> {
  const esbuild = await import('esbuild');
  const dir = join(work, `esbuild-${platform}`);
  const result = await esbuild.build({
    entryPoints: [join(app, 'main.js')],
    bundle: true,
    platform,
    outdir: dir,
    logLevel: 'silent',
  });
  return { dir, html: CLASSIC_PAGE, warnings: result.warnings.map((w) => w.text) };
}

async function buildWithVite(): Promise<Built> {
  const { build, createLogger } = await import('vite');
  const dir = join(work, 'vite');
  const warnings: string[] = [];
  const logger = createLogger('warn');
  logger.warn = (message) => warnings.push(message);
  logger.warnOnce = (message) => warnings.push(message);
  await build({
    root: app,
    configFile: false,
    logLevel: 'warn',
    customLogger: logger,
    build: { outDir: dir, emptyOutDir: true },
  });
  return { dir, html: readFileSync(join(dir, 'index.html'), 'utf8'), warnings };
}

async function buildWithWebpack(): Promise<Built> {
  const { default: webpack } = await import('webpack');
  const dir = join(work, 'webpack');
  // Production mode, the default, with its tree shaking; only the minifier is off (terser took
  // 47 s of a 2-core machine here, against 10 s for the rest of the build).
  const compiler = webpack({
    mode: 'production',
    context: app,
    entry: './main.js',
    output: { path: dir },
    optimization: { minimize: false },
  });
  const stats = await new Promise<import('webpack').Stats>((resolve, reject) => {
    compiler.run((error, result) => (error || !result ? reject(error) : resolve(result)));
  });
  await new Promise((resolve) => compiler.close(resolve));
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  assert.deepEqual(info.errors?.map((e) => e.message) ?? [], []);
  return { dir, html: CLASSIC_PAGE, warnings: info.warnings?.map((w) => w.message) ?? [] };
}

/** Concatenated text of every .js file a bundler wrote. */
function bundleText(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html' };

function serve(built: Built): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(built.html);
      return;
    }
    const file = path === '/golden.json' ? join(work, 'golden.json') : join(built.dir, path);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function runInChromium(built: Built): Promise<BundlePageResult> {
  const server = await serve(built);
  const { port } = server.address() as AddressInfo;
  try {
    return await withChromium(async (context) => {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${port}/`);
      const handle = await page.waitForFunction(
        () => {
          const w = window as unknown as { __result?: unknown; __error?: string };
          return w.__result ?? (w.__error ? { error: w.__error } : undefined);
        },
        undefined,
        { timeout: 30000 },
      );
      const result = (await handle.jsonValue()) as BundlePageResult & { error?: string };
      assert.deepEqual(errors, []);
      assert.equal(result.error, undefined, result.error);
      return result;
    });
  } finally {
    server.close();
  }
}

function checkBundle(built: Built): void {
  assert.deepEqual(
    built.warnings.filter((w) => /\bnode:[a-z]|externali[sz]ed/i.test(w)),
    [],
    'no warning about Node built-ins',
  );
  const text = bundleText(built.dir);
  for (const marker of NODE_ONLY_MARKERS) {
    assert.ok(!text.includes(marker), `the browser bundle contains Node-only code (${marker})`);
  }
}

function checkPage(result: BundlePageResult, golden: GoldenCase): void {
  const steps = golden.grads.length;
  const tensors = golden.params0.length;
  assert.equal(result.defaultKernels, 'wasm-simd');
  assert.equal(result.threads, 1);
  // One fused kernel call per tensor per step, from each optimizer.
  assert.deepEqual(result.fusedCalls, { core: steps * tensors, tfjs: steps * tensors });
  assert.equal(result.compared, 2 * steps * golden.params0.reduce((n, p) => n + p.length, 0));
  assert.deepEqual(result.mismatches, { core: 0, tfjs: 0 });
  assert.equal(result.tfjsBackend, 'cpu');
  assert.ok(result.adapterExports.includes('AdamW'));
  assert.ok(
    !result.adapterExports.includes('nodeFileSystem'),
    'nodeFileSystem in a browser bundle',
  );
}

describe('bundlers: the packed package in a browser app', { skip }, () => {
  let golden: GoldenCase;
  before(() => {
    installPackedPackage();
    golden = JSON.parse(readFileSync(join(work, 'golden.json'), 'utf8')) as GoldenCase;
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the markers of Node-only code are found in a bundle built for Node', async () => {
    const text = bundleText((await buildWithEsbuild('node')).dir);
    for (const marker of NODE_ONLY_MARKERS) assert.ok(text.includes(marker), marker);
  });

  for (const [name, build] of [
    ['esbuild', () => buildWithEsbuild()],
    ['Vite', buildWithVite],
    ['webpack 5', buildWithWebpack],
  ] as const) {
    it(`${name} bundles it with default settings; in Chromium the fused WASM kernels match PyTorch`, {
      timeout: 120000,
    }, async () => {
      const built = await build();
      checkBundle(built);
      checkPage(await runInChromium(built), golden);
    });
  }
});
