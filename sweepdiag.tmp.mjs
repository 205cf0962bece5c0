import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const { createRedisRunner } = await import('./dist/src/sweep/distributed/index.js');
const { runSweep } = await import('./dist/src/sweep/run.js');
const { startRedis } = await import('./dist/test/helpers/redis.js');
const WI = new URL('./dist/src/sweep/distributed/index.js', import.meta.url).href;
const redis = await startRedis();
const root = await mkdtemp(join(tmpdir(), 'diag-'));
const spec = (tag, n) => ({ name: 'd' + tag, base: { epochs: 2, subset: 5000, testSubset: 1000, batchSize: 100, model: { kind: 'mlp', hidden: [128] } }, grid: { optimizer: ['adamw'], lr: Array.from({ length: n }, (_, i) => 1e-3 * (1 + i / 16)), weightDecay: [0.01], schedule: ['constant'], seed: [tag] } });
function workers(queue, k) {
  const code = `const { startWorker } = await import(${JSON.stringify(WI)}); const w = await startWorker({ redis: ${JSON.stringify(redis.url)}, queue: ${JSON.stringify(queue)}, concurrency: 1, log: () => {} }); process.stdout.write('ready\\n'); process.once('SIGTERM', () => w.close(true).then(() => process.exit(0)));`;
  const ps = Array.from({ length: k }, () => spawn(process.execPath, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/wprof'] : []), '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] }));
  process.once('exit', () => ps.forEach((p) => p.kill('SIGKILL')));
  return Promise.all(ps.map((p) => new Promise((r) => p.stdout.on('data', (d) => d.toString().includes('ready') && r())))).then(() => ps);
}
let tag = 1;
async function sweep(queue, n) {
  const dir = join(root, 's' + tag);
  const t = performance.now(); const e0 = Date.now();
  await runSweep({ dir, spec: spec(tag++, n), runner: createRedisRunner({ redis: redis.url, queue, pollIntervalMs: 50, log: () => {} }) });
  const ms = performance.now() - t;
  const recs = (await readFile(join(dir, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const walls = recs.map((r) => r.wallTimeMs).sort((a, b) => a - b);
  const starts = recs.map((r) => Date.parse(r.finishedAt) - r.wallTimeMs); const ends = recs.map((r) => Date.parse(r.finishedAt));
  console.log(`    first trial started +${Math.min(...starts) - e0} ms, last finished +${Math.max(...ends) - e0} ms, sweep returned +${Date.now() - e0} ms`);
  return { ms, medianTrial: walls[walls.length >> 1], workers: [...new Set(recs.map((r) => r.worker))].length };
}
const p1 = await workers('q1', 1); const p2 = await workers('q2', 2);
await sweep('q1', 20); await sweep('q2', 40);
import { readFileSync, readdirSync } from 'node:fs';
const cpuOf = (pid) => { let sum = 0; for (const t of readdirSync(`/proc/${pid}/task`)) { const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); sum += Number(f[11]) + Number(f[12]); } return sum * 10; };
const threads = (pid) => { const o = {}; for (const t of readdirSync(`/proc/${pid}/task`)) { const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); o[t + ':' + readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim()] = (Number(f[11]) + Number(f[12])) * 10; } return o; };
const redisPid = Number(readdirSync('/proc').filter((d) => /^\d+$/.test(d)).find((d) => { try { return readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('redis-server'); } catch { return false; } }));
for (let r = 0; r < 3; r++) {
  for (const [q, k, ps] of [['q1', 1, p1], ['q2', 2, p2]]) {
    const tb = threads(ps[0].pid);
    const before = ps.map((p) => cpuOf(p.pid)); const rb = cpuOf(redisPid); const cb = process.cpuUsage();
    const s = await sweep(q, 6);
    const ta = threads(ps[0].pid); const threadDelta = Object.fromEntries(Object.keys(ta).map((t) => [t, ta[t] - (tb[t] ?? 0)]).filter(([, d]) => d > 0));
    const after = ps.map((p) => cpuOf(p.pid)); const ra = cpuOf(redisPid); const cc = process.cpuUsage(cb);
    console.log('  threads', JSON.stringify(threadDelta));
    console.log(`k=${k} sweep ${s.ms.toFixed(0)} ms, median trial ${s.medianTrial} ms; worker cpu ${after.map((a, i) => a - before[i]).join(',')} ms; redis ${ra - rb} ms; coordinator ${((cc.user + cc.system) / 1000).toFixed(0)} ms`);
  }
}
await Promise.all([...p1, ...p2].map((p) => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); })));
await redis.stop();
process.exit(0);
