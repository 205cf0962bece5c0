/**
 * The written report: files, self-containedness (nothing fetched), and the page in real Chromium
 * (playwright-core + Debian's chromium): no console errors, every chart drawn, not a blank page.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { writeReport } from '../../src/report/index.js';
import { chromiumSkip, withChromium } from '../helpers/chromium.js';
import { writeSyntheticSweep } from '../helpers/report-fixture.js';

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
  ]);
  for (const f of report.figures)
    assert.match(readFileSync(f, 'utf8'), /^<svg[^>]*>[\s\S]*<\/svg>$/);
  const html = readFileSync(report.html, 'utf8');
  // Offline: no script or stylesheet is loaded, nothing points to another host.
  assert.doesNotMatch(html, /<script[^>]*\bsrc=/i);
  assert.doesNotMatch(html, /<link[^>]*stylesheet/i);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i);
  assert.equal((html.match(/<svg /g) ?? []).length, 4);
  // Text from the spec is escaped.
  assert.match(html, /synthetic &lt;report&gt; &amp; &quot;test&quot;/);
  const summary = JSON.parse(readFileSync(join(dir, 'report', 'summary.json'), 'utf8'));
  assert.equal(summary.trials.ok, 48);
  assert.equal(summary.comparisons[0].verdict, 'positive');
  assert.equal(summary.groups[0].alignment.slope, -1);
  assert.equal(summary.groups[1].alignment.slope, 0);
  assert.match(html, /ridge slope -1\.00/);

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
          assert.equal(charts.length, 4);
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
