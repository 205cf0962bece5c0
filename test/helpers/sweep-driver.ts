/** Child process for the kill test: runs a sweep with the fake executor (argv: dir, spec, module). */
import { LocalPoolRunner } from '#harness/sweep/pool.js';
import { runSweep } from '#harness/sweep/run.js';
import { parseSweepSpec } from '#harness/sweep/spec.js';

const [dir, specJson, executorModule] = process.argv.slice(2);
await runSweep({
  dir,
  spec: parseSweepSpec(JSON.parse(specJson)),
  runner: new LocalPoolRunner({ concurrency: 2, executorModule }),
});
