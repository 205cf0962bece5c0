/**
 * The pieces of the Redis link that need no server: parsing `--redis URL` (bad input names the
 * option, the value and what is allowed), the reconnection backoff min(base * 2^(n-1), cap), and
 * the job-id rule (BullMQ ids may not contain ':' nor be plain integers).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OptionError } from '#decoupled/core/errors.js';
import { checkJobId } from '#harness/sweep/distributed/jobs.js';
import { backoffDelay, parseRedisUrl } from '#harness/sweep/distributed/redis-link.js';

test('parseRedisUrl reads host, port, db, credentials and hides the password', () => {
  assert.deepEqual(parseRedisUrl('redis://10.0.0.5:6380/2'), {
    host: '10.0.0.5',
    port: 6380,
    db: 2,
    username: undefined,
    password: undefined,
    tls: false,
    display: 'redis://10.0.0.5:6380/2',
  });
  const secure = parseRedisUrl('rediss://me:s%40cret@cache.example:7000');
  assert.equal(secure.password, 's@cret');
  assert.equal(secure.username, 'me');
  assert.equal(secure.tls, true);
  assert.equal(secure.display.includes('cret'), false);
  assert.equal(parseRedisUrl('redis://localhost').port, 6379);
});

test('parseRedisUrl rejects what is not a Redis URL, naming --redis and the value', () => {
  for (const bad of ['localhost:6379', 'http://h:1', 'redis://h:1/x', 'redis://']) {
    assert.throws(
      () => parseRedisUrl(bad),
      (e: unknown) =>
        e instanceof OptionError &&
        e.option === '--redis' &&
        e.message.includes(bad) &&
        /redis:\/\/host:6379/.test(e.message),
      bad,
    );
  }
});

test('backoffDelay doubles from the base up to the cap', () => {
  const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.equal(backoffDelay(3, { baseMs: 100, capMs: 250 }), 250);
});

test('checkJobId accepts sweep trial ids and refuses what BullMQ cannot take', () => {
  assert.equal(
    checkJobId('adamw_lr0.001_wd0.05_cosine_s1_1a2b3c4d'),
    'adamw_lr0.001_wd0.05_cosine_s1_1a2b3c4d',
  );
  for (const bad of ['', 'a:b', '123']) assert.throws(() => checkJobId(bad), OptionError);
});
