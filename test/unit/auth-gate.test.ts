// The login gate and its parts, with real scrypt (cheap parameters) and an injected clock: a guess
// counts before it is checked, one count over every door, per-account and per-pair budgets, the
// bounded fair check queue, and refusal log lines that never carry a name as typed.
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { AuthGate, LOGIN_WAIT_MS, type Account, type Door, type UpstreamGuess } from '../../server/auth/auth-gate.js';
import { CheckQueue } from '../../server/auth/check-queue.js';
import { GuessLedger, MAX_WAITING_PER_KEY } from '../../server/auth/guess-ledger.js';
import { REPEAT_LOG_MS } from '../../server/auth/repeated-lines.js';
import { IcewireError } from '../../server/errors.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
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

function rig(o: { max?: number; perAccount?: number; windowMs?: number; checks?: CheckQueue; clock?: FakeClock } = {}): Rig {
  let now = 1_000_000;
  const { logger, lines } = captureLogger();
  const gate = new AuthGate({
    accounts: () => ACCOUNTS,
    icecastUser: 'source',
    limits: { maxFailedLogins: o.max ?? 5, maxFailedLoginsPerAccount: o.perAccount ?? 50, failedLoginWindowMs: o.windowMs ?? 60000 },
    logger,
    now: o.clock !== undefined ? () => o.clock!.now() : () => now,
    ...(o.clock !== undefined ? { timers: o.clock } : {}),
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

  it('passthrough: a guess Icecast is judging counts; one over the limit waits for it; a refusal keeps counting, a withdrawal does not', async () => {
    const r = rig({ max: 3 });
    const guess = (): Promise<UpstreamGuess | string> =>
      r.gate.upstreamGuess({ door: 'websocket', addr: '203.0.113.12', user: 'source', target: '/live.mp3' }).catch((e: unknown) => (e as IcewireError).code);
    const [a, b, c] = await Promise.all([guess(), guess(), guess()]);
    assert.ok(typeof a !== 'string' && typeof b !== 'string' && typeof c !== 'string');
    // three being judged: the fourth waits for one of them
    let waited: UpstreamGuess | string | undefined;
    const fourth = guess().then((g) => { waited = g; return g; });
    await settle();
    assert.equal(waited, undefined, 'waits while three are being judged');
    a.withdrawn();
    const d = await fourth;
    assert.ok(typeof d !== 'string', 'a withdrawn guess frees its place');
    b.refused();
    c.refused();
    d.refused();
    d.refused(); // settled once: no double count
    assert.equal(await guess(), 'IW_ERR_AUTH_RATE_LIMITED');
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

  it('concurrent right passwords from one address all get in: over the allowance they wait for the checks under way, not refused', async () => {
    const r = rig();
    const doors: Door[] = ['http-login', 'websocket', 'icecast-source'];
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => r.login('203.0.113.30', HOST.name, HOST.password, doors[i % 3])));
    assert.deepEqual(tally(got), { ok: 8 });
    const ledger = (r.gate as unknown as { ledger: GuessLedger }).ledger;
    assert.equal(ledger.count('address 203.0.113.30'), 0, 'successes leave nothing counted');
    assert.equal(ledger.waiting, 0);
  });

  it('concurrent wrong passwords from one address: 5 checked, the ones that waited are refused once those failed', async () => {
    const r = rig();
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => r.login('203.0.113.31', HOST.name, `guess-${i}`, i % 2 === 0 ? 'http-login' : 'websocket')));
    assert.deepEqual(tally(got), { IW_ERR_AUTH_FAILED: 5, IW_ERR_AUTH_RATE_LIMITED: 3 });
    const failed = r.lines().filter((l) => l.message === 'login refused' && l.code === 'IW_ERR_AUTH_FAILED');
    assert.equal(failed.length, 5, 'five passwords checked, by the log');
  });

  it('right passwords and guesses at another account at once from one address: the right ones all get in, the guesses only up to the limit', async () => {
    const r = rig();
    const tries = ['w', 'w', 'w', 'w', 'r', 'r', 'w', 'r', 'w', 'r'];
    const got = await Promise.all(tries.map((t, i) => (t === 'r' ? r.login('203.0.113.32', HOST.name, HOST.password) : r.login('203.0.113.32', OTHER.name, `guess-${i}`))));
    // the later right ones go in as a known pair once the first succeeded
    assert.deepEqual(got.filter((_, i) => tries[i] === 'r'), ['ok', 'ok', 'ok', 'ok']);
    assert.deepEqual(tally(got.filter((_, i) => tries[i] === 'w')), { IW_ERR_AUTH_FAILED: 5, IW_ERR_AUTH_RATE_LIMITED: 1 });
  });

  it('a guess waits at most LOGIN_WAIT_MS for the checks under way, then is refused with a Retry-After', async () => {
    const clock = new FakeClock();
    const r = rig({ max: 2, clock });
    const pt = (): Promise<UpstreamGuess | IcewireError> =>
      r.gate.upstreamGuess({ door: 'websocket', addr: '203.0.113.33', user: 'source', target: '/live.mp3' }).catch((e: unknown) => e as IcewireError);
    const held = await Promise.all([pt(), pt()]);
    const third: { got?: UpstreamGuess | IcewireError } = {};
    void pt().then((g) => { third.got = g; });
    await clock.advance(LOGIN_WAIT_MS - 1);
    assert.ok(third.got === undefined, 'still waiting');
    await clock.advance(1);
    const refused = third.got as UpstreamGuess | IcewireError | undefined;
    assert.ok(refused instanceof IcewireError && refused.code === 'IW_ERR_AUTH_RATE_LIMITED');
    assert.ok((refused.retryAfterS ?? 0) >= 1);
    assert.equal((r.gate as unknown as { ledger: GuessLedger }).ledger.waiting, 0, 'nothing left waiting');
    for (const g of held) if (!(g instanceof IcewireError)) g.withdrawn();
  });

  it('the line of guesses waiting for one address is bounded: beyond it, refused at once', async () => {
    const clock = new FakeClock();
    const r = rig({ max: 1, clock });
    const pt = (): Promise<UpstreamGuess | string> =>
      r.gate.upstreamGuess({ door: 'websocket', addr: '203.0.113.34', user: 'source', target: '/live.mp3' }).catch((e: unknown) => (e as IcewireError).code);
    const first = await pt();
    const waiting = Array.from({ length: MAX_WAITING_PER_KEY }, pt);
    assert.equal(await pt(), 'IW_ERR_AUTH_RATE_LIMITED', 'the line is full');
    // the one being judged fails: the address is over its limit, and the whole line hears so
    assert.ok(typeof first !== 'string');
    first.refused();
    assert.deepEqual(tally((await Promise.all(waiting)).map(String)), { IW_ERR_AUTH_RATE_LIMITED: MAX_WAITING_PER_KEY });
    assert.equal((r.gate as unknown as { ledger: GuessLedger }).ledger.waiting, 0);
  });

  it('a refusal over the failure limit says when to try again: when the oldest failure leaves the window', async () => {
    const clock = new FakeClock();
    const r = rig({ max: 2, windowMs: 60000, clock });
    await r.login('203.0.113.35', HOST.name, 'a');
    await clock.advance(20000);
    await r.login('203.0.113.35', HOST.name, 'b');
    const err = await r.gate.login({ door: 'http-login', addr: '203.0.113.35', user: HOST.name, password: HOST.password }).then(() => undefined, (e: unknown) => e as IcewireError);
    assert.equal(err?.code, 'IW_ERR_AUTH_RATE_LIMITED');
    assert.equal(err?.retryAfterS, 40);
  });

  it('refusals that check no password are logged once per door, code and address, then as one line with a count', async () => {
    const clock = new FakeClock();
    const r = rig({ max: 1, clock });
    const a = '203.0.113.36';
    assert.equal(await r.login(a, HOST.name, 'wrong'), 'IW_ERR_AUTH_FAILED');
    for (let i = 0; i < 50; i++) await r.login(a, HOST.name, `again-${i}`, i % 2 === 0 ? 'http-login' : 'websocket');
    await r.login('203.0.113.37', HOST.name, 'wrong');
    await r.login('203.0.113.37', HOST.name, 'again');
    const refused = (): string[] => r.lines().filter((l) => l.message === 'login refused').map((l) => `${String(l.door)} ${String(l.code)} ${String(l.addr)}`);
    assert.deepEqual(refused(), [
      `websocket IW_ERR_AUTH_FAILED ${a}`, `http-login IW_ERR_AUTH_RATE_LIMITED ${a}`, `websocket IW_ERR_AUTH_RATE_LIMITED ${a}`,
      'websocket IW_ERR_AUTH_FAILED 203.0.113.37', 'websocket IW_ERR_AUTH_RATE_LIMITED 203.0.113.37',
    ]);
    await clock.advance(REPEAT_LOG_MS);
    const repeated = r.lines().filter((l) => l.message === 'repeated login refusals').map((l) => `${String(l.door)} ${String(l.code)} ${String(l.addr)} +${String(l.more)}`);
    assert.deepEqual(repeated, [`http-login IW_ERR_AUTH_RATE_LIMITED ${a} +24`, `websocket IW_ERR_AUTH_RATE_LIMITED ${a} +24`]);
    // a new period: the next refusal is logged as it happens
    await r.login(a, HOST.name, 'later');
    assert.equal(refused().length, 6);
    assert.ok(!JSON.stringify(r.lines()).includes('again-'), 'no password in any line');
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

  it('a guess waiting for room is woken when one under its key is settled, or when its time is up', async () => {
    const clock = new FakeClock();
    const ledger = new GuessLedger(60000, () => clock.now(), { timers: clock, maxWaitingPerKey: 2, maxWaitingTotal: 3 });
    const g = ledger.add('a', '');
    const woken: boolean[] = [];
    void ledger.whenSettled(['a'], 1000).then((x) => woken.push(x));
    void ledger.whenSettled(['a', 'b'], 1000).then((x) => woken.push(x));
    assert.equal(ledger.waiting, 2);
    assert.equal(ledger.canWait(['a']), false, 'two wait under a');
    assert.equal(ledger.canWait(['b']), true);
    ledger.fail(g);
    await settle();
    assert.deepEqual(woken, [true, true], 'a failure settles a guess: both look again');
    ledger.fail(g);
    void ledger.whenSettled(['b'], 1000).then((x) => woken.push(x));
    await clock.advance(999);
    assert.equal(woken.length, 2);
    await clock.advance(1);
    assert.deepEqual(woken, [true, true, false]);
    assert.equal(ledger.waiting, 0);
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  it('failures and guesses being checked are told apart', () => {
    let now = 0;
    const ledger = new GuessLedger(1000, () => now);
    const g = ledger.add('a', '');
    ledger.fail(ledger.add('a', ''));
    assert.equal(ledger.count('a'), 2);
    assert.equal(ledger.failures('a'), 1);
    now = 400;
    assert.equal(ledger.msUntilFailureExpires('a'), 600);
    ledger.drop('a', g);
    assert.equal(ledger.count('a'), 1);
  });
});
