// `npm run bench`: icewire and a bare Node + ffmpeg relay (bench/baseline-server.ts) side by side,
// at the same moment, into the same Icecast, fed the same browser-recorded stream.
//
// Per scenario (N streams of one kind):
//   1. a fresh daemon (`node dist/server/main.js serve --config <generated>`, accounts mode, one
//      station mount per stream) and a fresh baseline server, each its own process tree;
//   2. per stream and side: webcast hello, wait for "live" and for the mount on Icecast, connect a
//      listener, then replay the recording chunk by chunk at the recorded pace (streams staggered
//      over one chunk interval);
//   3. CPU (utime+stime) and PSS of both trees sampled every second from /proc;
//   4. afterwards, per listener: first audio, steady-state delay and validity (analyze.ts).
// Every wait is bounded; the whole run stops by itself (--timeout).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, setPriority, tmpdir, cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startIcecast, freePort, type ManagedIcecast } from '../server/icecast/managed-icecast.js';
import { hashPassword } from '../server/auth/password-hash.js';
import { EVENT_LOOP_SAMPLE_MS } from '../server/metrics.js';
import { analyseSource, analyseStream, LATE_S, type Container, type SourceSide, type StreamFigures } from './analyze.js';
import { parseMp3, parseOggOpus, parseWebm, sourcePackets, type TimedChunk } from './capture-parse.js';
import { profileMarkdown, summarizeProfile, type ProfileSummary } from './cpuprofile.js';
import { heapMarkdown, summarizeHeapSnapshot, type HeapSummary } from './heap-summary.js';
import { runIdle, type IdleResult } from './idle.js';
import { launcherOf } from './launcher.js';
import { TimedListener } from './listener.js';
import { parseOptions, USAGE, type Options, type Scenario } from './options.js';
import { cpuPercent, machineTicks, pssBreakdownKb, schedstat, snapshots, type TreeSnapshot } from './proc-stats.js';
import { recording, type Recording } from './record.js';
import { writeReport, consoleTable, idleTable, type RunResult, type ScenarioResult, type SideResult } from './report.js';
import { median, quantile } from './signal.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const log = (s: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`); };
type SideName = 'icewire' | 'baseline';

/** Child processes this run started (only these are ever killed). */
const children = new Set<ChildProcess>();

/** Children inherit the load generator's raised priority: give them the default one. */
function normal(pid: number | undefined): void {
  if (pid === undefined) return;
  try { setPriority(pid, 0); } catch { /* gone, or not allowed */ }
}

function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

async function waitExit(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  await Promise.race([new Promise((r) => c.once('exit', r)), sleep(ms)]);
}

async function stopChild(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await waitExit(c, ms);
  if (c.exitCode === null && c.signalCode === null) {
    c.kill('SIGKILL');
    await waitExit(c, 2000);
  }
  children.delete(c);
}

// ---- Icecast mount watcher: one /admin/listmounts request at a time serves every waiter --------

class MountWatcher {
  private waiters = new Map<string, (() => void)[]>();
  private running = false;
  constructor(private readonly icecast: ManagedIcecast) {}

  async list(): Promise<string[]> {
    const res = await fetch(`${this.icecast.url}/admin/listmounts`, {
      headers: { Authorization: `Basic ${Buffer.from(`admin:${this.icecast.adminPassword}`).toString('base64')}` },
      signal: AbortSignal.timeout(5000),
    });
    return [...(await res.text()).matchAll(/<source mount="([^"]+)"/g)].map((m) => m[1]!);
  }

  wait(mount: string, ms: number): Promise<boolean> {
    return new Promise((resolveWait) => {
      const t = setTimeout(() => resolveWait(false), ms);
      const list = this.waiters.get(mount) ?? [];
      list.push(() => { clearTimeout(t); resolveWait(true); });
      this.waiters.set(mount, list);
      void this.loop();
    });
  }

  private async loop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const stopAt = performance.now() + 120000;
    while (this.waiters.size > 0 && performance.now() < stopAt) {
      try {
        for (const m of await this.list()) {
          const w = this.waiters.get(m);
          if (w !== undefined) { this.waiters.delete(m); for (const f of w) f(); }
        }
      } catch { /* retry */ }
      await sleep(50);
    }
    this.running = false;
  }

  async waitGone(prefixes: readonly string[], ms: number): Promise<string[]> {
    const deadline = performance.now() + ms;
    let left: string[] = [];
    while (performance.now() < deadline) {
      try {
        left = (await this.list()).filter((m) => prefixes.some((p) => m.startsWith(p)));
        if (left.length === 0) return [];
      } catch { /* retry */ }
      await sleep(200);
    }
    return left;
  }
}

// ---- one broadcaster connection + its listener ------------------------------------------------

interface StreamRun {
  readonly side: SideName;
  readonly i: number;
  readonly mount: string;
  ws: WebSocket | undefined;
  liveMs: number | undefined;
  /** The latest `shedMs` of the daemon's status frames (late audio dropped to stay live). */
  shedMs: number;
  error: string | undefined;
  listener: TimedListener | undefined;
  readonly sendTimes: (number | undefined)[];
}

interface SideDef {
  readonly side: SideName;
  wsUrl(i: number): string;
  mount(i: number): string;
  hello(i: number): Record<string, unknown>;
}

async function setupStream(def: SideDef, i: number, icecastUrl: string, mounts: MountWatcher, listenUntil: number, listen: boolean): Promise<StreamRun> {
  const run: StreamRun = { side: def.side, i, mount: def.mount(i), ws: undefined, liveMs: undefined, shedMs: 0, error: undefined, listener: undefined, sendTimes: [] };
  const t0 = performance.now();
  try {
    const ws = new WebSocket(def.wsUrl(i), ['webcast'], { perMessageDeflate: false });
    run.ws = ws;
    ws.on('error', () => {});
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('no live status within 30 s')), 30000);
      ws.once('open', () => ws.send(JSON.stringify({ type: 'hello', data: def.hello(i) })));
      ws.on('message', (d, bin) => {
        if (bin) return;
        try {
          const m = JSON.parse(d.toString()) as { type: string; data?: { state?: string; code?: string; message?: string; shedMs?: number } };
          if (m.type === 'status' && typeof m.data?.shedMs === 'number') run.shedMs = m.data.shedMs;
          if (m.type === 'status' && m.data?.state === 'live') { clearTimeout(timer); res(); }
          if (m.type === 'error') { clearTimeout(timer); rej(new Error(`${m.data?.code}: ${m.data?.message}`)); }
        } catch { /* not ours */ }
      });
      ws.once('close', (code, reason) => { clearTimeout(timer); rej(new Error(`closed ${code} ${reason.toString()}`)); });
    });
    run.liveMs = performance.now() - t0;
    if (!(await mounts.wait(run.mount, 15000))) throw new Error(`mount ${run.mount} did not appear on Icecast`);
    if (!listen) return run;
    run.listener = new TimedListener(`${icecastUrl}${run.mount}`, listenUntil);
    if (run.mount.endsWith('.webm')) {
      // Icecast answers a WebM listener only once the stream's first Cluster is there (and may
      // drop it: the listener retries), so connected = request sent.
      await Promise.race([run.listener.requested, sleep(10000)]);
    } else {
      const status = await Promise.race([run.listener.connected, sleep(10000).then(() => -1)]);
      if (status !== 200) throw new Error(`listener got HTTP ${status}`);
    }
  } catch (err) {
    run.error = (err as Error).message;
  }
  return run;
}

/** One login (POST /api/login) for every stream of the scenario: its token, or a thrown error the run reports. */
async function loginToken(port: number, password: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'bench', password }),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: unknown; error?: { message?: string } };
  if (!res.ok || typeof body.token !== 'string') throw new Error(`bench login refused: HTTP ${res.status} ${body.error?.message ?? ''}`);
  return body.token;
}

async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k]!);
    }
  }));
  return out;
}

// ---- the daemon's own view (its Prometheus /metrics, prom-client default metrics) ---------------

interface DaemonMetrics { lagP99: number; lagMax: number; gcSeconds: number; shedSeconds: number }

/** prom-client resets its event-loop histogram on every scrape: a scrape at the start of a window makes the next one cover just that window. */
async function scrapeDaemon(port: number): Promise<DaemonMetrics | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const one = (name: string): number => {
      const m = new RegExp(`^\\w*${name} ([0-9.eE+-]+)$`, 'm').exec(text);
      return m !== null ? Number(m[1]) : NaN;
    };
    let gc = 0;
    for (const m of text.matchAll(/^\w*nodejs_gc_duration_seconds_sum\{[^}]*\} ([0-9.eE+-]+)$/gm)) gc += Number(m[1]);
    let shed = 0;
    for (const m of text.matchAll(/^icewire_audio_shed_seconds_total\{[^}]*\} ([0-9.eE+-]+)$/gm)) shed += Number(m[1]);
    // each sample is the time between two ticks of EVENT_LOOP_SAMPLE_MS: the lag is what is over it
    const period = EVENT_LOOP_SAMPLE_MS / 1000;
    return { lagP99: one('nodejs_eventloop_lag_p99_seconds') - period, lagMax: one('nodejs_eventloop_lag_max_seconds') - period, gcSeconds: gc, shedSeconds: shed };
  } catch {
    return undefined;
  }
}

// ---- processes --------------------------------------------------------------------------------

/** Extra node flags for the daemon (BENCH_DAEMON_NODE_ARGS), to try V8 settings. */
const DAEMON_NODE_ARGS = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

async function startDaemon(o: { main: string; dir: string; port: number; icecast: ManagedIcecast; sc: Scenario; hash: string; profile: boolean; heap: boolean }): Promise<ChildProcess> {
  const mounts: Record<string, unknown> = {};
  for (let i = 1; i <= o.sc.n; i++) {
    const r = o.sc.format === 'ogg' ? { mount: `/s${i}.ogg`, format: 'ogg-opus' }
      : o.sc.format === 'mp3' ? { mount: `/s${i}.mp3`, format: 'mp3', bitrate: 128 } : { mount: `/s${i}.webm`, format: 'webm' };
    mounts[`s${i}`] = { name: `bench s${i}`, renditions: [r] };
  }
  const config = {
    listen: { host: '127.0.0.1', port: o.port },
    icecast: { url: o.icecast.url, sourcePassword: o.icecast.sourcePassword },
    auth: { mode: 'accounts' },
    broadcasters: [{ name: 'bench', passwordHash: o.hash, mounts: Object.keys(mounts) }],
    mounts,
    limits: { maxBroadcasts: Math.max(100, o.sc.n), maxConnectionsPerAddress: Math.max(1000, o.sc.n + 100), idleTimeoutMs: 60000 },
    log: { level: 'info' },
  };
  const cfgPath = join(o.dir, 'icewire.yaml');
  writeFileSync(cfgPath, JSON.stringify(config, null, 1), { mode: 0o600 });
  // the flags and environment its launcher (main.js's #! line) gives it when installed
  const launcher = launcherOf(o.main);
  const nodeArgs = [
    ...launcher.nodeArgs,
    ...DAEMON_NODE_ARGS,
    ...(o.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(o.dir, 'cpuprofile')}`] : []),
    ...(o.heap ? ['--heapsnapshot-signal=SIGUSR2'] : []),
    o.main, 'serve', '--config', cfgPath,
  ];
  // The log goes straight into a file: through a pipe, every line woke this load generator (at
  // nice -10, it preempts the daemon at once) and cost the daemon a wait for the CPU per line on
  // a saturated machine. A station logs to journald, which runs at the default priority.
  const logFd = openSync(join(o.dir, 'daemon.log'), 'a');
  const child = spawn(process.execPath, nodeArgs, { cwd: o.dir, stdio: ['ignore', logFd, logFd], env: { ...process.env, ...launcher.env } });
  closeSync(logFd);
  normal(child.pid);
  children.add(child);
  const deadline = performance.now() + 20000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the daemon exited at start (code ${child.exitCode}); see ${join(o.dir, 'daemon.log')}`);
    try {
      await fetch(`http://127.0.0.1:${o.port}/healthz`, { signal: AbortSignal.timeout(2000) });
      return child;
    } catch { await sleep(100); }
  }
  throw new Error('the daemon did not answer /healthz within 20 s');
}

async function startBaseline(o: { dir: string; icecast: ManagedIcecast }): Promise<{ child: ChildProcess; port: number }> {
  const errFd = openSync(join(o.dir, 'baseline.log'), 'a');
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/baseline-server.js')], {
    cwd: o.dir,
    stdio: ['ignore', 'pipe', errFd],
    env: { ...process.env, BASELINE_ICECAST_URL: o.icecast.url, BASELINE_SOURCE_PASSWORD: o.icecast.sourcePassword, BASELINE_PORT: '0' },
  });
  closeSync(errFd);
  normal(child.pid);
  children.add(child);
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error('baseline server did not start within 10 s')), 10000);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening (\d+)/.exec(buf);
      if (m !== null) { clearTimeout(t); res(Number(m[1])); }
    });
    child.once('exit', (code) => { clearTimeout(t); rej(new Error(`baseline server exited (${code})`)); });
  });
  return { child, port };
}

// ---- one scenario -------------------------------------------------------------------------------

interface Sample { t: number; trees: TreeSnapshot[]; machine: ReturnType<typeof machineTicks> }

const EXT = { ogg: 'ogg', mp3: 'mp3', webm: 'webm' } as const;
const CODECS = { ogg: ['opus'], mp3: ['mp3'], webm: ['opus', 'vp8'] };

async function runScenario(sc: Scenario, ctx: { main: string; opts: Options; icecast: ManagedIcecast; mounts: MountWatcher; rec: Recording; src: SourceSide; hash: string; password: string; outDir: string }): Promise<ScenarioResult> {
  const { opts, icecast, mounts, rec } = ctx;
  const dir = join(ctx.outDir, sc.id);
  mkdirSync(dir, { recursive: true });
  const want = new Set(opts.sides);
  if (sc.icewireOnly) want.delete('baseline');
  const loadBefore = loadavg()[0]!;
  log(`${sc.id}: ${sc.label}, ${opts.sides.join(' + ')}, ${rec.chunks.length} chunks over ${(rec.chunks[rec.chunks.length - 1]!.t / 1000).toFixed(1)} s (load ${loadBefore.toFixed(2)})`);

  const daemonPort = await freePort();
  const daemon = want.has('icewire') ? await startDaemon({ main: ctx.main, dir, port: daemonPort, icecast, sc, hash: ctx.hash, profile: opts.profile, heap: opts.heap }) : undefined;
  const baseline = want.has('baseline') ? await startBaseline({ dir, icecast }) : undefined;
  const roots = [daemon?.pid ?? -1, baseline?.child.pid ?? -1, icecast.pid ?? -1];
  // idle: after start-up settles, over 3 s (CPU ticks are 10 ms: short windows are coarse)
  await sleep(3000);
  const idleA = snapshots(roots, true);
  await sleep(3000);
  const idleB = snapshots(roots, true);
  const idlePss = (idx: number): number | undefined => {
    const a = idleA[idx]!.pssKb;
    const b = idleB[idx]!.pssKb;
    return a !== undefined && b !== undefined && idleB[idx]!.processes > 0 ? (a + b) / 2 / 1024 : undefined;
  };

  const defs: SideDef[] = [];
  if (daemon !== undefined) {
    // Logged in once, as the page does (POST /api/login, then its token in each hello): the
    // scenarios measure streaming; a thousand password checks at once are a login storm, which
    // the hostile suite measures (docs/performance.md, "Password checks and the launcher").
    const token = await loginToken(daemonPort, ctx.password);
    defs.push({
      side: 'icewire',
      wsUrl: (i) => `ws://127.0.0.1:${daemonPort}/ws/s${i}`,
      mount: (i) => `/s${i}.${EXT[sc.format]}`,
      hello: () => ({ mime: rec.mime, user: 'bench', token }),
    });
  }
  if (baseline !== undefined) {
    defs.push({
      side: 'baseline',
      wsUrl: (i) => `ws://127.0.0.1:${baseline.port}/ws/b${i}.${EXT[sc.format]}`,
      mount: (i) => `/b${i}.${EXT[sc.format]}`,
      hello: () => ({ mime: rec.mime }),
    });
  }
  const durationMs = rec.chunks[rec.chunks.length - 1]!.t;
  const setupStart = performance.now();
  const listenUntil = setupStart + 120000 + durationMs;
  const tasks: { def: SideDef; i: number }[] = [];
  for (let i = 1; i <= sc.n; i++) for (const def of defs) tasks.push({ def, i });
  const runs = await pool(tasks, opts.setupConcurrency, (t) => setupStream(t.def, t.i, icecast.url, mounts, listenUntil, (t.i - 1) % sc.listenEvery === 0));
  const setupS = (performance.now() - setupStart) / 1000;
  const failed = runs.filter((r) => r.error !== undefined);
  log(`${sc.id}: ${runs.length - failed.length}/${runs.length} streams ready in ${setupS.toFixed(1)} s${failed.length > 0 ? `; first failure: ${failed[0]!.side} #${failed[0]!.i}: ${failed[0]!.error}` : ''}`);

  // Replay: stream i starts (i-1)/N of a chunk interval late, the same on both sides.
  const chunks = rec.chunks.map((c) => rec.data.subarray(c.offset, c.offset + c.length));
  const T0 = performance.now() + 1000;
  const interval = durationMs / Math.max(1, rec.chunks.length - 1);
  const events: { at: number; run: StreamRun; c: number }[] = [];
  for (const r of runs) {
    if (r.error !== undefined) continue;
    const phase = ((r.i - 1) / sc.n) * interval;
    rec.chunks.forEach((c, k) => events.push({ at: T0 + phase + c.t, run: r, c: k }));
  }
  events.sort((a, b) => a.at - b.at || (a.run.side < b.run.side ? -1 : 1));

  const samples: Sample[] = [];
  let tick = 0;
  const sampler = setInterval(() => {
    samples.push({ t: performance.now(), trees: snapshots(roots, tick++ % 2 === 0), machine: machineTicks() });
  }, 1000);
  let benchCpuAt: { t: number; cpu: NodeJS.CpuUsage } | undefined;
  let profileFromUs = 0;
  let metricsAtStart: DaemonMetrics | undefined;
  let schedAtStart: (ReturnType<typeof schedstat>)[] = [];
  let breakdown: { icewire: ReturnType<typeof pssBreakdownKb> | undefined; baseline: ReturnType<typeof pssBreakdownKb> | undefined } | undefined;
  const winStartAt = T0 + opts.warmupS * 1000;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const midAt = T0 + durationMs / 2;
  const hardEnd = T0 + durationMs + 30000;
  let k = 0;
  while (k < events.length && performance.now() < hardEnd) {
    const now = performance.now();
    while (k < events.length && events[k]!.at <= now) {
      const e = events[k++]!;
      const ws = e.run.ws;
      if (ws !== undefined && ws.readyState === WebSocket.OPEN) {
        e.run.sendTimes[e.c] = performance.now();
        ws.send(chunks[e.c]!);
      }
    }
    if (benchCpuAt === undefined && now >= winStartAt) {
      benchCpuAt = { t: now, cpu: process.cpuUsage() };
      profileFromUs = Number(process.hrtime.bigint() / 1000n);
      schedAtStart = roots.slice(0, 2).map((p) => (p > 0 ? schedstat(p) : undefined));
      if (daemon !== undefined) void scrapeDaemon(daemonPort).then((m) => { metricsAtStart = m; });
    }
    if (breakdown === undefined && now >= midAt - 1000) {
      breakdown = { icewire: daemon?.pid !== undefined ? pssBreakdownKb(daemon.pid) : undefined, baseline: baseline?.child.pid !== undefined ? pssBreakdownKb(baseline.child.pid) : undefined };
    }
    if (k < events.length) await sleep(Math.max(0, Math.min(50, events[k]!.at - performance.now())));
  }
  const lastSend = performance.now();
  const profileToUs = Number(process.hrtime.bigint() / 1000n);
  const schedAtEnd = roots.slice(0, 2).map((p) => (p > 0 ? schedstat(p) : undefined));
  const schedWindowS = benchCpuAt !== undefined ? (performance.now() - benchCpuAt.t) / 1000 : NaN;
  /** ms per second the node main thread was runnable but waited for a CPU */
  const runQueueWait = (idx: number): number => {
    const a = schedAtStart[idx];
    const b = schedAtEnd[idx];
    return a !== undefined && b !== undefined ? (b.waitNs - a.waitNs) / 1e6 / schedWindowS : NaN;
  };
  loop.disable();
  const metricsAtEnd = daemon !== undefined ? await scrapeDaemon(daemonPort) : undefined;
  const benchCpu = benchCpuAt !== undefined ? (() => {
    const u = process.cpuUsage(benchCpuAt.cpu);
    return ((u.user + u.system) / 1000 / (lastSend - benchCpuAt.t)) * 100;
  })() : NaN;
  // the tail reaches the listeners (shorter than the daemon's 2.5 s input-gap silence fill)
  await sleep(2000);
  clearInterval(sampler);
  if (opts.heap && daemon !== undefined) {
    // after the measured window, while every broadcast is still on: the snapshot stalls the daemon
    daemon.kill('SIGUSR2');
    const until = performance.now() + 30000;
    let lastSize = -1;
    while (performance.now() < until) {
      await sleep(500);
      const f = readdirSync(dir).find((x) => x.endsWith('.heapsnapshot'));
      const size = f !== undefined ? statSync(join(dir, f)).size : -1;
      if (size > 0 && size === lastSize) break;
      lastSize = size;
    }
  }

  for (const r of runs) if (r.ws !== undefined && r.ws.readyState === WebSocket.OPEN) r.ws.close(1000);
  await Promise.race([Promise.all(runs.map((r) => r.listener?.ended)), sleep(8000)]);
  for (const r of runs) { r.listener?.stop(); r.ws?.terminate(); }
  const logDir = dir;
  const daemonStopT = performance.now();
  if (daemon !== undefined) await stopChild(daemon, 12000);
  const daemonStopS = (performance.now() - daemonStopT) / 1000;
  if (baseline !== undefined) await stopChild(baseline.child, 5000);
  const left = await mounts.waitGone(['/s', '/b'], 10000);
  if (left.length > 0) log(`${sc.id}: mounts still on Icecast after the run: ${left.slice(0, 5).join(' ')}`);

  // ---- figures ----
  const winStart = T0 + opts.warmupS * 1000;
  const inWin = samples.filter((s) => s.t >= winStart && s.t <= lastSend);
  const first = inWin[0];
  const last = inWin[inWin.length - 1];
  const cpuOf = (idx: number, kernelOnly = false): number | undefined => (first !== undefined && last !== undefined && last !== first ? cpuPercent(first.trees[idx]!, last.trees[idx]!, kernelOnly) : undefined);
  const pssOf = (idx: number): number | undefined => {
    const v = inWin.map((s) => s.trees[idx]!.pssKb).filter((x): x is number => x !== undefined);
    return v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length / 1024 : undefined;
  };
  const machineBusy = first !== undefined && last !== undefined && last !== first
    ? ((last.machine.busy - first.machine.busy) / (last.machine.total - first.machine.total)) * 100 : undefined;
  const steal = first !== undefined && last !== undefined && last !== first
    ? ((last.machine.steal - first.machine.steal) / (last.machine.total - first.machine.total)) * 100 : NaN;
  const cpuWait = first !== undefined && last !== undefined && last !== first
    ? ((last.machine.cpuWaitUs - first.machine.cpuWaitUs) / 1000 / (last.t - first.t)) * 100 : NaN;

  let profile: ProfileSummary | undefined;
  if (opts.profile && daemon !== undefined) {
    const pdir = join(dir, 'cpuprofile');
    const f = existsSync(pdir) ? readdirSync(pdir).filter((x) => x.endsWith('.cpuprofile')) : [];
    if (f.length > 0) {
      // both processes read the same monotonic clock: keep the steady window only
      profile = summarizeProfile(join(pdir, f[0]!), 25, { fromUs: profileFromUs, toUs: profileToUs });
      writeFileSync(join(dir, 'cpuprofile-summary.md'), profileMarkdown(profile, `icewire daemon, ${sc.label}`));
    } else log(`${sc.id}: no .cpuprofile was written`);
  }
  let heap: HeapSummary | undefined;
  if (opts.heap && daemon !== undefined) {
    const f = readdirSync(dir).filter((x) => x.endsWith('.heapsnapshot'));
    if (f.length > 0) {
      heap = summarizeHeapSnapshot(join(dir, f[0]!));
      writeFileSync(join(dir, 'heap-summary.md'), heapMarkdown(heap, `icewire daemon heap, ${sc.label}`));
    } else log(`${sc.id}: no heap snapshot was written`);
  }

  log(`${sc.id}: analysing ${runs.length} listener captures…`);
  const figures = await pool(runs, 2, async (r): Promise<StreamFigures | undefined> => {
    if (r.error !== undefined || r.listener === undefined) return undefined;
    const parseAny = (c: readonly TimedChunk[]): number | undefined => (sc.format === 'ogg' ? parseOggOpus(c) : sc.format === 'mp3' ? parseMp3(c) : parseWebm(c)).firstAudio;
    const firsts = r.listener.attempts.map((a) => parseAny(a.chunks)).filter((x): x is number => x !== undefined);
    return analyseStream(ctx.src, {
      container: sc.format as Container,
      expectedCodecs: CODECS[sc.format],
      capture: r.listener.best.chunks,
      firstAudioOverride: firsts.length > 0 ? Math.min(...firsts) : undefined,
      sendTimes: r.sendTimes,
      warmupMs: opts.warmupS * 1000,
      extra: { attempts: r.listener.attempts.map((a) => ({ startedAt: a.startedAt, status: a.status, bytes: a.bytes, firstData: a.chunks[0]?.t ?? null })) },
    }, join(dir, 'captures'), `${r.side}-${r.i}`);
  });

  const sideResult = (side: SideName, idx: number): SideResult | undefined => {
    if (!want.has(side)) return undefined;
    const mine = runs.map((r, k) => ({ r, f: figures[k] })).filter((x) => x.r.side === side);
    const ok = mine.filter((x) => x.f !== undefined);
    const firstAudio = ok.map((x) => x.f!.firstAudio).filter((v): v is number => v !== undefined);
    const delayMedians = ok.map((x) => x.f!.delayMedian).filter((v): v is number => v !== undefined);
    const pooled = ok.flatMap((x) => x.f!.delays);
    const cpu = cpuOf(idx);
    const pssLoaded = pssOf(idx);
    const pssIdle = idlePss(idx);
    const invalid = ok.filter((x) => !x.f!.valid).map((x) => `#${x.r.i}: ${x.f!.why}`);
    const errors = mine.filter((x) => x.r.error !== undefined).map((x) => `#${x.r.i}: ${x.r.error}`);
    const matchRs = ok.map((x) => x.f!.matchR).filter((v): v is number => v !== undefined);
    return {
      side,
      n: sc.n,
      ready: mine.length - errors.length,
      listened: mine.filter((x) => x.r.listener !== undefined).length,
      shedMs: mine.reduce((n, x) => n + x.r.shedMs, 0),
      shedStreams: mine.filter((x) => x.r.shedMs > 0).length,
      liveMsMedian: median(mine.map((x) => x.r.liveMs).filter((v): v is number => v !== undefined)),
      firstAudioMedian: median(firstAudio),
      firstAudioP95: quantile(firstAudio, 0.95),
      firstAudioMax: firstAudio.length > 0 ? Math.max(...firstAudio) : NaN,
      firstAudioCount: firstAudio.length,
      delayMedian: median(delayMedians),
      delayP95: quantile(pooled, 0.95),
      delayMean: pooled.length > 0 ? pooled.reduce((a, b) => a + b, 0) / pooled.length : NaN,
      lateShare: pooled.length > 0 ? pooled.filter((d) => d > LATE_S).length / pooled.length : NaN,
      delayMaxMedian: delayMedians.length > 0 ? Math.max(...delayMedians) : NaN,
      delayStreams: delayMedians.length,
      matchRMin: matchRs.length > 0 ? Math.min(...matchRs) : NaN,
      valid: ok.filter((x) => x.f!.valid).length,
      cpuPercent: cpu ?? NaN,
      cpuIdlePercent: cpuPercent(idleA[idx]!, idleB[idx]!),
      cpuKernelPercent: cpuOf(idx, true) ?? NaN,
      runQueueWaitMsPerS: runQueueWait(idx),
      cpuRootPercent: first !== undefined && last !== undefined && last !== first && roots[idx]! > 0 ? cpuPercent(first.trees[idx]!, last.trees[idx]!, false, roots[idx]!) : NaN,
      ...(breakdown?.[side] !== undefined ? { rootPssMb: { file: breakdown[side]!.file / 1024, heap: breakdown[side]!.heap / 1024, anon: breakdown[side]!.anon / 1024 } } : {}),
      cpuPerStream: cpu !== undefined ? cpu / sc.n : NaN,
      pssIdleMb: pssIdle ?? NaN,
      pssLoadedMb: pssLoaded ?? NaN,
      pssPerStreamMb: pssLoaded !== undefined ? pssLoaded / sc.n : NaN,
      pssMarginalMb: pssLoaded !== undefined && pssIdle !== undefined ? (pssLoaded - pssIdle) / sc.n : NaN,
      processes: last?.trees[idx]?.processes ?? 0,
      problems: [...errors, ...invalid].slice(0, 5),
      ...(side === 'icewire' ? { stopSeconds: daemonStopS } : {}),
      ...(side === 'icewire' && metricsAtEnd !== undefined ? {
        daemonLoopP99Ms: metricsAtEnd.lagP99 * 1000,
        daemonLoopMaxMs: metricsAtEnd.lagMax * 1000,
        daemonGcMs: metricsAtStart !== undefined ? (metricsAtEnd.gcSeconds - metricsAtStart.gcSeconds) * 1000 : NaN,
        shedMetricS: metricsAtEnd.shedSeconds,
      } : {}),
      ...(side === 'icewire' && profile !== undefined ? { profile } : {}),
      ...(side === 'icewire' && heap !== undefined ? { heap } : {}),
    };
  };
  const result: ScenarioResult = {
    scenario: sc,
    icewire: sideResult('icewire', 0),
    baseline: sideResult('baseline', 1),
    icecastCpuPercent: cpuOf(2) ?? NaN,
    machineBusyPercent: machineBusy ?? NaN,
    stealPercent: steal,
    cpuWaitPercent: cpuWait,
    benchLoopDelayP99Ms: loop.percentile(99) / 1e6,
    benchLoopDelayMaxMs: loop.max / 1e6,
    benchCpuPercent: benchCpu,
    windowSeconds: first !== undefined && last !== undefined ? (last.t - first.t) / 1000 : NaN,
    setupSeconds: setupS,
    loadBefore,
    loadAfter: loadavg()[0]!,
    logDir,
  };
  writeFileSync(join(dir, 'result.json'), JSON.stringify(result, (k, v: unknown) => (k === 'delays' ? undefined : v), 1));
  return result;
}

/** The commit the daemon was built from, and whether server/ had uncommitted changes. */
function codeVersion(tree: string): string {
  const other = tree === ROOT ? '' : ` (the build in ${tree})`;
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: tree, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'server'], { cwd: tree, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return `${rev}${dirty ? ' + uncommitted changes in server/' : ''}${other}`;
  } catch {
    return `unknown${other}`;
  }
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  if (opts.help) { process.stdout.write(USAGE); return 0; }
  const hard = setTimeout(() => {
    log(`--timeout ${opts.timeoutS} s reached: stopping`);
    killChildren();
    process.exit(2);
  }, opts.timeoutS * 1000);
  hard.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { killChildren(); process.exit(130); });
  const daemonMain = opts.daemon !== undefined ? resolve(opts.daemon) : join(ROOT, 'dist/server/main.js');
  if (!existsSync(daemonMain)) throw new Error(`${daemonMain} is missing: run \`npm run build\` first (in that tree)`);
  const daemonTree = resolve(dirname(daemonMain), '../..');
  // The load generator stands in for browsers and players on other machines: it should not be the
  // one starved when the two cores are busy. What is measured (daemon, baseline, Icecast) runs at
  // the default priority: normal() puts each child back there.
  try { setPriority(process.pid, -10); } catch { /* not allowed: run at the default priority */ }
  if (loadavg()[0]! > 1.5) log(`the machine is busy (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}): figures may be noisy`);

  const outDir = opts.outDir ?? join(tmpdir(), `icewire-bench-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(outDir, { recursive: true });
  log(`output in ${outDir}`);
  // where the output goes does not change a figure: leave those flags out of the recorded command
  const shown = process.argv.slice(2).filter((a) => !/^--(out|doc|write-doc)(=|$)/.test(a));
  const command = `npm run bench${shown.length > 0 ? ` -- ${shown.join(' ')}` : ''}`;
  const envUsed = Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_') && k !== 'BENCH_OUT' && k !== 'BENCH_DOC').map(([k, v]) => `${k}=${v}`);

  const kinds = new Set(opts.scenarios.map((s) => s.kind));
  const recs = new Map<string, Recording>();
  const srcs = new Map<string, SourceSide>();
  for (const kind of ['audio', 'video'] as const) {
    if (!kinds.has(kind)) continue;
    const rec = await recording(kind, opts.seconds, { fresh: opts.freshRecording, log });
    recs.set(kind, rec);
    const chunks = rec.chunks.map((c) => rec.data.subarray(c.offset, c.offset + c.length));
    const src = await analyseSource(rec.file, chunks, sourcePackets);
    srcs.set(kind, src);
    log(`${kind} recording: ${rec.chunks.length} chunks, ${(rec.data.length / 1024).toFixed(0)} KiB, ${src.seconds.toFixed(1)} s of Opus in ${src.packets.ends.length} packets`);
  }

  const password = `bench-${process.pid}-${Date.now()}`;
  const hash = await hashPassword(password);
  const icecast = await startIcecast({ sourceTimeoutS: 60, maxSources: Math.max(500, ...opts.scenarios.map((sc) => sc.n * 2 + 50)) });
  normal(icecast.pid);
  const mounts = new MountWatcher(icecast);
  const started = new Date();
  const results: ScenarioResult[] = [];
  let idle: IdleResult | undefined;
  try {
    for (const sc of opts.scenarios) {
      if (sc.kind === 'idle') {
        try {
          idle = await runIdle(async (down) => {
            const port = await freePort();
            const url = down === undefined ? icecast.url : `http://127.0.0.1:${await freePort()}`;
            const dir = join(outDir, 'idle', down === undefined ? 'icecast-up' : 'icecast-down');
            mkdirSync(dir, { recursive: true });
            return startDaemon({ main: daemonMain, dir, port, icecast: { url, sourcePassword: icecast.sourcePassword } as ManagedIcecast, sc: { ...sc, n: 1 }, hash, profile: false, heap: false });
          }, (c) => stopChild(c, 12000), log);
          process.stdout.write(`${idleTable(idle)}\n`);
        } catch (err) {
          log(`idle failed: ${(err as Error).stack ?? String(err)}`);
          killChildren();
        }
        continue;
      }
      const rec = recs.get(sc.kind)!;
      try {
        const r = await runScenario(sc, { main: daemonMain, opts, icecast, mounts, rec, src: srcs.get(sc.kind)!, hash, password, outDir });
        results.push(r);
        process.stdout.write(`${consoleTable([r], false)}\n`);
      } catch (err) {
        log(`${sc.id} failed: ${(err as Error).stack ?? String(err)}`);
        killChildren();
      }
    }
  } finally {
    killChildren();
    await icecast.stop();
  }
  const run: RunResult = {
    command,
    env: envUsed,
    started: started.toISOString(),
    minutes: (Date.now() - started.getTime()) / 60000,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    browser: [...recs.values()][0]?.browser ?? 'n/a',
    code: codeVersion(daemonTree),
    seconds: opts.seconds,
    warmupS: opts.warmupS,
    results,
    ...(idle !== undefined ? { idle } : {}),
  };
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(run, null, 1));
  process.stdout.write(`\n${consoleTable(results, true, idle)}\n`);
  if (opts.writeDoc) {
    const doc = resolve(ROOT, opts.docPath);
    writeReport(doc, run);
    log(`results written to ${doc}`);
  }
  log(`done in ${run.minutes.toFixed(1)} min; raw data in ${outDir}`);
  // every scenario ran (the idle one has its own result); a missed target is not a failed run
  return results.length + (idle !== undefined ? 1 : 0) === opts.scenarios.length ? 0 : 1;
}

main().then((code) => { process.exitCode = code; setTimeout(() => process.exit(code), 1000).unref(); }, (err: unknown) => {
  log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  killChildren();
  process.exit(1);
});
