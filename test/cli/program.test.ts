/** The `decoupled` program itself: --version, and commander's errors in the CLI's one-line style. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../../packages/harness/dist/cli/main.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

test('--version prints the version of the package.json the program belongs to', () => {
  const pkg = new URL('../../../packages/harness/package.json', import.meta.url);
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  const r = run('--version');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${version}\n`);
});

test('--version reads the package.json of wherever the program is installed', () => {
  // A copy of the compiled program in another package (its dependencies through a symlink).
  const root = mkdtempSync(join(tmpdir(), 'cli-version-'));
  cpSync(
    fileURLToPath(new URL('../../../packages/harness/dist', import.meta.url)),
    join(root, 'dist'),
    {
      recursive: true,
    },
  );
  symlinkSync(
    fileURLToPath(new URL('../../../node_modules', import.meta.url)),
    join(root, 'node_modules'),
  );
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module', version: '9.8.7' }));
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), '--version'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '9.8.7\n');
});

test("commander's usage errors are one line and exit 2", () => {
  for (const args of [['train', '--no-such-flag'], ['no-such-command'], ['train', '--model']]) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^decoupled: .* \(run with --help for usage\)$/m);
  }
});
