// The benchmark's tables: printed, and written into docs/performance.md between two markers (the
// rest of that file is prose written by people and is left alone).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { baselineArgs } from './baseline-args.js';
import type { ProfileSummary } from './cpuprofile.js';
import type { HeapSummary } from './heap-summary.js';
import type { IdleResult } from './idle.js';
import { MP3_PAST_SATURATION, MP3_SATURATION, SCENARIOS, type Scenario } from './options.js';

export interface SideResult {
  readonly side: 'icewire' | 'baseline';
  readonly n: number;
  /** Streams that went live (with a listener connected before the first chunk, where listened to). */
  readonly ready: number;
  /** Streams with a listener (all, or a sample: Scenario.listenEvery). */
  readonly listened: number;
  /** Late audio dropped to stay live, ms, summed over the streams' last status frames (icewire). */
  readonly shedMs: number;
  /** Streams whose broadcaster was told some audio was dropped. */
  readonly shedStreams: number;
  /** icewire_audio_shed_seconds_total from the daemon's /metrics at the end of the window. */
  readonly shedMetricS?: number;
  readonly liveMsMedian: number;
  /** s */
  readonly firstAudioMedian: number;
  readonly firstAudioP95: number;
  readonly firstAudioMax: number;
  readonly firstAudioCount: number;
  /** s: median over streams of each stream's median steady-state delay */
  readonly delayMedian: number;
  /** s: 95th percentile over every steady-state packet of every stream */
  readonly delayP95: number;
  /** s: mean over every steady-state packet */
  readonly delayMean: number;
  /** share of steady-state packets later than 0.15 s (held until the next chunk somewhere) */
  readonly lateShare: number;
  readonly delayMaxMedian: number;
  readonly delayStreams: number;
  readonly matchRMin: number;
  readonly valid: number;
  /** % of one core, whole process tree, steady state */
  readonly cpuPercent: number;
  readonly cpuIdlePercent: number;
  /** Kernel-mode share of cpuPercent (system calls, and on loopback the receiver's TCP work too). */
  readonly cpuKernelPercent: number;
  /** ms per second the node main thread was runnable but waiting for a CPU (/proc/<pid>/schedstat). */
  readonly runQueueWaitMsPerS: number;
  /** The node process alone (without its ffmpegs). */
  readonly cpuRootPercent: number;
  /** The root process's (node's) PSS by mapping kind, mid-run. */
  readonly rootPssMb?: { file: number; heap: number; anon: number };
  readonly cpuPerStream: number;
  readonly pssIdleMb: number;
  readonly pssLoadedMb: number;
  /** loaded / N: the tree's whole PSS shared out over its streams */
  readonly pssPerStreamMb: number;
  /** (loaded − idle) / N: what one more stream adds */
  readonly pssMarginalMb: number;
  readonly processes: number;
  readonly problems: string[];
  readonly stopSeconds?: number;
  /** The daemon's event-loop delay over the steady window, from its /metrics. */
  readonly daemonLoopP99Ms?: number;
  readonly daemonLoopMaxMs?: number;
  /** Time the daemon spent in GC pauses over the steady window. */
  readonly daemonGcMs?: number;
  readonly profile?: ProfileSummary;
  readonly heap?: HeapSummary;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly icewire: SideResult | undefined;
  readonly baseline: SideResult | undefined;
  readonly icecastCpuPercent: number;
  readonly machineBusyPercent: number;
  /** CPU time the hypervisor took (percent of all cores). */
  readonly stealPercent: number;
  /** Share of the window in which some runnable task waited for a CPU (PSI cpu "some"). */
  readonly cpuWaitPercent: number;
  readonly benchLoopDelayP99Ms: number;
  readonly benchLoopDelayMaxMs: number;
  /** The load generator's own CPU (% of a core) in the steady window. */
  readonly benchCpuPercent: number;
  readonly windowSeconds: number;
  readonly setupSeconds: number;
  readonly loadBefore: number;
  readonly loadAfter: number;
  readonly logDir: string;
}

export interface RunResult {
  readonly command: string;
  readonly env: string[];
  readonly started: string;
  readonly minutes: number;
  readonly machine: string;
  readonly browser: string;
  /** git commit of the code under test */
  readonly code?: string;
  readonly seconds: number;
  readonly warmupS: number;
  readonly results: ScenarioResult[];
  readonly idle?: IdleResult;
}

const num = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  const r = a / b;
  return r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : String(Number(r.toPrecision(2)));
}

/** "icewire / baseline (ratio)" */
function cell(r: ScenarioResult, pick: (s: SideResult) => number, digits: number): string {
  const a = r.icewire !== undefined ? pick(r.icewire) : undefined;
  const b = r.baseline !== undefined ? pick(r.baseline) : undefined;
  if (r.baseline === undefined) return num(a, digits);
  if (r.icewire === undefined) return num(b, digits);
  return `${num(a, digits)} / ${num(b, digits)} (${ratio(a, b)})`;
}

function count(r: ScenarioResult, pick: (s: SideResult) => number, of: (s: SideResult) => number = (s) => s.n): string {
  const f = (s: SideResult | undefined): string => (s === undefined ? '–' : `${pick(s)}/${of(s)}`);
  return `${f(r.icewire)} / ${f(r.baseline)}`;
}

export function summaryTable(results: readonly ScenarioResult[]): string {
  const head = [
    '| scenario | ready | valid listeners | first audio median s | first audio p95 s | delay median s | delay p95 s | CPU % of a core per stream | PSS MB per stream |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = results.map((r) => `| ${r.scenario.label} | ${count(r, (s) => s.ready)} | ${count(r, (s) => s.valid, (s) => s.listened)} | ${cell(r, (s) => s.firstAudioMedian, 3)} | ${cell(r, (s) => s.firstAudioP95, 3)} | ${cell(r, (s) => s.delayMedian, 3)} | ${cell(r, (s) => s.delayP95, 3)} | ${cell(r, (s) => s.cpuPerStream, 3)} | ${cell(r, (s) => s.pssPerStreamMb, 2)} |`);
  return [...head, ...rows].join('\n');
}

export function detailTable(results: readonly ScenarioResult[]): string {
  const head = [
    '| scenario | side | hello→live ms | first audio max s | delay mean s | packets > 0.15 s late | worst stream median delay s | envelope match r (min) | tree CPU % (kernel) | node process CPU % | node main thread waiting for a CPU ms/s | idle CPU % | PSS idle MB | PSS loaded MB | PSS added per stream MB | node PSS file / malloc / other anon MB | processes |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const rows: string[] = [];
  for (const r of results) {
    for (const s of [r.icewire, r.baseline]) {
      if (s === undefined) continue;
      rows.push(`| ${r.scenario.label} | ${s.side} | ${num(s.liveMsMedian, 0)} | ${num(s.firstAudioMax, 3)} | ${num(s.delayMean, 3)} | ${Number.isFinite(s.lateShare) ? `${(s.lateShare * 100).toFixed(1)} %` : '–'} | ${num(s.delayMaxMedian, 3)} | ${num(s.matchRMin, 3)} | ${num(s.cpuPercent, 2)} (${num(s.cpuKernelPercent, 2)}) | ${num(s.cpuRootPercent, 2)} | ${num(s.runQueueWaitMsPerS, 1)} | ${num(s.cpuIdlePercent, 2)} | ${num(s.pssIdleMb, 1)} | ${num(s.pssLoadedMb, 1)} | ${num(s.pssMarginalMb, 2)} | ${s.rootPssMb !== undefined ? `${num(s.rootPssMb.file, 0)} / ${num(s.rootPssMb.heap, 0)} / ${num(s.rootPssMb.anon, 0)}` : '–'} | ${s.processes} |`);
    }
  }
  return [...head, ...rows].join('\n');
}

export function conditionsTable(results: readonly ScenarioResult[]): string {
  return [
    '| scenario | set-up s | steady window s | Icecast CPU % | load generator CPU % | machine busy % (2 cores = 100) | CPU pressure % (steal %) | load generator event-loop p99 / max ms | daemon event-loop p99 / max ms | daemon GC ms | load average before → after |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map((r) => `| ${r.scenario.label} | ${num(r.setupSeconds, 1)} | ${num(r.windowSeconds, 1)} | ${num(r.icecastCpuPercent, 1)} | ${num(r.benchCpuPercent, 1)} | ${num(r.machineBusyPercent, 0)} | ${num(r.cpuWaitPercent, 0)} (${num(r.stealPercent, 1)}) | ${num(r.benchLoopDelayP99Ms, 1)} / ${num(r.benchLoopDelayMaxMs, 0)} | ${num(r.icewire?.daemonLoopP99Ms, 1)} / ${num(r.icewire?.daemonLoopMaxMs, 0)} | ${num(r.icewire?.daemonGcMs, 0)} | ${num(r.loadBefore, 2)} → ${num(r.loadAfter, 2)} |`),
  ].join('\n');
}

interface Target { what: string; met: boolean | undefined; value: string }

/** Past the saturation point, "live delay": what a listener of a healthy stream gets, give or take a chunk. */
export const LIVE_DELAY_MEDIAN_S = 0.5;
export const LIVE_DELAY_P95_S = 1.5;

const label = (id: string): string => SCENARIOS[id]?.label ?? id;
const rat = (a: number, b: number): number => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const ok = (v: number, max: number): boolean | undefined => (Number.isFinite(v) ? v <= max : undefined);
const all = (...m: (boolean | undefined)[]): boolean | undefined => (m.some((x) => x === undefined) ? undefined : m.every((x) => x === true));

/** The copy targets at N = 24 and 100: lighter than the baseline, and quick. */
function copyTargets(r: ScenarioResult): Target[] {
  const i = r.icewire;
  const b = r.baseline;
  const name = r.scenario.label;
  if (i === undefined) return [{ what: name, met: undefined, value: 'not run' }];
  const cpu = b !== undefined ? rat(i.cpuPerStream, b.cpuPerStream) : NaN;
  const pss = b !== undefined ? rat(i.pssPerStreamMb, b.pssPerStreamMb) : NaN;
  return [
    { what: `CPU per stream ≤ 0.8 × baseline, ${name}`, met: ok(cpu, 0.8), value: `${num(i.cpuPerStream, 3)} vs ${num(b?.cpuPerStream, 3)} % (${ratio(i.cpuPerStream, b?.cpuPerStream)}×)` },
    { what: `PSS per stream ≤ 0.3 × baseline, ${name}`, met: ok(pss, 0.3), value: `${num(i.pssPerStreamMb, 2)} vs ${num(b?.pssPerStreamMb, 2)} MB (${ratio(i.pssPerStreamMb, b?.pssPerStreamMb)}×)` },
    { what: `first audio median ≤ 0.1 s and p95 ≤ 0.3 s, ${name}`, met: all(ok(i.firstAudioMedian, 0.1), ok(i.firstAudioP95, 0.3)), value: `${num(i.firstAudioMedian, 3)} / ${num(i.firstAudioP95, 3)} s (baseline ${num(b?.firstAudioMedian, 3)} / ${num(b?.firstAudioP95, 3)} s)` },
    { what: `delay p95 not above the baseline's, ${name}`, met: b !== undefined ? ok(i.delayP95, b.delayP95) : undefined, value: `${num(i.delayP95, 3)} vs ${num(b?.delayP95, 3)} s` },
    { what: `every listener valid, ${name}`, met: i.valid === i.listened && i.ready === i.n, value: `${i.valid}/${i.listened} valid, ${i.ready}/${i.n} ready` },
  ];
}

/** A thousand broadcasts: every sampled listener valid, first audio p95 ≤ 0.5 s. */
function scaleTargets(r: ScenarioResult): Target[] {
  const i = r.icewire;
  const name = r.scenario.label;
  if (i === undefined) return [{ what: name, met: undefined, value: 'not run' }];
  return [
    { what: `every sampled listener valid, ${name}`, met: i.valid === i.listened && i.ready === i.n, value: `${i.valid}/${i.listened} sampled listeners valid, ${i.ready}/${i.n} ready` },
    { what: `first audio p95 ≤ 0.5 s, ${name}`, met: ok(i.firstAudioP95, 0.5), value: `${num(i.firstAudioP95, 3)} s (median ${num(i.firstAudioMedian, 3)} s)` },
  ];
}

export function targets(results: readonly ScenarioResult[], idle?: IdleResult): Target[] {
  const get = (id: string): ScenarioResult | undefined => results.find((r) => r.scenario.id === id);
  const out: Target[] = [];
  for (const id of ['copy24', 'copy100']) {
    const r = get(id);
    out.push(...(r !== undefined ? copyTargets(r) : [{ what: label(id), met: undefined, value: 'not run' }]));
  }
  if (idle !== undefined) {
    for (const [what, side] of [['Icecast up', idle.icecastUp], ['Icecast down', idle.icecastDown]] as const) {
      out.push({ what: `idle daemon, ${what}: ≤ 0.1 % of a core over ${idle.windowS} s, RSS ≤ 60 MB`, met: all(ok(side.cpuPercent, 0.1), ok(side.rssMb, 60)), value: `${num(side.cpuPercent, 3)} %, RSS ${num(side.rssMb, 1)} MB (PSS ${num(side.pssMb, 1)} MB)` });
    }
  } else out.push({ what: 'idle daemon', met: undefined, value: 'not run' });
  const sat = get(MP3_SATURATION);
  if (sat?.icewire !== undefined && sat.baseline !== undefined) {
    const i = sat.icewire;
    const b = sat.baseline;
    out.push({ what: `delay median and p95 ≤ 1.2 × baseline, ${sat.scenario.label} (saturation)`, met: all(ok(rat(i.delayMedian, b.delayMedian), 1.2), ok(rat(i.delayP95, b.delayP95), 1.2)), value: `median ${num(i.delayMedian, 3)} vs ${num(b.delayMedian, 3)} s (${ratio(i.delayMedian, b.delayMedian)}×), p95 ${num(i.delayP95, 3)} vs ${num(b.delayP95, 3)} s (${ratio(i.delayP95, b.delayP95)}×)` });
    out.push({ what: `every listener valid, ${sat.scenario.label}`, met: i.valid === i.listened && i.ready === i.n, value: `${i.valid}/${i.listened} valid (baseline ${b.valid}/${b.listened})` });
  } else out.push({ what: label(MP3_SATURATION), met: undefined, value: 'not run side by side' });
  const past = get(MP3_PAST_SATURATION)?.icewire;
  if (past !== undefined) {
    const told = past.shedStreams > 0 === (past.shedMetricS ?? 0) > 0;
    out.push({
      what: `past saturation, ${label(MP3_PAST_SATURATION)}: listeners at live delay (median ≤ ${LIVE_DELAY_MEDIAN_S} s, p95 ≤ ${LIVE_DELAY_P95_S} s), shed audio counted and told`,
      // a listener that got next to no audio has no delay figure: that is a failure, not a gap in the data
      met: past.listened > 0 && past.valid < past.listened ? false : all(ok(past.delayMedian, LIVE_DELAY_MEDIAN_S), ok(past.delayP95, LIVE_DELAY_P95_S), told),
      value: `${past.valid}/${past.listened} listeners valid; delay median ${num(past.delayMedian, 3)} s, p95 ${num(past.delayP95, 3)} s; ${num(past.shedMetricS, 1)} s shed in /metrics (– = /metrics did not answer), ${past.shedStreams}/${past.n} broadcasters told`,
    });
  } else out.push({ what: label(MP3_PAST_SATURATION), met: undefined, value: 'not run' });
  for (const id of ['video1', 'video4']) {
    const r = get(id);
    const i = r?.icewire;
    const b = r?.baseline;
    out.push(i !== undefined && b !== undefined
      ? { what: `CPU and PSS per stream ≤ 1.2 × baseline, ${r!.scenario.label}`, met: all(ok(rat(i.cpuPerStream, b.cpuPerStream), 1.2), ok(rat(i.pssPerStreamMb, b.pssPerStreamMb), 1.2)), value: `CPU ${ratio(i.cpuPerStream, b.cpuPerStream)}×, PSS ${ratio(i.pssPerStreamMb, b.pssPerStreamMb)}×` }
      : { what: label(id), met: undefined, value: 'not run side by side' });
  }
  const big = get('copy1000');
  out.push(...(big !== undefined ? scaleTargets(big) : [{ what: label('copy1000'), met: undefined, value: 'not run' }]));
  // the largest Opus copy N (from 24 up) at which every target of its size held
  const copies = results.filter((r) => r.scenario.format === 'ogg' && r.scenario.n >= 24 && r.icewire !== undefined).sort((a, b) => a.scenario.n - b.scenario.n);
  const held = copies.filter((r) => (r.scenario.n > 100 ? scaleTargets(r) : copyTargets(r)).every((t) => t.met === true));
  out.push({
    what: 'largest Opus copy N run (from 24 up) with every target of its size met',
    met: held.length > 0 ? held.at(-1) === copies.at(-1) : copies.length > 0 ? false : undefined,
    value: held.length > 0 ? `N = ${held.at(-1)!.scenario.n} (run: ${copies.map((r) => r.scenario.n).join(', ')})` : copies.length > 0 ? `none (run: ${copies.map((r) => r.scenario.n).join(', ')})` : 'not run',
  });
  return out;
}

export function idleTable(idle: IdleResult): string {
  return [
    `Idle daemon (no broadcast, one station configured), from ${idle.settleS} s after start, over ${idle.windowS} s:`,
    '',
    '| Icecast | CPU % of a core (all threads) | RSS MB | PSS MB |',
    '| --- | ---: | ---: | ---: |',
    ...([['up', idle.icecastUp], ['down', idle.icecastDown]] as const).map(([k, v]) => `| ${k} | ${num(v.cpuPercent, 3)} | ${num(v.rssMb, 1)} | ${num(v.pssMb, 1)} |`),
  ].join('\n');
}

function targetTable(results: readonly ScenarioResult[], idle?: IdleResult): string {
  return [
    '| target (icewire) | met | measured |',
    '| --- | --- | --- |',
    ...targets(results, idle).map((t) => `| ${t.what} | ${t.met === undefined ? 'not measured' : t.met ? 'yes' : '**no**'} | ${t.value} |`),
  ].join('\n');
}

export function consoleTable(results: readonly ScenarioResult[], withTargets: boolean, idle?: IdleResult): string {
  return [
    'icewire / baseline (ratio)',
    summaryTable(results),
    ...(withTargets ? ['', targetTable(results, idle)] : []),
  ].join('\n');
}

export const BEGIN = '<!-- bench:results:begin (written by `npm run bench`; edit outside these markers) -->';
export const END = '<!-- bench:results:end -->';

export function resultsMarkdown(run: RunResult): string {
  const problems = run.results.flatMap((r) => [r.icewire, r.baseline].filter((s): s is SideResult => s !== undefined && s.problems.length > 0)
    .map((s) => `- ${r.scenario.label}, ${s.side}: ${s.problems.join('; ')}`));
  const profiles = run.results.flatMap((r) => (r.icewire?.profile !== undefined ? [`Daemon CPU profile, ${r.scenario.label}: see the run's cpuprofile-summary.md.`] : []));
  return [
    BEGIN,
    '',
    `Command: \`${run.command}\`${run.env.length > 0 ? ` with ${run.env.map((e) => `\`${e}\``).join(' ')}` : ''}.`,
    `Run ${run.started.slice(0, 16).replace('T', ' ')} UTC, ${run.minutes.toFixed(1)} min, code ${run.code ?? 'unknown'}; ${run.machine}; recorded by ${run.browser}; ` +
      `${run.seconds} s streams, steady state from ${run.warmupS} s after the first chunk.`,
    '',
    'Each cell: **icewire / bare ffmpeg baseline (ratio icewire ÷ baseline)**. Both sides ran at the same time into the same Icecast.',
    '',
    summaryTable(run.results),
    '',
    ...(run.idle !== undefined ? [idleTable(run.idle), ''] : []),
    targetTable(run.results, run.idle),
    '',
    'Details:',
    '',
    detailTable(run.results),
    '',
    'Conditions during each run:',
    '',
    conditionsTable(run.results),
    '',
    ...(problems.length > 0 ? ['Streams that were not ready or not valid (first five per side):', '', ...problems, ''] : []),
    ...(profiles.length > 0 ? [...profiles, ''] : []),
    `Baseline ffmpeg for Ogg/Opus: \`ffmpeg ${baselineArgs('ogg').join(' ')}\`, its stdout PUT to Icecast by the baseline server.`,
    '',
    END,
  ].join('\n');
}

const SKELETON = `# Performance

What \`npm run bench\` measures and how icewire compares with a bare Node + ffmpeg relay.

## Results

${BEGIN}
${END}
`;

export function writeReport(path: string, run: RunResult): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : SKELETON;
  const a = current.indexOf(BEGIN);
  const b = current.indexOf(END);
  const section = resultsMarkdown(run);
  const next = a >= 0 && b > a
    ? current.slice(0, a) + section + current.slice(b + END.length)
    : `${current.replace(/\s*$/, '')}\n\n## Results\n\n${section}\n`;
  writeFileSync(path, next);
}
