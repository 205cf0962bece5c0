/**
 * A temp app with the packed package installed, as the packaging tests build it: `npm pack` makes
 * the tarball a user would install, and it is unpacked into app/node_modules/decoupled, which is
 * what `npm install <tarball>` does with the package's own files. Dependencies are linked in by the
 * caller from packages already on disk (the tests run offline).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The directory of the `decoupled` package (core, kernels, decoupled/tfjs). */
export const PACKAGE_DIR = join(REPO, 'packages/decoupled');
/** The directory of the `decoupled-harness` package (experiments, sweeps, report, the command). */
export const HARNESS_DIR = join(REPO, 'packages/harness');

/** Packs the `decoupled` package into `dir` and returns the tarball's path. */
export function packPackage(dir: string): string {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: PACKAGE_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as { filename: string }[];
  return join(dir, packed.filename);
}

/** Makes an ESM app at `app` with `tarball` installed as node_modules/decoupled. */
export function makeApp(app: string, tarball: string): void {
  const installed = join(app, 'node_modules', 'decoupled');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true, "type": "module" }');
}

/** Links the package directory `target` into `node_modules` as `name` (e.g. '@tensorflow/tfjs-core'). */
export function linkPackage(nodeModules: string, name: string, target: string): void {
  const link = join(nodeModules, name);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link);
}
