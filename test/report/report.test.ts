/**
 * The written report: files, self-containedness (nothing fetched), and the page in real Chromium
 * (playwright-core + Debian's chromium): no console errors, every chart drawn, not a blank page.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { escapeHtml } from '#harness/report/html.js';
import { writeReport } from '#harness/report/index.js';
import { chromiumSkip, withChromium } from '../helpers/chromium.js';
import { PRUNED, writeClaimsSweep, writeSyntheticSweep } from '../helpers/report-fixture.js';

test('the report writes a self-contained page, one SVG per figure and the numbers', async (t) => {
  const { dir } = await writeSyntheticSweep();
  const report = await writeReport(dir);
  assert.equal(report.html, join(dir, 'report', 'index.html'));
  const files = readdirSync(join(dir, 'report', 'figures')).sort();
  assert.deepEqual(files, [
    'curves.svg',
    'curves.vl.json',
    'error-vs-loss.svg',
    'error-vs-loss.vl.json',
    'heatmap-adam-cosine.svg',
    'heatmap-adam-cosine.vl.json',
    'heatmap-adamw-cosine.svg',
    'heatmap-adamw-cosine.vl.json',
    'ridge-adam-cosine.svg',
    'ridge-adam-cosine.vl.json',
    'ridge-adamw-cosine.svg',
    'ridge-adamw-cosine.vl.json',
  ]);
  for (const f of report.figures)
    assert.match(readFileSync(f, 'utf8'), /^<svg[^>]*>[\s\S]*<\/svg>$/);
  const html = readFileSync(report.html, 'utf8');
  // Offline: no script or stylesheet is loaded, nothing points to another host.
  assert.doesNotMatch(html, /<script[^>]*\bsrc=/i);
  assert.doesNotMatch(html, /<link[^>]*stylesheet/i);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i);
  assert.equal((html.match(/<svg /g) ?? []).length, 6);
  // Text from the spec is escaped.
  assert.match(html, /synthetic &lt;report&gt; &amp; &quot;test&quot;/);
  const summary = JSON.parse(readFileSync(join(dir, 'report', 'summary.json'), 'utf8'));
  assert.equal(summary.trials.ok, 48);
  assert.equal(summary.claims.generalization.result.comparisons[0].verdict, 'positive');
  const slopes = summary.claims.separable.result.slopes;
  assert.deepEqual(
    slopes.map((s: { slope: { mean: number } }) => s.slope.mean),
    [-1, 0],
  );
  // Each verdict is on the page once, as in summary.json (and as the CLI prints it).
  for (const line of [...summary.claimFindings, ...summary.findings]) {
    assert.equal(html.split(escapeHtml(line)).length - 1, 1, line);
  }
  assert.match(html, /slope of log10\(best decay\) on log10\(lr\) -1\.00/);
  assert.doesNotMatch(html, /ridge slope|alignment/i);

  await t.test(
    'in Chromium: no console errors, charts drawn, screenshot not blank',
    {
      skip: chromiumSkip(),
    },
    async () => {
      await withChromium(
        async (context) => {
          const page = context.pages()[0] ?? (await context.newPage());
          const problems: string[] = [];
          page.on('console', (m) => {
            if (m.type() === 'error' || m.type() === 'warning')
              problems.push(`${m.type()}: ${m.text()}`);
          });
          page.on('pageerror', (e) => problems.push(String(e)));
          page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
          await page.goto(pathToFileURL(report.html).href, { waitUntil: 'load' });
          const charts = await page.$$eval('figure.chart svg', (svgs) =>
            svgs.map((s) => {
              const box = s.getBoundingClientRect();
              return {
                width: box.width,
                height: box.height,
                marks: s.querySelectorAll('path, rect, text').length,
              };
            }),
          );
          assert.equal(charts.length, 6);
          for (const c of charts) {
            assert.ok(c.width > 150 && c.height > 100, JSON.stringify(c));
            assert.ok(c.marks > 20, JSON.stringify(c));
          }
          assert.equal((await page.locator('table').count()) >= 2, true);
          // Each heading sits on its own line, above what follows it (not beside a chart).
          const headings = await page.$$eval('section > h2', (hs) =>
            hs.map((h) => ({
              text: h.textContent,
              box: h.getBoundingClientRect().toJSON(),
              nextTop: h.nextElementSibling?.getBoundingClientRect().top,
              body: document.body.getBoundingClientRect().width,
            })),
          );
          assert.ok(headings.length >= 6);
          for (const h of headings) {
            assert.ok(h.box.width > 0.9 * h.body, JSON.stringify(h));
            if (h.nextTop !== undefined) assert.ok(h.nextTop >= h.box.bottom, JSON.stringify(h));
          }
          const shot = await page.screenshot({ fullPage: true });
          // Decode the screenshot in the browser itself and measure its pixel variance.
          const stats = await page.evaluate(async (b64) => {
            const img = new Image();
            img.src = `data:image/png;base64,${b64}`;
            await img.decode();
            const canvas = document.createElement('canvas');
            canvas.width = img.width;
            canvas.height = img.height;
            const ctx = canvas.getContext('2d');
            if (!ctx) return null;
            ctx.drawImage(img, 0, 0);
            const data = ctx.getImageData(0, 0, img.width, img.height).data;
            let sum = 0;
            let sq = 0;
            let colored = 0;
            const n = data.length / 4;
            for (let i = 0; i < data.length; i += 4) {
              const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
              sum += y;
              sq += y * y;
              if (
                Math.max(data[i], data[i + 1], data[i + 2]) -
                  Math.min(data[i], data[i + 1], data[i + 2]) >
                60
              )
                colored++;
            }
            const mean = sum / n;
            return {
              variance: sq / n - mean * mean,
              coloredShare: colored / n,
              height: img.height,
            };
          }, shot.toString('base64'));
          assert.ok(stats, 'canvas 2d context');
          assert.ok(stats.height > 1500, `page height ${stats.height}`);
          assert.ok(stats.variance > 200, `pixel variance ${stats.variance}`);
          // Heatmap colours are on the page, not just black text on white.
          assert.ok(stats.coloredShare > 0.01, `coloured share ${stats.coloredShare}`);
          assert.deepEqual(problems, []);
        },
        { viewport: { width: 1200, height: 900 } },
      );
    },
  );
});

test('a sweep with one experiment per claim: the claims section, its tables and figures, in Chromium', async (t) => {
  const { dir } = await writeClaimsSweep();
  const report = await writeReport(dir);
  const ids = report.figures.map((f) => f.replace(/^.*\//, '')).sort();
  for (const id of [
    'restarts-adamw.svg',
    'ridge-adam-cosine.svg',
    'ridge-adamw-cosine.svg',
    'ridge-adamw-warm-restarts.svg',
  ]) {
    assert.ok(ids.includes(id), `${id} in ${ids}`);
  }
  const html = readFileSync(report.html, 'utf8');
  assert.match(html, /<h2>The paper&#39;s claims<\/h2>/);
  assert.match(html, /Claim: separable learning rate and decay/);
  assert.match(html, /Claim: normalized decay transfers across budgets/);
  assert.match(html, /Claim: warm restarts and anytime performance/);
  assert.doesNotMatch(html, /cannot address/);
  // The restart is marked on the curves: a dashed rule at epoch 4 in the spec.
  const spec = readFileSync(join(dir, 'report', 'figures', 'restarts-adamw.vl.json'), 'utf8');
  assert.match(spec, /"type": "rule"/);
  assert.deepEqual(JSON.parse(spec).layer[1].data.values, [{ epoch: 4, label: 'restart 4' }]);
  // The trial table lists the shorter runs too (300 trials, 5 rows of the summary's tables aside).
  assert.equal(
    JSON.parse(readFileSync(join(dir, 'report', 'summary.json'), 'utf8')).trials.total,
    300,
  );

  await t.test('renders without errors, every chart drawn', { skip: chromiumSkip() }, async () => {
    await withChromium(
      async (context) => {
        const page = context.pages()[0] ?? (await context.newPage());
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
        });
        page.on('pageerror', (e) => problems.push(String(e)));
        await page.goto(pathToFileURL(report.html).href, { waitUntil: 'load' });
        const charts = await page.$$eval('figure.chart', (figs) =>
          figs.map((f) => {
            const box = f.querySelector('svg')?.getBoundingClientRect();
            return {
              id: f.id,
              top: f.getBoundingClientRect().top,
              width: box?.width ?? 0,
              height: box?.height ?? 0,
              marks: f.querySelectorAll('svg path, svg rect, svg text, svg line').length,
            };
          }),
        );
        assert.equal(charts.length, report.figures.length);
        for (const c of charts) {
          assert.ok(c.width > 150 && c.height > 100, JSON.stringify(c));
          assert.ok(c.marks > 10, JSON.stringify(c));
        }
        // The small ridge plots sit side by side, not one per line.
        const ridges = charts.filter((c) => c.id.startsWith('ridge-'));
        assert.equal(ridges[0].top, ridges[1].top);
        // The claims come right after Setup.
        const headings = await page.$$eval('section > h2', (hs) => hs.map((h) => h.textContent));
        assert.equal(headings[1], "The paper's claims");
        assert.deepEqual(problems, []);
      },
      { viewport: { width: 1200, height: 900 } },
    );
  });
});

test('a sweep without the data for a claim says which claim and why, in one line', async () => {
  const { dir } = await writeSyntheticSweep();
  const report = await writeReport(dir);
  const html = readFileSync(report.html, 'utf8');
  const lines = html.match(/<li>[^<]*cannot address it[^<]*<\/li>/g) ?? [];
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(
    lines[0],
    /Normalized decay transfers across budgets: this sweep cannot address it: no decoupled optimizer/,
  );
  assert.match(
    lines[1],
    /Warm restarts and anytime performance: this sweep cannot address it: no optimizer ran both/,
  );
});

test('trials pruned by --prune are never a best setting, and are shown as pruned', async () => {
  const { dir: fullDir } = await writeSyntheticSweep();
  const { dir } = await writeSyntheticSweep({ prune: true });
  const report = await writeReport(dir);
  await writeReport(fullDir);
  const read = (d: string) => JSON.parse(readFileSync(join(d, 'report', 'summary.json'), 'utf8'));
  const summary = read(dir);
  const full = read(fullDir);
  assert.equal(summary.trials.pruned, PRUNED.length);
  assert.equal(summary.trials.ok, 48);
  // The pruned AdamW cell (lr 0.1, decay 0.01) has the lowest error of all at its rung; the best
  // AdamW setting is still the fixture's optimum (lr 0.01, decay 0.001), as without pruning.
  const adamw = summary.groups.find((g: { optimizer: string }) => g.optimizer === 'adamw');
  assert.deepEqual([adamw.best.lr, adamw.best.weightDecay], [1e-2, 1e-3]);
  assert.deepEqual(adamw.best.prunedAt, []);
  const [pair, fullPair] = [summary, full].map(
    (s) => s.claims.generalization.result.comparisons[0],
  );
  assert.deepEqual(pair.decoupledBest, fullPair.decoupledBest);
  assert.equal(pair.paired.n, 2);
  // No claim analysis sees a pruned error (0.01 is below every finished trial's).
  assert.deepEqual(summary.claims, full.claims);
  assert.deepEqual(summary.groups[1].ridge, full.groups[1].ridge);
  assert.match(
    summary.findings.join('\n'),
    /Successive halving \(--prune\) stopped 3 of 48 recorded trials early \(2 at epoch 1 and 1 at epoch 2\)/,
  );

  const spec = JSON.parse(
    readFileSync(join(dir, 'report', 'figures', 'heatmap-adamw-cosine.vl.json'), 'utf8'),
  );
  const cell = (lr: number, wd: number) =>
    spec.data.values.find(
      (v: { lr: number; weightDecay: number }) => v.lr === lr && v.weightDecay === wd,
    );
  assert.deepEqual(
    [cell(1e-1, 1e-2).label, cell(1e-1, 1e-2).pruned, cell(1e-1, 1e-2).n, cell(1e-1, 1e-2).rank],
    ['pruned @1', true, 0, null],
  );
  // One seed of two pruned: the cell shows the other seed's error (seed 1 = base + 0.002), marked ‡.
  const base = 0.09 + 0.01 * (Math.log10(1e-4) + 3) ** 2 + 0.005 * (Math.log10(1e-3) + 2) ** 2;
  assert.equal(cell(1e-3, 1e-4).label, `${((base + 0.002) * 100).toFixed(1)}‡`);
  assert.equal(cell(1e-3, 1e-4).n, 1);
  const svg = readFileSync(join(dir, 'report', 'figures', 'heatmap-adamw-cosine.svg'), 'utf8');
  assert.match(svg, /pruned @1/);
  assert.match(svg, /fill="#c8c8c8"/);
  const html = readFileSync(report.html, 'utf8');
  assert.equal((html.match(/<td>pruned @1<\/td>/g) ?? []).length, 2);
  assert.equal((html.match(/<td>pruned @2<\/td>/g) ?? []).length, 1);
  assert.match(html, /48 finished \(0 diverged, 3 stopped early by --prune\)/);
});
