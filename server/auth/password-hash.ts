// Broadcaster password hashes: scrypt from node:crypto, so no native dependency and nothing to
// build on the server.
//
// Format (one string, safe in YAML without quotes because `$` is not special there):
//   scrypt$<N>$<r>$<p>$<salt base64>$<key base64>
// Defaults: N=16384 (2^14), r=8, p=1, 16-byte salt, 32-byte key. That is ~16 MiB and ~50 ms per
// check on a small VPS: slow enough to make offline guessing expensive, fast enough that a login
// burst does not stall the daemon (scrypt runs on libuv's thread pool, not the event loop).
//
// The parameters are read back from each hash so old hashes keep working if the defaults change,
// but they are bounded: the config file is trusted, yet a hash pasted from somewhere else must not
// be able to make one login allocate gigabytes or run for minutes.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export const HASH_PARAMS = Object.freeze({ N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 });

// Bounds for parameters read from a hash. 128*N*r*p bytes is scrypt's memory use.
const MIN_N = 1024;
const MAX_N = 1 << 17;
const MAX_R = 16;
const MAX_P = 4;
const MAX_MEM_BYTES = 64 * 1024 * 1024;
const MIN_SALT_BYTES = 8;
const MAX_SALT_BYTES = 64;
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 64;
/** Longer passwords are refused: no one types them, and a hello frame can carry up to a megabyte. */
export const MAX_PASSWORD_LENGTH = 1024;

const B64 = '[A-Za-z0-9+/]+={0,2}';
const HASH_RE = new RegExp(`^scrypt\\$(\\d{1,7})\\$(\\d{1,3})\\$(\\d{1,3})\\$(${B64})\\$(${B64})$`);

/**
 * A valid hash of a random password that nobody knows, with the default parameters. Verify
 * against it when the user name is unknown so that "no such user" and "wrong password" take the
 * same time and can't be told apart. `verifyPasswordFor()` does that for you.
 */
export const DUMMY_HASH = 'scrypt$16384$8$1$Yv8o8FbiZKn7XMPdEPn/Mg==$qtTSrezreyvHDUf1m4Tp5cfe79aq2hm0FxPLrKODUY8=';

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** The parsed hash, or undefined if it is malformed or its parameters are out of bounds. */
function parseHash(hash: string): ParsedHash | undefined {
  const m = HASH_RE.exec(hash);
  if (m === null) return undefined;
  const N = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // scrypt requires N to be a power of two; checking here turns a throw deep in crypto into `false`.
  if (N < MIN_N || N > MAX_N || (N & (N - 1)) !== 0) return undefined;
  if (r < 1 || r > MAX_R || p < 1 || p > MAX_P) return undefined;
  if (128 * N * r * p > MAX_MEM_BYTES) return undefined;
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  if (salt.length < MIN_SALT_BYTES || salt.length > MAX_SALT_BYTES) return undefined;
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) return undefined;
  return { N, r, p, salt, key };
}

/** True if `hash` has the shape and bounded parameters `verifyPassword` accepts. */
export function isValidPasswordHash(hash: string): boolean {
  return parseHash(hash) !== undefined;
}

function deriveKey(password: string, salt: Buffer, keyBytes: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

// Unicode normalisation: the same password typed on macOS (often NFD) and elsewhere (NFC) must
// produce the same bytes, as RFC 8265 (OpaqueString) asks.
function normalise(password: string): string {
  return password.normalize('NFC');
}

/** Hash a password for the config's `broadcasters[].passwordHash`. Rejects empty or over-long passwords. */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password.length === 0) {
    throw new TypeError('the password must not be empty');
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  const { N, r, p, saltBytes, keyBytes } = HASH_PARAMS;
  const salt = randomBytes(saltBytes);
  const key = await deriveKey(normalise(password), salt, keyBytes, { N, r, p, maxmem: MAX_MEM_BYTES + 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Check a password against a hash in constant time. Never throws: a malformed hash, a hash with
 * out-of-bounds parameters, or a non-string password all give `false`.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (typeof password !== 'string' || typeof hash !== 'string') return false;
  const parsed = parseHash(hash);
  if (parsed === undefined) return false;
  // Still do the full scrypt for an over-long password so its rejection costs the same time.
  const tooLong = password.length > MAX_PASSWORD_LENGTH;
  const candidate = tooLong ? '' : normalise(password);
  let derived: Buffer;
  try {
    derived = await deriveKey(candidate, parsed.salt, parsed.key.length, {
      N: parsed.N, r: parsed.r, p: parsed.p, maxmem: MAX_MEM_BYTES + 1024 * 1024,
    });
  } catch {
    // parseHash bounds everything scrypt checks, so this is unreachable in practice; a login
    // failure is the safe answer, and the caller logs the failed login anyway.
    return false;
  }
  return timingSafeEqual(derived, parsed.key) && !tooLong;
}

/**
 * Verify a login where the user may not exist: with `hash` undefined (unknown user) this spends
 * the same time on DUMMY_HASH and returns false, so response time doesn't reveal valid names.
 */
export async function verifyPasswordFor(password: string, hash: string | undefined): Promise<boolean> {
  if (hash === undefined) {
    await verifyPassword(password, DUMMY_HASH);
    return false;
  }
  return verifyPassword(password, hash);
}
