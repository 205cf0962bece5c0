// Draws docs/schedules.svg: eta_t of warm restarts (T0 = 10, Tmult = 2) and the normalized
// lambda_t / lambda_0 that changes at each restart. Run after `npm run build`:
//   node scripts/make_schedule_plot.mjs
import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { normalizedWeightDecayForRestarts, warmRestarts } from '#decoupled/index.js';

const stepsPerEpoch = 8;
const epochs = 150;
const eta = warmRestarts({ t0: 10 * stepsPerEpoch, tMult: 2 });
const lambda = normalizedWeightDecayForRestarts({
  lambdaNorm: 0.05,
  batchSize: 128,
  datasetSize: 50000,
  t0: 10,
  tMult: 2,
  stepsPerEpoch,
});
const values = [];
for (let t = 0; t < epochs * stepsPerEpoch; t++) {
  const epoch = t / stepsPerEpoch;
  values.push({ epoch, value: eta(t), series: 'eta_t (learning-rate and decay multiplier)' });
  values.push({
    epoch,
    value: lambda(t) / lambda(0),
    series: 'lambda_t / lambda_0 (normalized decay)',
  });
}
const spec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title: 'Warm restarts, T0 = 10 epochs, Tmult = 2: restarts at epochs 10, 30, 70',
  width: 640,
  height: 220,
  data: { values },
  mark: { type: 'line', strokeWidth: 1.5, interpolate: 'step-after' },
  encoding: {
    x: { field: 'epoch', type: 'quantitative', title: 'epoch', scale: { domain: [0, epochs] } },
    y: { field: 'value', type: 'quantitative', title: 'multiplier', scale: { domain: [0, 1] } },
    color: {
      field: 'series',
      type: 'nominal',
      title: null,
      legend: { orient: 'bottom', labelLimit: 400 },
    },
    strokeDash: { field: 'series', type: 'nominal', legend: null },
  },
};
const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
const svg = await view.toSVG();
writeFileSync(new URL('../docs/schedules.svg', import.meta.url), `${svg}\n`);
console.log(`docs/schedules.svg: ${svg.length} bytes`);
