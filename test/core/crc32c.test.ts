/** CRC-32C against published check values (the CRC catalogue and RFC 3720's iSCSI vectors). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c, crc32cHex } from '#decoupled/core/crc32c.js';

const ascii = (s: string) => new TextEncoder().encode(s);

test('the catalogue check value: CRC-32C("123456789") = 0xE3069283', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283);
  assert.equal(crc32cHex(ascii('123456789')), 'e3069283');
});

test('RFC 3720 (iSCSI) B.4 test vectors', () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test('the empty input has CRC 0, and a CRC continues over split input', () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
  const bytes = ascii('The quick brown fox jumps over the lazy dog');
  for (const cut of [0, 1, 9, 20, bytes.length]) {
    assert.equal(crc32c(bytes.subarray(cut), crc32c(bytes.subarray(0, cut))), crc32c(bytes));
  }
});
