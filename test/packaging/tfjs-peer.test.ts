/**
 * tfjs is the app's, not decoupled's: package.json names the tfjs packages only as optional peers
 * whose ranges admit 4.20, so npm installs no second tfjs-core under decoupled. The app (the packed
 * package beside the tfjs 4.20 of the test/packaging/app-tfjs-4.20 workspace, flat as npm lays it
 * out for those peers) trains with decoupled/tfjs, saves with includeOptimizer, reloads and resumes
 * bit for bit, with decoupled's kernel in the app's tfjs and no second-platform warning. The control
 * adds the nested tfjs-core that `dependencies` on tfjs 4.22 gave (npm nested it under decoupled),
 * and the same app must fail as the issue reported.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { linkPackage, makeApp, PACKAGE_DIR, packPackage, REPO } from './packed-app.js';
import type { TfjsAppReport } from './tfjs-app.js';

const TFJS_4_20 = join(REPO, 'test', 'packaging', 'app-tfjs-4.20', 'node_modules', '@tensorflow');
const APP_TFJS = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu'];
const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/** True if the caret range `^M.m.p` admits `version` (the only form the manifest uses). */
function caretAdmits(range: string, version: string): boolean {
  const r = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range);
  assert.ok(r, `peer range ${range} is not of the form ^M.m.p`);
  const [M, m, p] = r.slice(1).map(Number);
  const [vM, vm, vp] = version.split('.').map(Number);
  return vM === M && (vm > m || (vm === m && vp >= p));
}

/** The warning a second tfjs-core prints when it registers the Node platform again. */
const isSecondPlatform = (warning: string) => /Platform node has already been set/.test(warning);

function runApp(app: string): TfjsAppReport {
  const out = execFileSync(process.execPath, ['main.js'], {
    cwd: app,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as TfjsAppReport;
}

describe('tfjs as a peer: an app on tfjs 4.20', () => {
  let work = '';
  let app = '';
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'decoupled-tfjs-peer-'));
    app = join(work, 'app');
    makeApp(app, packPackage(work));
    for (const name of APP_TFJS) {
      linkPackage(join(app, 'node_modules'), `@tensorflow/${name}`, join(TFJS_4_20, name));
    }
    copyFileSync(fileURLToPath(new URL('./tfjs-app.js', import.meta.url)), join(app, 'main.js'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('package.json: no tfjs in dependencies; optional peers that admit 4.20.0', () => {
    const tfjsDeps = Object.keys(manifest.dependencies ?? {}).filter((d) =>
      d.startsWith('@tensorflow/'),
    );
    assert.deepEqual(tfjsDeps, []);
    const peers = Object.entries(manifest.peerDependencies ?? {});
    assert.ok(peers.some(([name]) => name === '@tensorflow/tfjs-core'));
    for (const [name, range] of peers) {
      assert.ok(caretAdmits(range, '4.20.0'), `${name} ${range}`);
      assert.equal(manifest.peerDependenciesMeta?.[name]?.optional, true, name);
    }
  });

  test('one tfjs: save with includeOptimizer, reload and resume bit for bit', () => {
    const version = JSON.parse(readFileSync(join(TFJS_4_20, 'tfjs-core', 'package.json'), 'utf8'));
    assert.equal(version.version, '4.20.0');
    const report = runApp(app);
    assert.equal(report.error, undefined, report.error);
    assert.equal(report.tfjsCore, '4.20.0');
    assert.equal(report.registeredInAppTfjs, true);
    assert.deepEqual(report.warnings.filter(isSecondPlatform), []);
    assert.equal(report.loadedOptimizer, 'decoupled.AdamW');
    assert.equal(report.loadedIterations, 4);
    assert.equal(report.resumedBitIdentical, true);
  });

  test('control: a tfjs-core nested under decoupled (tfjs as dependencies) breaks the reload', () => {
    const nested = join(app, 'node_modules', 'decoupled', 'node_modules');
    const repoCore = realpathSync(join(REPO, 'node_modules', '@tensorflow', 'tfjs-core'));
    linkPackage(nested, '@tensorflow/tfjs-core', repoCore);
    try {
      const report = runApp(app);
      assert.equal(report.registeredInAppTfjs, false);
      assert.equal(report.warnings.filter(isSecondPlatform).length, 1, report.warnings.join('\n'));
      assert.match(report.error ?? '', /decoupled\.AdamW/);
      assert.notEqual(report.resumedBitIdentical, true);
    } finally {
      rmSync(nested, { recursive: true, force: true });
    }
  });
});
