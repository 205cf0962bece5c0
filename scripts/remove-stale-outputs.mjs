#!/usr/bin/env node
/**
 * Removes compiled files whose TypeScript source is gone (a deleted or renamed module), before
 * `tsc -b`: tsc never deletes them, so they would be packed, and tests could import them. Keeps
 * every other output, so builds stay incremental. Each package's dist/ mirrors its src/; the
 * root's dist/ mirrors the root (test/, bench/, scripts/, examples/).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT = /\.(d\.ts\.map|d\.ts|js\.map|js)$/;

function removeStale(distDir, sourceDir) {
  if (!existsSync(distDir)) return;
  for (const file of readdirSync(distDir, { recursive: true, encoding: 'utf8' })) {
    if (!OUTPUT.test(file)) continue;
    const source = join(sourceDir, file.replace(OUTPUT, '.ts'));
    // Generated or hand-written JavaScript sources (.mjs/.js) have no .ts; only .ts-built outputs go.
    if (!existsSync(source) && !existsSync(source.replace(/\.ts$/, '.js'))) {
      rmSync(join(distDir, file));
    }
  }
}

for (const pkg of ['packages/decoupled', 'packages/harness']) {
  removeStale(join(root, pkg, 'dist'), join(root, pkg, 'src'));
}
removeStale(join(root, 'dist'), root);
