/**
 * Serves the browser example: bundles ./main.ts with esbuild (tfjs and decoupled/tfjs inside),
 * makes the Fashion-MNIST sample from the IDX files (./sample.ts) and serves both with
 * ./index.html on 127.0.0.1. Open the printed address in a browser with WebGL2.
 *
 *   npm run build && node dist/examples/browser/serve.js [--port 8080] [--data-dir DIR] [--count N]
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DEFAULT_SAMPLE_SIZE, fashionSample } from './sample.js';

/** The example's source directory (this file runs from dist/examples/browser). */
export const EXAMPLE_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../../examples/browser',
);

/** `entry` and everything it imports (tfjs, decoupled) as one ES module for the browser. */
export async function bundlePage(entry: string): Promise<string> {
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return bundle.outputFiles[0].text;
}

/** Every file of the example by URL path: the page, its bundle and the sample. */
export async function exampleFiles(dataDir?: string, count = DEFAULT_SAMPLE_SIZE) {
  return {
    '/': { type: 'text/html', body: readFileSync(join(EXAMPLE_DIR, 'index.html'), 'utf8') },
    '/page.js': { type: 'text/javascript', body: await bundlePage(join(EXAMPLE_DIR, 'main.ts')) },
    ...fashionSample(dataDir, count),
  };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files: Record<string, { type: string; body: string | Buffer }> = await exampleFiles(
    arg('--data-dir'),
    Number(arg('--count') ?? DEFAULT_SAMPLE_SIZE),
  );
  const server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (file) res.writeHead(200, { 'content-type': file.type }).end(file.body);
    else res.writeHead(404).end();
  });
  server.listen(Number(arg('--port') ?? 8080), '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    console.log(`decoupled browser example: http://127.0.0.1:${port}/ (Ctrl-C stops it)`);
  });
}
