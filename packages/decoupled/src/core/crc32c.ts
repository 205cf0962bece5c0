/**
 * CRC-32C (Castagnoli), the checksum TensorFlow's checkpoint bundles and iSCSI (RFC 3720) use:
 * reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. Table-driven,
 * one byte at a time:
 *   crc = table[(crc ^ byte) & 0xFF] ^ (crc >>> 8)
 * where table[n] is n shifted right eight times, XORing the polynomial whenever a 1 falls off.
 * Check value: crc32c("123456789") = 0xE3069283.
 */

const POLYNOMIAL = 0x82f63b78;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * The CRC-32C of `bytes` as an unsigned 32-bit integer. Pass the CRC of earlier bytes as `previous`
 * to continue it: crc32c(b, crc32c(a)) === crc32c(a followed by b).
 */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** A CRC as 8 lowercase hex digits, the form the JSON formats store. */
export function crc32cHex(bytes: Uint8Array): string {
  return crc32c(bytes).toString(16).padStart(8, '0');
}
