// An idle daemon wakes for nothing (docs/performance.md, Idle): counted, not timed. A real daemon
// in this process, no Icecast (a closed port), its timers counted as they are made and cleared.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { launcherOf, parseShebang } from '../../bench/launcher.js';
import { parseConfig } from '../../server/config/load.js';
import { createDaemon, type Daemon } from '../../server/daemon.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { captureLogger } from '../helpers/log-capture.js';

/** Repeating timers made and not cleared, with their periods (ms). */
function watchIntervals(): { live: () => number[]; restore: () => void } {
  const live = new Map<unknown, number>();
  const { setInterval: si, clearInterval: ci } = globalThis;
  globalThis.setInterval = ((fn: () => void, ms?: number, ...a: unknown[]) => {
    const t = si(fn, ms, ...a);
    live.set(t, ms ?? 0);
    return t;
  }) as typeof si;
  globalThis.clearInterval = ((t: Parameters<typeof ci>[0]) => { live.delete(t); ci(t); }) as typeof ci;
  return { live: () => [...live.values()], restore: () => { globalThis.setInterval = si; globalThis.clearInterval = ci; } };
}

/** The next turns of the event loop until cond holds (bounded: what it waits for is already under way). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
}

/** An hour: a job that rare (the recordings' retention sweep) is not what keeps an idle daemon awake. */
const RARE_MS = 3600_000;

describe('an idle daemon keeps no timer', () => {
  let daemon: Daemon;
  let port: number;
  let intervals: ReturnType<typeof watchIntervals>;
  const frequent = (): number[] => intervals.live().filter((ms) => ms < RARE_MS);

  before(async () => {
    intervals = watchIntervals();
    const config = parseConfig({ listen: { host: '127.0.0.1', port: 0 }, icecast: { url: 'http://127.0.0.1:1' } }, { env: {} });
    daemon = createDaemon(config, captureLogger().logger);
    port = (await daemon.start()).port;
  });

  after(async () => {
    await daemon.stop();
    intervals.restore();
  });

  it('after start: no repeating timer, no HTTP deadline checks, no event-loop sampling', () => {
    assert.deepEqual(frequent(), []);
    assert.equal(daemon.checkingHttpDeadlines, false);
    assert.equal(daemon.metrics.eventLoopSampling.active, false);
    // what a live broadcast does (registry: holdWhileLive): prom-client's histogram was caught and turns on
    const release = daemon.metrics.eventLoopSampling.hold();
    assert.equal(daemon.metrics.eventLoopSampling.active, true);
    release();
    assert.equal(daemon.metrics.eventLoopSampling.active, false);
  });

  it('an HTTP connection: head deadlines are checked while it is open, and stop with it', async () => {
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await until(() => daemon.checkingHttpDeadlines, 'the checks start with the connection');
    sock.destroy();
    await until(() => !daemon.checkingHttpDeadlines, 'the checks stop when it closes');
    assert.deepEqual(frequent(), []);
  });

  it('/healthz and /metrics answer on demand and leave no timer behind', async () => {
    for (const path of ['/healthz', '/metrics']) {
      await new Promise<void>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path, agent: false }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject).end();
      });
    }
    await until(() => !daemon.checkingHttpDeadlines, 'no HTTP connection left');
    assert.deepEqual(frequent(), []);
  });

  it('a WebSocket: its heartbeat runs while it is open, and stops with it', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/live`, 'webcast');
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    await until(() => frequent().length === 1, 'one heartbeat timer while the socket is open');
    ws.close();
    await new Promise((r) => ws.once('close', r));
    await until(() => frequent().length === 0, 'no timer once it closed');
  });
});

describe('what an idle daemon loads', () => {
  it('no fluent-ffmpeg, no fetch (undici), no prom-client, no zod, no transliteration tables after start and a /healthz; the first /metrics loads prom-client and lists every metric', () => {
    // a fresh process: this one has loaded everything the other tests needed
    const script = `
      import { createRequire } from 'node:module';
      const { parseConfig } = await import(${JSON.stringify(`${PACKAGE_ROOT}/dist/server/config/load.js`)});
      const { createDaemon } = await import(${JSON.stringify(`${PACKAGE_ROOT}/dist/server/daemon.js`)});
      const { createLogger } = await import(${JSON.stringify(`${PACKAGE_ROOT}/dist/server/log.js`)});
      const d = createDaemon(parseConfig({ listen: { host: '127.0.0.1', port: 0 }, icecast: { url: 'http://127.0.0.1:1' } }, { env: {} }), createLogger({ level: 'error' }));
      const { port } = await d.start();
      const http = await import('node:http');
      await new Promise((r) => http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => { res.resume(); res.on('end', r); }));
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('node_modules')).map((f) => f.split('node_modules/')[1].split('/')[0]);
      const { transliterationLoaded } = await import(${JSON.stringify(`${PACKAGE_ROOT}/dist/server/icecast/title-text.js`)});
      const titleTables = transliterationLoaded();
      // zod (either build) sets this global when it loads; the config check lends it and takes it back
      const zod = '__zod_globalConfig' in globalThis || Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('node_modules/zod/'));
      const builtins = process.moduleLoadList.filter((m) => m.includes('undici'));
      const get = (path) => new Promise((r) => http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => { let b = ''; res.setEncoding('utf8'); res.on('data', (c) => { b += c; }); res.on('end', () => r(b)); }));
      const scrape = await get('/metrics');
      const promAfter = Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('node_modules/prom-client/'));
      process.stdout.write(JSON.stringify({ packages: [...new Set(loaded)], builtins, promAfter, scrape, titleTables, zod }));
      await d.stop();
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 30000 })) as { packages: string[]; builtins: string[]; promAfter: boolean; scrape: string; titleTables: boolean; zod: boolean };
    assert.ok(out.packages.includes('express'), `the CJS packages loaded are listed (${out.packages.join(' ')})`);
    assert.ok(!out.packages.includes('fluent-ffmpeg'), 'fluent-ffmpeg is loaded with the first ffmpeg');
    assert.deepEqual(out.builtins, [], 'Icecast is asked with node:http, not fetch()');
    assert.ok(!out.packages.includes('prom-client') && !out.packages.includes('@opentelemetry'), 'prom-client is loaded with the first count or scrape');
    assert.ok(out.promAfter, 'the first /metrics loaded it');
    assert.equal(out.zod, false, 'zod is lent for the config check only (and loaded with the first guest frame)');
    assert.equal(out.titleTables, false, 'the transliteration tables are loaded with the first title that needs them');
    for (const name of ['icewire_broadcasts_started_total', 'icewire_errors_total', 'icewire_broadcasts_live', 'icewire_icecast_up', 'icewire_process_nodejs_eventloop_lag_seconds']) {
      assert.match(out.scrape, new RegExp(`^# TYPE ${name} `, 'm'), `the first scrape lists ${name}`);
    }
  });
});

describe('the launcher: the flags of main.js\'s #! line', () => {
  it('reads variables and node flags from `env -S`; a plain `env node` has none', () => {
    assert.deepEqual(parseShebang('#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2'), { nodeArgs: ['--max-semi-space-size=2'], env: { MALLOC_ARENA_MAX: '2' } });
    assert.deepEqual(parseShebang('#!/usr/bin/env node'), { nodeArgs: [], env: {} });
  });

  it('the built daemon is launched with them (what the bench and an installed icewire run)', () => {
    const line = readFileSync(join(PACKAGE_ROOT, 'dist', 'server', 'main.js'), 'utf8').split('\n', 1)[0]!;
    assert.match(line, /^#!\/usr\/bin\/env -S /);
    assert.deepEqual(launcherOf(join(PACKAGE_ROOT, 'dist', 'server', 'main.js')), parseShebang(line));
  });
});
