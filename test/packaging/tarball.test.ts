/**
 * What `npm pack` ships for each package, `decoupled` and `decoupled-harness` (read from
 * `npm pack --dry-run --json`, the list npm itself computes): the MIT LICENSE that package.json
 * names, a README, every file a shipped Markdown page links to, every source a shipped source map
 * names, every target of the exports and imports maps and the bin, and no tests. Then the two
 * manifests against each other: the core has no runtime dependency, and the harness depends on the
 * core at exactly the version in this repository (the one it is built and tested with).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { before, describe, test } from 'node:test';
import { HARNESS_DIR, PACKAGE_DIR } from './packed-app.js';

interface Manifest {
  name: string;
  version: string;
  license: string;
  exports: unknown;
  imports?: unknown;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

const manifest = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** The string leaves of an exports/imports map (the files it can resolve to). */
function targets(map: unknown): string[] {
  if (typeof map === 'string') return [map];
  if (map && typeof map === 'object') return Object.values(map).flatMap(targets);
  return [];
}

/** Relative link targets in a Markdown text, without their #fragment. */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1].split('#')[0])
    .filter((t) => t !== '' && !/^[a-z]+:/i.test(t));
}

/** The files `npm pack` would put in the tarball of the package in `dir`. */
function packedFiles(dir: string): Set<string> {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as { files: { path: string }[] }[];
  return new Set(packed.files.map((f) => f.path));
}

for (const dir of [PACKAGE_DIR, HARNESS_DIR]) {
  const pkg = manifest(dir);

  describe(`the packed ${pkg.name}`, () => {
    let shipped: Set<string>;
    before(() => {
      shipped = packedFiles(dir);
    });

    test('ships the MIT LICENSE that package.json names', () => {
      assert.equal(pkg.license, 'MIT');
      assert.ok(shipped.has('LICENSE'));
      const license = readFileSync(join(dir, 'LICENSE'), 'utf8');
      assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} the decoupled authors\n/);
    });

    test('every relative link of every shipped Markdown page resolves to a shipped file', () => {
      const pages = [...shipped].filter((f) => f.endsWith('.md'));
      assert.ok(pages.includes('README.md'), pages.join(', '));
      const broken: string[] = [];
      for (const page of pages) {
        for (const link of relativeLinks(readFileSync(join(dir, page), 'utf8'))) {
          const target = posix.normalize(posix.join(dirname(page), link));
          if (!shipped.has(target)) broken.push(`${page} -> ${link}`);
        }
      }
      assert.deepEqual(broken, []);
    });

    test('every source a shipped source map names is shipped', () => {
      const maps = [...shipped].filter((f) => f.endsWith('.js.map'));
      assert.ok(maps.length > 0);
      const missing: string[] = [];
      for (const map of maps) {
        const { sources, sourceRoot = '' } = JSON.parse(readFileSync(join(dir, map), 'utf8')) as {
          sources: string[];
          sourceRoot?: string;
        };
        for (const source of sources) {
          const target = posix.normalize(posix.join(dirname(map), sourceRoot, source));
          if (!shipped.has(target)) missing.push(`${map} -> ${source}`);
        }
      }
      assert.deepEqual(missing, []);
    });

    test('every exports and imports target and the bin are shipped; tests are not', () => {
      const entries = [
        ...targets(pkg.exports),
        ...targets(pkg.imports),
        ...Object.values(pkg.bin ?? {}),
      ];
      const missing = entries.map((t) => posix.normalize(t)).filter((t) => !shipped.has(t));
      assert.deepEqual(missing, []);
      assert.deepEqual(
        [...shipped].filter((f) => /(^|\/)test\//.test(f) || /\.test\.[jt]s$/.test(f)),
        [],
      );
    });
  });
}

describe('the two manifests', () => {
  const core = manifest(PACKAGE_DIR);
  const harness = manifest(HARNESS_DIR);

  test('decoupled has no runtime dependencies', () => {
    assert.equal(core.name, 'decoupled');
    assert.deepEqual(Object.keys(core.dependencies ?? {}), []);
  });

  test('decoupled-harness depends on decoupled at exactly the version in this repository', () => {
    assert.equal(harness.name, 'decoupled-harness');
    assert.equal(harness.dependencies?.decoupled, core.version);
    assert.equal(harness.version, core.version);
  });
});
