import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  hashPassword, verifyPassword, verifyPasswordFor, isValidPasswordHash, DUMMY_HASH, HASH_PARAMS, MAX_PASSWORD_LENGTH,
} from '../../server/auth/password-hash.js';
import { PASSWORD_HASH_RE } from '../../server/config/schema.js';

const b64 = (n: number): string => randomBytes(n).toString('base64');

describe('password-hash', () => {
  let hash: string;
  before(async () => {
    hash = await hashPassword('correct horse battery staple');
  });

  it('produces scrypt$N$r$p$salt$key with the documented parameters', () => {
    const parts = hash.split('$');
    assert.equal(parts.length, 6);
    assert.deepEqual(parts.slice(0, 4), ['scrypt', String(HASH_PARAMS.N), String(HASH_PARAMS.r), String(HASH_PARAMS.p)]);
    assert.equal(Buffer.from(parts[4]!, 'base64').length, 16);
    assert.equal(Buffer.from(parts[5]!, 'base64').length, 32);
  });

  it('produces hashes the config schema accepts', () => {
    assert.match(hash, PASSWORD_HASH_RE);
    assert.match(DUMMY_HASH, PASSWORD_HASH_RE);
    assert.ok(isValidPasswordHash(hash));
    assert.ok(isValidPasswordHash(DUMMY_HASH));
  });

  it('verifies the right password', async () => {
    assert.equal(await verifyPassword('correct horse battery staple', hash), true);
  });

  it('rejects a wrong password', async () => {
    assert.equal(await verifyPassword('correct horse battery stapl', hash), false);
    assert.equal(await verifyPassword('', hash), false);
    assert.equal(await verifyPassword('Correct horse battery staple', hash), false);
  });

  it('salts: the same password hashes differently each time, and both verify', async () => {
    const again = await hashPassword('correct horse battery staple');
    assert.notEqual(again, hash);
    assert.notEqual(again.split('$')[4], hash.split('$')[4]);
    assert.equal(await verifyPassword('correct horse battery staple', again), true);
  });

  it('treats NFC and NFD spellings of a password as the same', async () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    const h = await hashPassword(nfd);
    assert.equal(await verifyPassword(nfc, h), true);
  });

  it('refuses to hash an empty or over-long password', async () => {
    await assert.rejects(hashPassword(''), TypeError);
    await assert.rejects(hashPassword('x'.repeat(MAX_PASSWORD_LENGTH + 1)), RangeError);
  });

  it('returns false, never throws, on malformed or hostile hashes', async () => {
    const salt = b64(16);
    const key = b64(32);
    const bad = [
      '',
      'scrypt$',
      'plaintext-password',
      '$2b$10$abcdefghijklmnopqrstuu5VQ0xYQ9N0mC1x7i1m9y0pJ3o2y9yGm', // bcrypt
      `scrypt$16384$8$1$${salt}`, // no key
      `scrypt$16384$8$1$${salt}$${key}$extra`,
      `scrypt$16385$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$0$8$1$${salt}$${key}`,
      `scrypt$1073741824$8$1$${salt}$${key}`, // 2^30: would need 1 TiB
      `scrypt$131072$16$4$${salt}$${key}`, // each bound ok, product too big
      `scrypt$16384$1000$1$${salt}$${key}`, // r too big
      `scrypt$16384$8$100$${salt}$${key}`, // p too big
      `scrypt$16384$0$1$${salt}$${key}`,
      `scrypt$16384$8$1$${b64(2)}$${key}`, // salt too short
      `scrypt$16384$8$1$${salt}$${b64(4)}`, // key too short
      `scrypt$16384$8$1$${salt}$${b64(1000)}`, // key too long
      `scrypt$16384$8$1$not*base64$${key}`,
      `scrypt$-1$8$1$${salt}$${key}`,
      `scrypt$1e4$8$1$${salt}$${key}`,
    ];
    for (const h of bad) {
      assert.equal(isValidPasswordHash(h), false, h);
      assert.equal(await verifyPassword('anything', h), false, h);
    }
  });

  it('returns false for non-string input from a hostile client', async () => {
    assert.equal(await verifyPassword(undefined as unknown as string, hash), false);
    assert.equal(await verifyPassword({} as unknown as string, hash), false);
    assert.equal(await verifyPassword('x', null as unknown as string), false);
  });

  it('rejects an over-long password even if it would match', async () => {
    assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_LENGTH + 1), hash), false);
  });

  it('verifies hashes with other (bounded) parameters', async () => {
    // a hash made with N=1024,r=8,p=1 by hand, as an older or faster config might have
    const { scryptSync } = await import('node:crypto');
    const salt = randomBytes(16);
    const key = scryptSync('pw-1234', salt, 32, { N: 1024, r: 8, p: 1 });
    const h = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    assert.equal(await verifyPassword('pw-1234', h), true);
    assert.equal(await verifyPassword('pw-12345', h), false);
  });

  it('verifyPasswordFor spends a real verification on unknown users and returns false', async () => {
    assert.equal(await verifyPasswordFor('anything', undefined), false);
    assert.equal(await verifyPasswordFor('correct horse battery staple', hash), true);
    // DUMMY_HASH has the default parameters, so an unknown user costs what a known one does
    assert.deepEqual(DUMMY_HASH.split('$').slice(1, 4), [String(HASH_PARAMS.N), String(HASH_PARAMS.r), String(HASH_PARAMS.p)]);
  });
});
