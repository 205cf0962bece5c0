#!/usr/bin/env node
/**
 * Splits this repository into npm workspaces as docs/packaging.md plans: `decoupled` (core,
 * kernels, tfjs adapter; packages/decoupled) and `decoupled-harness` (experiments, sweeps, report,
 * cli; packages/harness). Run it once, on a clean work tree, after the refactors of src/ landed:
 *
 *   1. git mv of the directories, committed alone (rename detection carries others' edits over);
 *   2. import specifiers rewritten: harness -> core through package names, tests/benchmarks/scripts
 *      through the root's `#decoupled/*` and `#harness/*` imports (one copy of every module);
 *   3. the package.json files, tsconfigs, biome.json and .gitignore written.
 *
 * Step 2 stops on a cross-package import it cannot map. Steps 2-3 are left uncommitted for review;
 * then `npm install && npm run build && npm test`, and the short list printed at the end (package
 * READMEs and docs: writing, not rewriting).
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORE_DIR = 'packages/decoupled';
const HARNESS_DIR = 'packages/harness';
const CORE_PARTS = ['index.ts', 'core', 'kernels', 'tfjs'];
const HARNESS_PARTS = ['experiments', 'sweep', 'report', 'cli'];
const FIXTURE_APP = 'test/packaging/app-tfjs-4.20';

/** What the harness imported by path from the core, and the public entry that exports it. */
const CORE_ENTRY = {
  'index.js': 'decoupled',
  'core/errors.js': 'decoupled',
  'core/types.js': 'decoupled',
  'core/schedules.js': 'decoupled',
  'core/normalized-decay.js': 'decoupled',
  'core/validate.js': 'decoupled/validate',
  'core/crc32c.js': 'decoupled',
  'core/restarts.js': 'decoupled',
  'core/restart-periods.js': 'decoupled',
  'core/timescale.js': 'decoupled',
  'tfjs/training-kernels/threads-node.js': 'decoupled/tfjs',
  'tfjs/index.js': 'decoupled/tfjs',
  'tfjs/training-kernels/index.js': 'decoupled/tfjs',
};

const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' });
const readJson = (path) => JSON.parse(readFileSync(join(root, path), 'utf8'));
const writeJson = (path, value) =>
  writeFileSync(join(root, path), `${JSON.stringify(value, null, 2)}\n`);
const toPosix = (path) => path.split(sep).join('/');
const manual = [];

function moveDirectories() {
  const moved = git('log', '-1', '--format=%s').startsWith('workspaces: move src/');
  if (moved) return; // a rerun after the move commit: go on with the rewrite
  if (git('status', '--porcelain').trim() !== '') throw new Error('the work tree is not clean');
  if (existsSync(join(root, 'packages'))) throw new Error('packages/ exists: already split?');
  for (const [dir, parts] of [
    [CORE_DIR, CORE_PARTS],
    [HARNESS_DIR, HARNESS_PARTS],
  ]) {
    mkdirSync(join(root, dir, 'src'), { recursive: true });
    for (const part of parts) git('mv', `src/${part}`, `${dir}/src/${part}`);
  }
  git('commit', '-q', '-m', 'workspaces: move src/ into packages/decoupled and packages/harness');
}

function tsFiles(dir) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.includes('node_modules') && !f.includes('generated'))
    .map((f) => join(abs, f))
    .filter((f) => statSync(f).isFile());
}

/**
 * Rewrites every relative specifier of `file`, which stood at `oldFile` before the move, with
 * `map(target)`: target is the path, relative to the root, that the specifier named before the
 * move (e.g. 'src/core/errors.js'); null keeps the specifier.
 */
function rewriteSpecifiers(file, oldFile, map) {
  const text = readFileSync(file, 'utf8');
  const pattern = /((?:from|import)\s*\(?\s*)'(\.{1,2}\/[^']+)'/g;
  const next = text.replace(pattern, (whole, head, spec) => {
    const target = toPosix(relative(root, resolve(dirname(oldFile), spec)));
    const mapped = map(target, spec);
    return mapped === null ? whole : `${head}'${mapped}'`;
  });
  const final = next.replace(/new URL\('(\.{1,2}\/[^']*)', import\.meta\.url\)/g, (whole, spec) => {
    const moved = builtUrl(file, spec);
    return moved === null ? whole : `new URL('${moved}', import.meta.url)`;
  });
  if (final !== text) writeFileSync(file, final);
}

/**
 * A `new URL(spec, import.meta.url)` of a test or benchmark, evaluated where the file is compiled
 * (dist/<its path>.js), that reached the built src (dist/src/<part>/...): the same file in its
 * package's dist. Null if it does not point into dist/src.
 */
function builtUrl(file, spec) {
  const compiledDir = join(root, 'dist', dirname(relative(root, file)));
  const target = toPosix(relative(join(root, 'dist'), resolve(compiledDir, spec)));
  if (target !== 'src' && !target.startsWith('src/')) return null;
  const rest = target.slice('src/'.length);
  const part = rest.split('/')[0];
  const pkg = HARNESS_PARTS.includes(part) ? HARNESS_DIR : CORE_DIR;
  const moved = toPosix(relative(compiledDir, join(root, pkg, 'dist', rest)));
  return spec.endsWith('/') ? `${moved}/` : moved;
}

/** 'src/<part>/<rest>' -> [part, rest], or null. */
function splitOld(target) {
  const m = /^src\/([^/]+)\/(.*)$/.exec(target);
  return m ? [m[1], m[2]] : null;
}

function rewriteImports() {
  const unmapped = [];
  const harnessSrc = join(root, HARNESS_DIR, 'src');
  for (const file of tsFiles(`${HARNESS_DIR}/src`)) {
    const oldFile = join(root, 'src', relative(harnessSrc, file));
    rewriteSpecifiers(file, oldFile, (target, spec) => {
      const old = splitOld(target);
      if (target !== 'src/index.js' && !(old && CORE_PARTS.includes(old[0]))) return null;
      const entry = CORE_ENTRY[target.slice('src/'.length)];
      if (!entry) unmapped.push(`${relative(root, file)}: ${spec}`);
      return entry ?? null;
    });
  }
  if (unmapped.length > 0) {
    throw new Error(`harness imports with no public core entry:\n  ${unmapped.join('\n  ')}`);
  }
  const toPackages = (target) => {
    if (target === 'src/index.js') return 'decoupled';
    const old = splitOld(target);
    if (old && CORE_PARTS.includes(old[0])) return `#decoupled/${old[0]}/${old[1]}`;
    if (old && HARNESS_PARTS.includes(old[0])) return `#harness/${old[0]}/${old[1]}`;
    return null;
  };
  for (const dir of ['test', 'bench', 'scripts']) {
    for (const file of tsFiles(dir)) {
      rewriteSpecifiers(file, file, toPackages);
      replaceIn(
        file,
        /'decoupled\/(experiments|sweep|distributed|report)'/g,
        "'decoupled-harness/$1'",
      );
    }
  }
  replaceIn(
    join(root, 'test/packaging/packed-app.ts'),
    /^export const PACKAGE_DIR = REPO;$/m,
    `export const PACKAGE_DIR = join(REPO, '${CORE_DIR}');`,
  );
  replaceIn(
    join(root, 'scripts/build-kernels.mjs'),
    /'src\/kernels\//g,
    `'${CORE_DIR}/src/kernels/`,
  );
  listOldSrcPaths();
}

/** Paths into the old src/ built another way (join(here, '..', 'src', ...)), for a hand edit. */
function listOldSrcPaths() {
  for (const dir of ['test', 'bench', 'scripts']) {
    for (const file of tsFiles(dir)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/'src'|'(\.\.\/)+src\//.test(line) && !/^\s*(\/\/|\*|\/\*)/.test(line)) {
            manual.push(
              `${relative(root, file)}:${i + 1}: a path into the old src/: ${line.trim()}`,
            );
          }
        });
    }
  }
}

function replaceIn(file, pattern, replacement) {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(pattern, replacement);
  if (next !== text) writeFileSync(file, next);
}

/** `./dist/src/x` -> `./dist/x` in every string leaf of an exports/imports map. */
function rebase(map) {
  if (typeof map === 'string') return map.replace('./dist/src/', './dist/');
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, rebase(v)]));
}

function writeManifests() {
  const rootPkg = readJson('package.json');
  const tfjsVersions = Object.fromEntries(
    Object.entries(rootPkg.devDependencies).filter(([name]) =>
      ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu', 'tfjs-backend-wasm'].some(
        (n) => name === `@tensorflow/${n}`,
      ),
    ),
  );
  const common = {
    version: rootPkg.version,
    license: rootPkg.license,
    type: 'module',
    engines: rootPkg.engines,
  };
  const { '.': main, './tfjs': tfjs } = rootPkg.exports;
  writeJson(`${CORE_DIR}/package.json`, {
    name: 'decoupled',
    description:
      'Decoupled weight decay optimizers (AdamW, SGDW, warm restarts, normalized decay) for TypeScript and TensorFlow.js.',
    ...common,
    main: './dist/index.js',
    types: './dist/index.d.ts',
    imports: rebase(rootPkg.imports),
    exports: {
      '.': rebase(main),
      './tfjs': rebase(tfjs),
      './validate': { types: './dist/core/validate.d.ts', default: './dist/core/validate.js' },
      './package.json': './package.json',
    },
    files: ['dist', 'README.md', 'LICENSE'],
    peerDependencies: {
      '@tensorflow/tfjs-core': rootPkg.peerDependencies['@tensorflow/tfjs-core'],
    },
    peerDependenciesMeta: { '@tensorflow/tfjs-core': { optional: true } },
  });
  const harnessExports = Object.fromEntries(
    ['./experiments', './sweep', './distributed', './report'].map((k) => [
      k,
      rebase(rootPkg.exports[k]),
    ]),
  );
  writeJson(`${HARNESS_DIR}/package.json`, {
    name: 'decoupled-harness',
    description:
      'The experiment harness of decoupled: training runs, sweeps (local and on Redis), the HTML report and the `decoupled` command.',
    ...common,
    bin: { decoupled: './dist/cli/main.js' },
    exports: { ...harnessExports, './package.json': './package.json' },
    files: ['dist', 'README.md', 'LICENSE'],
    dependencies: { decoupled: rootPkg.version, ...rootPkg.dependencies, ...tfjsVersions },
  });
  const compilerOptions = readJson('tsconfig.json').compilerOptions;
  const packageTsconfig = (references) => ({
    compilerOptions: { ...compilerOptions, composite: true, rootDir: 'src', outDir: 'dist' },
    include: ['src/**/*.ts'],
    exclude: ['src/kernels/assembly'],
    references,
  });
  writeJson(`${CORE_DIR}/tsconfig.json`, packageTsconfig([]));
  writeJson(`${HARNESS_DIR}/tsconfig.json`, packageTsconfig([{ path: '../decoupled' }]));
  writeJson('tsconfig.json', {
    compilerOptions,
    include: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    exclude: [`${FIXTURE_APP}/node_modules`],
    references: [{ path: CORE_DIR }, { path: HARNESS_DIR }],
  });
  for (const key of [
    'main',
    'types',
    'exports',
    'bin',
    'files',
    'dependencies',
    'peerDependencies',
    'peerDependenciesMeta',
  ]) {
    delete rootPkg[key];
  }
  writeJson('package.json', {
    ...rootPkg,
    name: 'decoupled-workspace',
    private: true,
    workspaces: [CORE_DIR, HARNESS_DIR, FIXTURE_APP],
    imports: { '#decoupled/*': `./${CORE_DIR}/dist/*`, '#harness/*': `./${HARNESS_DIR}/dist/*` },
    scripts: {
      ...rootPkg.scripts,
      build: 'npm run build:kernels && tsc -b',
      demo: `npm run build && node ${HARNESS_DIR}/dist/cli/main.js reproduce --preset quick`,
    },
  });
  const biome = readJson('biome.json');
  biome.files.includes = biome.files.includes.map((p) =>
    p.replace(/^(!?)src\//, '$1packages/*/src/'),
  );
  writeJson('biome.json', biome);
  writeFileSync(
    join(root, '.gitignore'),
    `${readFileSync(join(root, '.gitignore'), 'utf8')}*.tsbuildinfo\n`,
  );
  for (const dir of [CORE_DIR, HARNESS_DIR])
    copyFileSync(join(root, 'LICENSE'), join(root, dir, 'LICENSE'));
  manual.push(
    'packages/*/README.md: each package its README; the root README and docs/ stay the',
    '  repository guide, and links from a package README must resolve inside the package',
    '  (test/packaging/tarball.test.ts checks it) or name the repository',
    'README.md, docs/: decoupled/experiments etc. are now decoupled-harness/...; the layout',
    'src/core/validate.ts: its doc comment names it the harness entry (decoupled/validate)',
  );
}

moveDirectories();
rewriteImports();
writeManifests();
process.stdout.write(`split-workspaces: done; by hand:\n  ${manual.join('\n  ')}\n`);
