/**
 * The kernels in a real browser: esbuild bundles decoupled's built dist for the browser,
 * a 127.0.0.1 server serves it, and Debian's chromium (driven by playwright-core) runs AdamW steps
 * with the WASM kernels and with the reference loops; the results must be bit-identical. Served
 * twice: plain (no SharedArrayBuffer: the plain-memory module) and cross-origin isolated (the
 * shared-memory module, plus a step split over 2 Web Worker threads). Skipped only when
 * /usr/bin/chromium is absent.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromiumSkip, withChromium } from '../helpers/chromium.js';

const distSrc = fileURLToPath(new URL('../../../packages/decoupled/dist/', import.meta.url));

// Runs in the page: AdamW over 3 tensors (odd sizes), 5 steps with a schedule, both kernels.
const PAGE_SCRIPT = `
import { AdamW, referenceKernels } from './index.js';
import { createArena, initKernels, kernelThreads, sharedMemorySupported, wasmKernels } from './kernels/index.js';
function values(n, seed) {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2;
  }
  return out;
}
function run(kernels, alloc) {
  const sizes = [1, 1003, 70001];
  const params = sizes.map((n, i) => alloc(values(n, i + 1)));
  const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.1, kernels, schedule: (t) => 1 / (1 + t) });
  for (let t = 0; t < 5; t++) opt.step(sizes.map((n, i) => alloc(values(n, 100 * t + i))));
  return params;
}
try {
  // Pairs [kernel result, reference result] whose bits must agree.
  const pairs = [];
  const r = run(referenceKernels, (x) => x.slice());
  const arena = createArena(8 * 72000);
  run(wasmKernels, (x) => x.slice()).forEach((k, i) => pairs.push([k, r[i]]));
  run(wasmKernels, (x) => arena.from(x)).forEach((k, i) => pairs.push([k, r[i]]));
  let threads = 1;
  if (self.crossOriginIsolated) {
    // Web Worker threads over a shared arena. The optimizer keeps its state in plain arrays
    // (staged, one thread), so call the kernel on p, g, m, v that all live in the arena: the
    // threaded path for tensors of >= minParallelLength elements.
    await initKernels({ threads: 2, minParallelLength: 1000 });
    threads = kernelThreads();
    const arena2 = createArena(6 * 72000);
    for (const n of [1, 1003, 70001]) {
      const p = arena2.from(values(n, n));
      const [m, v] = [arena2.alloc(n), arena2.alloc(n)];
      const [pr, mr, vr] = [p.slice(), new Float32Array(n), new Float32Array(n)];
      for (let t = 1; t <= 3; t++) {
        const g = arena2.from(values(n, 7 * t));
        const s = {
          stepSize: 0.01 / (1 - 0.9 ** t), beta1: 0.9, beta2: 0.999, eps: 1e-8,
          biasCorrection2Sqrt: Math.sqrt(1 - 0.999 ** t), l2: 0, decayFactor: 1 - 0.001 * t,
          amsgrad: false, maximize: false,
        };
        wasmKernels.adam(p, g, m, v, null, s);
        referenceKernels.adam(pr, g.slice(), mr, vr, null, s);
      }
      pairs.push([p, pr], [m, mr], [v, vr]);
    }
  }
  let mismatches = 0;
  let compared = 0;
  for (const [k, e] of pairs) {
    const ku = new Uint32Array(k.buffer, k.byteOffset, k.length);
    const eu = new Uint32Array(e.buffer, e.byteOffset, e.length);
    if (ku.length !== eu.length) throw new Error('length mismatch');
    for (let j = 0; j < eu.length; j++) {
      compared++;
      if (ku[j] !== eu[j]) mismatches++;
    }
  }
  window.__result = { compared, mismatches, threads, shared: sharedMemorySupported(), isolated: self.crossOriginIsolated };
} catch (e) {
  window.__result = { error: String(e && e.stack || e) };
}
`;

async function bundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    stdin: { contents: PAGE_SCRIPT, resolveDir: distSrc, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    external: ['node:*'],
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

function serve(js: string): Promise<Server> {
  const server = createServer((req, res) => {
    const isolated = req.url?.startsWith('/isolated/') ?? false;
    const headers: Record<string, string> = isolated
      ? {
          'Cross-Origin-Opener-Policy': 'same-origin',
          'Cross-Origin-Embedder-Policy': 'require-corp',
        }
      : {};
    if (req.url?.endsWith('/bundle.js')) {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' });
      res.end(js);
    } else {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
      res.end('<!doctype html><script type="module" src="bundle.js"></script>');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('kernels in chromium', () => {
  it('AdamW with the WASM kernels matches the reference bit for bit in a browser bundle', {
    skip: chromiumSkip(),
    timeout: 60000,
  }, async () => {
    const js = await bundle();
    const server = await serve(js);
    const { port } = server.address() as AddressInfo;
    try {
      await withChromium(async (context) => {
        for (const path of ['/plain/', '/isolated/']) {
          const page = await context.newPage();
          const errors: string[] = [];
          page.on('pageerror', (e) => errors.push(String(e)));
          await page.goto(`http://127.0.0.1:${port}${path}`);
          const handle = await page.waitForFunction(
            () => (window as unknown as { __result?: unknown }).__result,
            undefined,
            { timeout: 30000 },
          );
          const result = (await handle.jsonValue()) as {
            compared?: number;
            mismatches?: number;
            shared?: boolean;
            isolated?: boolean;
            threads?: number;
            error?: string;
          };
          const isolated = path === '/isolated/';
          assert.deepEqual(errors, []);
          assert.equal(result.error, undefined, result.error);
          assert.equal(result.compared, (isolated ? 5 : 2) * (1 + 1003 + 70001));
          assert.equal(result.mismatches, 0);
          // The isolated page must have taken the shared-memory module, the plain one not, and run
          // a step split over 2 Web Worker threads.
          assert.equal(result.shared, isolated);
          assert.equal(result.isolated, isolated);
          assert.equal(result.threads, isolated ? 2 : 1);
          await page.close();
        }
      });
    } finally {
      server.close();
    }
  });
});
