/**
 * What `decoupled reproduce --preset medium` leaves (test/helpers/medium-fixture.ts: the preset's
 * own four stage specs, synthetic results with known optima, diverged runs of both kinds): every
 * file loads without a warning, the run's page answers each claim once from the sweep with the
 * most evidence (the warm-restart claim from two sweeps), against closed forms, and the pages render
 * in Chromium with each verdict once and nothing missing.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { escapeHtml } from '#harness/report/html.js';
import { writeRunReport } from '#harness/report/index.js';
import { pairedDifference } from '#harness/report/stats.js';
import type { TrialResult } from '#harness/sweep/types.js';
import { chromiumSkip, withChromium } from '../helpers/chromium.js';
import { MEDIUM_ANSWERS, writeMediumRun } from '../helpers/medium-fixture.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function analyzed<T>(r: { status: 'analyzed'; result: T } | { status: 'missing'; why: string }): T {
  assert.equal(r.status, 'analyzed', JSON.stringify(r));
  return (r as { result: T }).result;
}

/** A stage's records, read straight from its results.jsonl. */
const records = (dir: string): TrialResult[] =>
  readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test('the medium run: each claim once, from the sweep with most evidence, with known answers', async (t) => {
  const { root, trials } = await writeMediumRun();
  assert.deepEqual(trials, { grid: 70, seeds: 10, budget: 70, restarts: 10 });
  const warnings: string[] = [];
  const report = await writeRunReport(root, { warn: (w) => warnings.push(w) });
  const run = report.summary;
  // The epochs axis and the runs that diverged in their first epoch load as they are.
  assert.deepEqual(warnings, []);
  const grid = run.stages.find((s) => s.dir === 'grid');
  assert.deepEqual(grid?.trials, {
    total: 70,
    ok: 70,
    diverged: 6,
    pruned: 0,
    failed: 0,
    pending: 0,
  });
  assert.deepEqual(run.from, {
    generalization: 'seeds/',
    decayEffects: 'grid/',
    separable: 'grid/',
    budget: 'budget/',
    restarts: 'restarts/',
  });

  // Generalization: 5 paired seeds at the best settings, the t interval of the per-seed gaps.
  const [gen] = analyzed(run.claims.generalization).comparisons;
  assert.deepEqual(
    [gen.decoupledBest.lr, gen.decoupledBest.weightDecay],
    [MEDIUM_ANSWERS.bestLr, MEDIUM_ANSWERS.adamwBestNorm],
  );
  const seeds = records(join(root, 'seeds'));
  const errorOf = (o: string, s: number) =>
    seeds.find((r) => r.params.optimizer === o && r.params.seed === s)?.final?.testError ?? NaN;
  const gaps = [1, 2, 3, 4, 5].map((s) => errorOf('adam', s) - errorOf('adamw', s));
  const expected = pairedDifference(gaps);
  close(gen.paired.lo, expected.lo, 1e-12, 'lo');
  close(gen.paired.hi, expected.hi, 1e-12, 'hi');
  close(gen.paired.mean, MEDIUM_ANSWERS.generalizationGap, 4e-4, 'gap');
  assert.ok(gen.paired.lo > 0);

  // Separable, one seed: Adam+L2's ridge is the closed form's argmin over the L2 grid at each lr,
  // its slope the least-squares slope with the regression interval (t(0.975, 3) from tables).
  const sep = analyzed(run.claims.separable);
  const adam = sep.slopes.find((s) => s.optimizer === 'adam');
  const adamw = sep.slopes.find((s) => s.optimizer === 'adamw');
  assert.ok(adam && adamw);
  const l2 = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];
  const argmin = (lr: number) =>
    l2.reduce((a, b) =>
      Math.abs(Math.log10(lr * b) + 5) < Math.abs(Math.log10(lr * a) + 5) ? b : a,
    );
  const lrs = adam.rows.map((r) => r.lr);
  assert.deepEqual(lrs, [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]);
  assert.deepEqual(
    adam.rows.map((r) => r.bestDecay),
    lrs.map(argmin),
  );
  const xs = lrs.map(Math.log10);
  const ys = lrs.map((lr) => Math.log10(argmin(lr)));
  const mx = xs.reduce((a, b) => a + b) / 5;
  const my = ys.reduce((a, b) => a + b) / 5;
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  const b = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx;
  const sse = xs.reduce((a, x, i) => a + (ys[i] - my - b * (x - mx)) ** 2, 0);
  const half = 3.182446305284263 * Math.sqrt(sse / 3 / sxx);
  assert.equal(adam.slope.over, 'learning rates');
  close(adam.slope.mean, b, 1e-12, 'Adam+L2 slope');
  close(adam.slope.hi, b + half, 1e-9, 'Adam+L2 hi');
  assert.ok(adam.slope.hi < 0 && adam.slope.lo < -1 && adam.slope.hi > -1);
  assert.deepEqual([adamw.slope.mean, adamw.slope.lo, adamw.slope.hi], [0, 0, 0]);

  // Budget, 5 seeds: λ_norm stays on 0.1 on every seed; raw λ shrinks by √3 on every seed, in
  // cells of the 0.03..0.1 step, so its interval (sd 0) excludes 0.
  const [budget] = analyzed(run.claims.budget);
  assert.equal(budget.norm.shift.n, 5);
  assert.equal(budget.norm.shift.mean, 0);
  close(budget.raw.shift.mean, -Math.log(Math.sqrt(3)) / Math.log(0.1 / 0.03), 1e-12, 'raw');
  assert.deepEqual([budget.norm.verdict, budget.raw.verdict], ['stays', 'moves']);

  // Restarts: restarts/'s AdamWR against its AdamW-cosine, both at lr 1e-2, λ_norm 0.1, paired by
  // seed: the t interval of the per-seed differences at the restart (epoch 2) and at the end.
  const [wr] = analyzed(run.claims.restarts);
  assert.deepEqual(wr.restartEpochs, [2]);
  const restarts = records(join(root, 'restarts'));
  const at = (schedule: string, seed: number, e: number) =>
    restarts
      .find((r) => r.params.schedule === schedule && r.params.seed === seed)
      ?.epochs.find((p) => p.epoch === e)?.testError ?? NaN;
  for (const [i, e] of [2, 6].entries()) {
    assert.equal(wr.points[i].epoch, e);
    const expected = pairedDifference(
      [1, 2, 3, 4, 5].map((s) => at('cosine', s, e) - at('warm-restarts', s, e)),
    );
    close(wr.points[i].paired.mean, expected.mean, 1e-15, `epoch ${e}`);
    close(wr.points[i].paired.lo, expected.lo, 1e-12, `epoch ${e} lo`);
  }
  close(wr.points[0].paired.mean, MEDIUM_ANSWERS.restartGain, 4e-4, 'gain at the restart');
  assert.ok(wr.points[0].paired.lo > 0, 'AdamWR lower at the restart on every seed');

  // Each verdict and finding once on the run's page; the sweeps' reports are written beside it.
  const html = readFileSync(report.html, 'utf8');
  for (const line of [...run.claimFindings, ...run.findings]) {
    assert.equal(html.split(escapeHtml(line)).length - 1, 1, line);
  }
  assert.doesNotMatch(html, /can address it/);
  for (const dir of ['grid', 'seeds', 'budget', 'restarts']) {
    assert.ok(existsSync(join(root, dir, 'report', 'index.html')), dir);
    assert.match(html, new RegExp(`href="\\.\\./${dir}/report/index\\.html"`));
  }

  await t.test('the run page and the grid page in Chromium', { skip: chromiumSkip() }, async () => {
    await withChromium(async (context) => {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      for (const file of [report.html, join(root, 'grid', 'report', 'index.html')]) {
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
        const headings = await page.$$eval('section h2', (hs) => hs.map((h) => h.textContent));
        assert.equal(new Set(headings).size, headings.length, headings.join(' | '));
        const charts = await page.$$eval('figure.chart svg', (svgs) =>
          svgs.map((s) => s.getBoundingClientRect().toJSON()),
        );
        assert.ok(charts.length > 0);
        for (const c of charts) assert.ok(c.width > 150 && c.height > 100, JSON.stringify(c));
      }
      // The run page: each claim's section, the restarts figure drawn from two sweeps' records.
      await page.goto(pathToFileURL(report.html).href, { waitUntil: 'load' });
      const headings = await page.$$eval('section h2', (hs) => hs.map((h) => h.textContent));
      assert.deepEqual(headings, [
        'Setup',
        'Sweeps',
        "The paper's claims",
        'Claim: generalization',
        'Claim: separable learning rate and decay',
        'Claim: normalized decay transfers across budgets',
        'Claim: warm restarts and anytime performance',
        'What the data shows',
      ]);
      const lines = await page.$$eval('#restarts-adamw svg path', (ps) => ps.length);
      assert.ok(lines > 2, `${lines} paths`);
      assert.deepEqual(problems, []);
    });
  });
});

test('a medium grid run with --prune: pruned runs are shown and never chosen', async () => {
  const { root } = await writeMediumRun({ prune: true });
  const report = await writeRunReport(root, { warn: () => {} });
  const full = await writeRunReport((await writeMediumRun()).root, { warn: () => {} });
  const grid = report.summary.stages.find((s) => s.dir === 'grid');
  // Adam+L2 at L2 1 and lr 1e-3, 3e-3; AdamW at λ_norm 0.001 and lr 1e-3.
  assert.equal(grid?.trials.pruned, 3);
  const [gridReport] = report.stages;
  assert.match(
    gridReport.summary.findings.join('\n'),
    /Successive halving \(--prune\) stopped 3 of 70 recorded trials early \(3 at epoch 2\)/,
  );
  // The pruned runs' 1% errors at their rung would be the best of all; no verdict sees them.
  assert.deepEqual(report.summary.claimFindings, full.summary.claimFindings);
  assert.match(report.summary.findings.join('\n'), /^grid\/: Successive halving/m);
});

test("an older medium run whose restarts/ holds AdamWR only: paired with grid/'s AdamW-cosine", async () => {
  const { root, trials } = await writeMediumRun({ restartsOnly: true });
  assert.equal(trials.restarts, 1);
  const run = (await writeRunReport(root, { warn: () => {} })).summary;
  assert.equal(run.from.restarts, 'restarts/ with the cosine runs of grid/');
  // Both at lr 1e-2, λ_norm 0.1, seed 1: the one paired difference is the two curves' gap.
  const [wr] = analyzed(run.claims.restarts);
  const pick = (rs: TrialResult[], schedule: string) =>
    rs.find(
      (r) =>
        r.params.schedule === schedule &&
        r.params.optimizer === 'adamw' &&
        r.params.lr === MEDIUM_ANSWERS.bestLr &&
        r.params.weightDecay === MEDIUM_ANSWERS.adamwBestNorm,
    );
  const cosine = pick(records(join(root, 'grid')), 'cosine');
  const restarted = pick(records(join(root, 'restarts')), 'warm-restarts');
  const at = (r: TrialResult | undefined, e: number) =>
    r?.epochs.find((p) => p.epoch === e)?.testError ?? NaN;
  for (const [i, e] of [2, 6].entries()) {
    assert.equal(wr.points[i].paired.n, 1);
    close(wr.points[i].paired.mean, at(cosine, e) - at(restarted, e), 1e-15, `epoch ${e}`);
  }
});
