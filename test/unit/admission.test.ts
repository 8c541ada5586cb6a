// New connections are handed to their door a few per event-loop turn (server/ingest/admission.ts),
// so a burst of them can't hold up a connection that is already in: the line itself with a
// hand-driven turn, then the listening socket (connection-router.ts) with real sockets on
// loopback, where a live connection's messages are answered between the burst's batches.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { Admission } from '../../server/ingest/admission.js';
import { ADMIT_PER_TURN, ConnectionRouter } from '../../server/ingest/connection-router.js';
import { systemClock } from '../../server/clock.js';

describe('admission: new connections a few per turn', () => {
  function line(perTurn: number, maxWaiting = 100): { a: Admission<number>; started: number[]; turn: () => void; gone: Set<number>; pending: () => number } {
    const started: number[] = [];
    const turns: (() => void)[] = [];
    const gone = new Set<number>();
    const a = new Admission<number>({ perTurn, maxWaiting, start: (n) => started.push(n), gone: (n) => gone.has(n), nextTurn: (fn) => turns.push(fn) });
    return { a, started, gone, turn: () => turns.shift()!(), pending: () => turns.length };
  }

  it('hands over at most perTurn a turn, in order, and asks for another turn while any wait', () => {
    const l = line(3);
    for (let i = 1; i <= 7; i++) assert.equal(l.a.offer(i), true);
    assert.equal(l.pending(), 1, 'one turn asked for, however many came');
    l.turn();
    assert.deepEqual(l.started, [1, 2, 3]);
    assert.equal(l.a.waiting, 4);
    l.turn();
    l.turn();
    assert.deepEqual(l.started, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(l.pending(), 0, 'nothing waits: no turn asked for');
    l.a.offer(8);
    l.turn();
    assert.deepEqual(l.started.slice(-1), [8], 'a lone newcomer goes at the next turn');
  });

  it('skips what went away while it waited, without counting it against the turn', () => {
    const l = line(2);
    for (let i = 1; i <= 5; i++) l.a.offer(i);
    l.gone.add(1).add(2).add(4);
    l.turn();
    assert.deepEqual(l.started, [3, 5]);
    assert.equal(l.a.waiting, 0);
  });

  it('is bounded: beyond maxWaiting a newcomer is refused', () => {
    const l = line(1, 3);
    assert.deepEqual([1, 2, 3, 4].map((i) => l.a.offer(i)), [true, true, true, false]);
    l.turn();
    assert.equal(l.a.offer(5), true, 'room again once one went');
  });

  it('keeps order over many turns and a long line', () => {
    const l = line(16, 10000);
    for (let i = 0; i < 5000; i++) l.a.offer(i);
    while (l.pending() > 0) l.turn();
    assert.equal(l.started.length, 5000);
    assert.ok(l.started.every((n, i) => n === i));
  });
});

/**
 * `n` connections from a process of its own, all connected before any sends its request, then
 * every request written in one go: they reach the listening socket together, as a flood's do.
 * Resolves with how many were answered 429.
 */
function burstFrom(port: number, n: number): Promise<number> {
  const script = `
    const net = require('node:net');
    const socks = [];
    let connected = 0, answered = 0, closed = 0;
    for (let i = 0; i < ${n}; i++) {
      const s = net.connect(${port}, '127.0.0.1');
      socks.push(s);
      let text = '';
      s.on('data', (d) => { text += d; });
      s.on('error', () => {});
      s.on('close', () => {
        if (text.startsWith('HTTP/1.1 429')) answered++;
        if (++closed === ${n}) { process.stdout.write(String(answered)); }
      });
      s.on('connect', () => {
        if (++connected < ${n}) return;
        for (const c of socks) c.write('POST /api/login HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}');
      });
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', () => resolve(Number(out)));
  });
}

describe('the listening socket: a burst of connections and a connection already in', () => {
  let http: Server;
  let router: ConnectionRouter;
  let port = 0;
  /** HTTP requests answered so far. */
  let answered = 0;
  const sockets: Socket[] = [];

  before(async () => {
    http = createServer((_req, res) => {
      answered++;
      res.writeHead(429, { Connection: 'close' }).end('no');
    });
    // the "live" connection: a source request whose every later byte is echoed at once
    router = new ConnectionRouter({
      http,
      source: (socket) => {
        socket.write('ok\n');
        socket.on('data', (d: Buffer) => socket.write(d));
      },
      headTimeoutMs: 10000, clock: systemClock,
    });
    port = (await router.listen({ host: '127.0.0.1', port: 0 }, 1024)).port;
  });

  after(() => {
    for (const s of sockets) s.destroy();
    router.close();
    http.close();
  });

  it('answers the live connection between batches of the burst, and every request of the burst', async () => {
    const live = connect(port, '127.0.0.1');
    sockets.push(live);
    live.write('SOURCE /live HTTP/1.0\r\n\r\n');
    await new Promise((r) => live.once('data', r));
    // ping-pong on the live connection: each echo notes how many requests were answered since the last
    const between: number[] = [];
    let last = answered;
    let burstDone = false;
    live.on('data', () => {
      between.push(answered - last);
      last = answered;
      if (!burstDone) live.write('.');
    });
    live.write('.');
    const burst = 400;
    const answers = await burstFrom(port, burst);
    burstDone = true;
    assert.equal(answers, burst, 'every request of the burst answered');
    assert.equal(answered, burst);
    const during = between.filter((n) => n > 0);
    assert.ok(during.length >= 3, `the live connection was answered during the burst (${during.join(',')})`);
    // without the line, the whole burst went in one turn: between two echoes, all of it
    const most = Math.max(...between);
    assert.ok(most <= 3 * ADMIT_PER_TURN, `at most a few batches between two answers to the live connection, got ${most} (${during.join(',')})`);
  });
});
