// The login gate and its parts, with real scrypt (cheap parameters) and an injected clock: a guess
// counts before it is checked, one count over every door, per-account and per-pair budgets, the
// bounded fair check queue, and refusal log lines that never carry a name as typed.
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { AuthGate, type Account, type Door } from '../../server/auth/auth-gate.js';
import { CheckQueue } from '../../server/auth/check-queue.js';
import { GuessLedger } from '../../server/auth/guess-ledger.js';
import { IcewireError } from '../../server/errors.js';
import { captureLogger } from '../helpers/log-capture.js';

/** A valid hash with the smallest parameters the verifier accepts (fast). */
function cheapHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFC'), salt, 32, { N: 1024, r: 8, p: 1 });
  return `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}

const HOST = { name: 'host', password: 'host-pass-1' };
const OTHER = { name: 'other', password: 'other-pass-1' };
const ACCOUNTS: Account[] = [
  { name: HOST.name, passwordHash: cheapHash(HOST.password), mounts: ['live'] },
  { name: OTHER.name, passwordHash: cheapHash(OTHER.password), mounts: ['m8'] },
] as Account[];

interface Rig {
  gate: AuthGate;
  lines: () => { message: string; [k: string]: unknown }[];
  tick: (ms: number) => void;
  /** One login: 'ok', or the refusal's code. */
  login: (addr: string, user: string, password: string, door?: Door) => Promise<string>;
}

function rig(o: { max?: number; perAccount?: number; windowMs?: number; checks?: CheckQueue } = {}): Rig {
  let now = 1_000_000;
  const { logger, lines } = captureLogger();
  const gate = new AuthGate({
    accounts: () => ACCOUNTS,
    icecastUser: 'source',
    limits: { maxFailedLogins: o.max ?? 5, maxFailedLoginsPerAccount: o.perAccount ?? 50, failedLoginWindowMs: o.windowMs ?? 60000 },
    logger,
    now: () => now,
    ...(o.checks !== undefined ? { checks: o.checks } : {}),
  });
  const login = (addr: string, user: string, password: string, door: Door = 'websocket'): Promise<string> =>
    gate.login({ door, addr, user, password }).then(() => 'ok', (e: unknown) => (e instanceof IcewireError ? e.code : String(e)));
  return { gate, lines: lines as Rig['lines'], tick: (ms) => { now += ms; }, login };
}

function tally(results: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of results) t[r] = (t[r] ?? 0) + 1;
  return t;
}

describe('AuthGate', () => {
  it('counts a guess before its hash is checked: 40 at once from one address, 5 checked', async () => {
    const r = rig();
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => r.login('203.0.113.1', HOST.name, `guess-${i}`)));
    assert.deepEqual(tally(got), { IW_ERR_AUTH_FAILED: 5, IW_ERR_AUTH_RATE_LIMITED: 35 });
  });

  it('one count across every door: WebSocket and /api/login guesses together', async () => {
    const r = rig();
    const got = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      r.login('203.0.113.2', HOST.name, `guess-${i}`, i % 3 === 0 ? 'http-login' : i % 3 === 1 ? 'websocket' : 'icecast-source')));
    assert.deepEqual(tally(got), { IW_ERR_AUTH_FAILED: 5, IW_ERR_AUTH_RATE_LIMITED: 7 });
  });

  it('a success clears its own failures only: logging in to one\'s own account does not reset guesses at another', async () => {
    const r = rig();
    const a = '203.0.113.3';
    const seq: string[] = [];
    for (let i = 0; i < 4; i++) seq.push(await r.login(a, OTHER.name, `guess-${i}`));
    seq.push(await r.login(a, HOST.name, HOST.password));
    for (let i = 0; i < 3; i++) seq.push(await r.login(a, OTHER.name, `again-${i}`));
    assert.deepEqual(seq, [
      'IW_ERR_AUTH_FAILED', 'IW_ERR_AUTH_FAILED', 'IW_ERR_AUTH_FAILED', 'IW_ERR_AUTH_FAILED', 'ok',
      'IW_ERR_AUTH_FAILED', 'IW_ERR_AUTH_RATE_LIMITED', 'IW_ERR_AUTH_RATE_LIMITED',
    ]);
  });

  it('a success clears the same account\'s typos from that address', async () => {
    const r = rig();
    const a = '203.0.113.4';
    for (let i = 0; i < 4; i++) assert.equal(await r.login(a, HOST.name, `typo-${i}`), 'IW_ERR_AUTH_FAILED');
    assert.equal(await r.login(a, HOST.name, HOST.password), 'ok');
    // the address's budget is whole again for other names
    for (let i = 0; i < 5; i++) assert.equal(await r.login(a, 'mallory', `x-${i}`), 'IW_ERR_AUTH_FAILED');
    assert.equal(await r.login(a, 'mallory', 'x'), 'IW_ERR_AUTH_RATE_LIMITED');
  });

  it('per account: guesses from many new addresses lock the account for new addresses, not for its owner\'s', async () => {
    const r = rig({ perAccount: 6 });
    const home = '198.51.100.1';
    assert.equal(await r.login(home, HOST.name, HOST.password), 'ok');
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => r.login(`192.0.2.${i + 1}`, HOST.name, `guess-${i}`)));
    assert.deepEqual(tally(got), { IW_ERR_AUTH_FAILED: 6, IW_ERR_AUTH_RATE_LIMITED: 4 });
    assert.equal(await r.login('192.0.2.200', HOST.name, HOST.password), 'IW_ERR_AUTH_RATE_LIMITED', 'a new address, even with the password');
    assert.equal(await r.login(home, HOST.name, HOST.password), 'ok', 'the owner from where they logged in before');
    // any name locks the same way, so the lock does not tell which names exist
    const unknown = await Promise.all(Array.from({ length: 10 }, (_, i) => r.login(`192.0.3.${i + 1}`, 'nobody', `guess-${i}`)));
    assert.deepEqual(tally(unknown), { IW_ERR_AUTH_FAILED: 6, IW_ERR_AUTH_RATE_LIMITED: 4 });
  });

  it('behind a flooded shared address, an account that logged in from it before still gets in', async () => {
    const r = rig();
    const nat = '203.0.113.9';
    assert.equal(await r.login(nat, HOST.name, HOST.password), 'ok');
    await Promise.all(Array.from({ length: 30 }, (_, i) => r.login(nat, 'admin', `guess-${i}`)));
    assert.equal(await r.login(nat, 'admin', 'one-more'), 'IW_ERR_AUTH_RATE_LIMITED');
    assert.equal(await r.login(nat, OTHER.name, OTHER.password), 'IW_ERR_AUTH_RATE_LIMITED', 'a name that never logged in from there waits like the rest');
    assert.equal(await r.login(nat, HOST.name, HOST.password), 'ok');
    // the pair has a budget of its own, no larger than an address's
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => r.login(nat, HOST.name, `guess-${i}`)));
    assert.deepEqual(tally(got), { IW_ERR_AUTH_FAILED: 5, IW_ERR_AUTH_RATE_LIMITED: 3 });
  });

  it('failures expire with the window', async () => {
    const r = rig({ windowMs: 1000 });
    for (let i = 0; i < 5; i++) await r.login('203.0.113.10', HOST.name, `g${i}`);
    assert.equal(await r.login('203.0.113.10', HOST.name, HOST.password), 'IW_ERR_AUTH_RATE_LIMITED');
    r.tick(1001);
    assert.equal(await r.login('203.0.113.10', HOST.name, HOST.password), 'ok');
  });

  it('refuses with IW_ERR_AUTH_BUSY beyond the check queue, and the refused guess does not count', async () => {
    const r = rig({ max: 50, checks: new CheckQueue(1, 2) });
    const got = await Promise.all(Array.from({ length: 6 }, (_, i) => r.login('203.0.113.11', HOST.name, `g${i}`)));
    // one running, two waiting, three refused at once
    assert.deepEqual(tally(got), { IW_ERR_AUTH_FAILED: 3, IW_ERR_AUTH_BUSY: 3 });
    const counted = (r.gate as unknown as { ledger: GuessLedger }).ledger.count('address 203.0.113.11');
    assert.equal(counted, 3);
  });

  it('passthrough: a guess Icecast is judging counts; a refusal keeps counting, a withdrawal does not', () => {
    const r = rig({ max: 3 });
    const guess = (): ReturnType<AuthGate['upstreamGuess']> | string => {
      try {
        return r.gate.upstreamGuess({ door: 'websocket', addr: '203.0.113.12', user: 'source', target: '/live.mp3' });
      } catch (e) {
        return (e as IcewireError).code;
      }
    };
    const a = guess();
    const b = guess();
    const c = guess();
    assert.equal(guess(), 'IW_ERR_AUTH_RATE_LIMITED', 'three being judged');
    assert.ok(typeof a !== 'string' && typeof b !== 'string' && typeof c !== 'string');
    a.withdrawn();
    const d = guess();
    assert.ok(typeof d !== 'string', 'a withdrawn guess frees its place');
    b.refused();
    c.refused();
    d.refused();
    d.refused(); // settled once: no double count
    assert.equal(guess(), 'IW_ERR_AUTH_RATE_LIMITED');
    assert.ok(r.lines().some((l) => l.message === 'login refused by Icecast' && l.user === 'source'));
  });

  it('logs a name as typed only when it is a configured broadcaster (or Icecast\'s source user), else a keyed short hash', async () => {
    const r = rig();
    await r.login('203.0.113.13', 'hunter2-typed-into-the-user-field', 'x');
    await r.login('203.0.113.13', HOST.name, 'wrong');
    const refused = r.lines().filter((l) => l.message === 'login refused');
    assert.equal(refused.length, 2);
    const logged = refused.map((l) => String(l.user));
    assert.match(logged[0]!, /^#[A-Za-z0-9_-]{10}$/);
    assert.ok(!JSON.stringify(r.lines()).includes('hunter2'));
    assert.equal(logged[1], HOST.name);
    assert.equal(r.gate.logName('hunter2-typed-into-the-user-field'), logged[0], 'stable within the process');
    assert.equal(r.gate.logName('source'), 'source');
    assert.notEqual(rig().gate.logName('hunter2-typed-into-the-user-field'), logged[0], 'keyed per process: no dictionary can be run against the log');
  });
});

describe('CheckQueue', () => {
  /** A check that finishes when released, recording the order checks started in. */
  function harness(q: CheckQueue): { start: (addr: string, known?: boolean) => Promise<string>; started: string[]; releaseAll: () => void } {
    const started: string[] = [];
    const waiting: (() => void)[] = [];
    let n = 0;
    const start = (addr: string, known = false): Promise<string> => {
      const id = `${addr}#${n++}`;
      return q.run(addr, known, () => new Promise<string>((resolve) => {
        started.push(id);
        waiting.push(() => resolve(id));
      })).catch((e: unknown) => `refused ${(e as IcewireError).code} ${id}`);
    };
    const releaseAll = (): void => { for (const w of waiting.splice(0)) w(); };
    return { start, started, releaseAll };
  }

  async function settle(h: ReturnType<typeof harness>, until: number): Promise<void> {
    while (h.started.length < until) {
      h.releaseAll();
      await new Promise((r) => setImmediate(r));
    }
    h.releaseAll();
  }

  it('serves addresses round robin, known pairs first', async () => {
    const q = new CheckQueue(1, 20);
    const h = harness(q);
    const all = [h.start('a'), h.start('a'), h.start('a'), h.start('a'), h.start('b'), h.start('c'), h.start('b'), h.start('k', true)];
    await settle(h, 8);
    await Promise.all(all);
    assert.deepEqual(h.started, ['a#0', 'k#7', 'a#1', 'b#4', 'c#5', 'a#2', 'b#6', 'a#3']);
  });

  it('runs at most maxRunning at once', async () => {
    const q = new CheckQueue(2, 20);
    const h = harness(q);
    const all = Array.from({ length: 5 }, (_, i) => h.start(`x${i}`));
    await new Promise((r) => setImmediate(r));
    assert.equal(q.active, 2);
    assert.equal(q.waiting, 3);
    await settle(h, 5);
    await Promise.all(all);
    assert.equal(q.active, 0);
  });

  it('when full, a newcomer takes the place of the longest lane\'s newest, or is refused', async () => {
    const q = new CheckQueue(1, 3);
    const h = harness(q);
    const results = [h.start('flood'), h.start('flood'), h.start('flood'), h.start('flood')];
    // running: flood#0; waiting: flood#1..#3 (full)
    results.push(h.start('alice'));            // evicts flood#3
    results.push(h.start('bob'));              // evicts flood#2
    results.push(h.start('carol'));            // lanes flood 1, alice 1, bob 1: refused
    results.push(h.start('owner', true));      // a known pair evicts anyone's newest
    await settle(h, 4);
    const got = await Promise.all(results);
    assert.deepEqual(got, [
      'flood#0', 'refused IW_ERR_AUTH_BUSY flood#1', 'refused IW_ERR_AUTH_BUSY flood#2', 'refused IW_ERR_AUTH_BUSY flood#3',
      'alice#4', 'bob#5', 'refused IW_ERR_AUTH_BUSY carol#6', 'owner#7',
    ]);
    assert.equal(q.waiting, 0);
  });
});

type LedgerStep = ['fail', string, string?] | ['succeed', string, string] | ['tick', number] | ['count', string, number];

describe('GuessLedger (injected clock)', () => {
  const rows: { what: string; windowMs: number; steps: LedgerStep[] }[] = [
    { what: 'failures count within the window', windowMs: 1000, steps: [['fail', 'a'], ['fail', 'a'], ['count', 'a', 2], ['count', 'b', 0]] },
    { what: 'each failure expires on its own', windowMs: 1000, steps: [['fail', 'a'], ['tick', 500], ['fail', 'a'], ['tick', 500], ['count', 'a', 1], ['tick', 500], ['count', 'a', 0]] },
    { what: 'a success forgets the failures with its tag only', windowMs: 1000, steps: [['fail', 'a', 'x'], ['fail', 'a', 'y'], ['fail', 'a', 'x'], ['succeed', 'a', 'x'], ['count', 'a', 1]] },
  ];
  for (const r of rows) {
    it(r.what, () => {
      let now = 0;
      const ledger = new GuessLedger(r.windowMs, () => now);
      r.steps.forEach((step, i) => {
        switch (step[0]) {
          case 'fail': ledger.fail(ledger.add(step[1], step[2] ?? '')); break;
          case 'succeed': ledger.forget(step[1], step[2]); break;
          case 'tick': now += step[1]; break;
          case 'count': assert.equal(ledger.count(step[1]), step[2], `step ${i}: count(${step[1]}) at t=${now}`); break;
        }
      });
    });
  }

  it('a guess being checked counts however old it is; dropping it frees its place', () => {
    let now = 0;
    const ledger = new GuessLedger(1000, () => now);
    const g = ledger.add('a', '');
    now = 5000;
    assert.equal(ledger.count('a'), 1);
    ledger.drop('a', g);
    assert.equal(ledger.count('a'), 0);
    assert.equal(ledger.size, 0);
  });

  it('memory stays bounded with 20000 keys; the least recently used are forgotten', () => {
    let now = 0;
    const ledger = new GuessLedger(3600000, () => now, 10000);
    for (let i = 0; i < 20000; i++) {
      ledger.fail(ledger.add(`2001:db8::${i.toString(16)}`, ''));
      now += 1;
    }
    assert.equal(ledger.size, 10000);
    assert.equal(ledger.count(`2001:db8::${(19999).toString(16)}`), 1, 'the newest is still counted');
    assert.equal(ledger.count('2001:db8::0'), 0, 'the oldest was evicted');
  });
});
