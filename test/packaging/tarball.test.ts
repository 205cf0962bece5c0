/**
 * What `npm pack` ships (read from `npm pack --dry-run --json`, the list npm itself computes): the
 * MIT LICENSE that package.json names, every file a shipped Markdown page links to (README, docs,
 * figures, BENCHMARKS.md), every target of the exports and imports maps and the bin, and no tests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { before, describe, test } from 'node:test';
import { PACKAGE_DIR } from './packed-app.js';

const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
  license: string;
  exports: unknown;
  imports: unknown;
  bin?: Record<string, string>;
};

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

describe('the packed package', () => {
  let shipped: Set<string>;
  before(() => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json'], {
        cwd: PACKAGE_DIR,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ) as { files: { path: string }[] }[];
    shipped = new Set(packed.files.map((f) => f.path));
  });

  test('ships the MIT LICENSE that package.json names', () => {
    assert.equal(pkg.license, 'MIT');
    assert.ok(shipped.has('LICENSE'));
    const license = readFileSync(join(PACKAGE_DIR, 'LICENSE'), 'utf8');
    assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} the decoupled authors\n/);
  });

  test('every relative link of every shipped Markdown page resolves to a shipped file', () => {
    const pages = [...shipped].filter((f) => f.endsWith('.md'));
    assert.ok(pages.includes('README.md') && pages.includes('docs/tfjs.md'), pages.join(', '));
    const broken: string[] = [];
    for (const page of pages) {
      for (const link of relativeLinks(readFileSync(join(PACKAGE_DIR, page), 'utf8'))) {
        const target = posix.normalize(posix.join(dirname(page), link));
        if (!shipped.has(target)) broken.push(`${page} -> ${link}`);
      }
    }
    assert.deepEqual(broken, []);
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
      [...shipped].filter((f) => f.startsWith('dist/test') || f.startsWith('test/')),
      [],
    );
  });
});
