// The benchmark's tables: printed, and written into docs/performance.md between two markers (the
// rest of that file is prose written by people and is left alone).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { baselineArgs } from './baseline-args.js';
import type { ProfileSummary } from './cpuprofile.js';
import type { HeapSummary } from './heap-summary.js';
import type { Scenario } from './options.js';

export interface SideResult {
  readonly side: 'icewire' | 'baseline';
  readonly n: number;
  /** Streams that went live with a listener connected before the first chunk. */
  readonly ready: number;
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

function count(r: ScenarioResult, pick: (s: SideResult) => number): string {
  const f = (s: SideResult | undefined): string => (s === undefined ? '–' : `${pick(s)}/${s.n}`);
  return `${f(r.icewire)} / ${f(r.baseline)}`;
}

export function summaryTable(results: readonly ScenarioResult[]): string {
  const head = [
    '| scenario | ready | valid listeners | first audio median s | first audio p95 s | delay median s | delay p95 s | CPU % of a core per stream | PSS MB per stream |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = results.map((r) => `| ${r.scenario.label} | ${count(r, (s) => s.ready)} | ${count(r, (s) => s.valid)} | ${cell(r, (s) => s.firstAudioMedian, 3)} | ${cell(r, (s) => s.firstAudioP95, 3)} | ${cell(r, (s) => s.delayMedian, 3)} | ${cell(r, (s) => s.delayP95, 3)} | ${cell(r, (s) => s.cpuPerStream, 3)} | ${cell(r, (s) => s.pssPerStreamMb, 2)} |`);
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

export function targets(results: readonly ScenarioResult[]): Target[] {
  const get = (id: string): ScenarioResult | undefined => results.find((r) => r.scenario.id === id);
  const out: Target[] = [];
  for (const id of ['copy1', 'copy100']) {
    const r = get(id)?.icewire;
    out.push({ what: `first audio ≤ 0.5 s median, ${get(id)?.scenario.label ?? id}`, met: r ? r.firstAudioMedian <= 0.5 : undefined, value: r ? `${num(r.firstAudioMedian, 3)} s` : 'not run' });
    out.push({ what: `delay ≤ 0.45 s, ${get(id)?.scenario.label ?? id}`, met: r ? r.delayMedian <= 0.45 : undefined, value: r ? `${num(r.delayMedian, 3)} s median, ${num(r.delayP95, 3)} s p95` : 'not run' });
  }
  const c100 = get('copy100');
  if (c100?.icewire !== undefined && c100.baseline !== undefined) {
    const rr = c100.icewire.pssPerStreamMb / c100.baseline.pssPerStreamMb;
    out.push({ what: 'PSS per stream ≤ 1.2 × baseline, Opus copy ×100', met: Number.isFinite(rr) ? rr <= 1.2 : undefined, value: `${num(c100.icewire.pssPerStreamMb, 2)} vs ${num(c100.baseline.pssPerStreamMb, 2)} MB (${ratio(c100.icewire.pssPerStreamMb, c100.baseline.pssPerStreamMb)}×)` });
  } else out.push({ what: 'PSS per stream ≤ 1.2 × baseline, Opus copy ×100', met: undefined, value: 'not run' });
  const ci = c100?.icewire;
  out.push({ what: 'CPU ≤ 0.1 % of a core per stream, Opus copy ×100', met: ci ? ci.cpuPerStream <= 0.1 : undefined, value: ci ? `${num(ci.cpuPerStream, 3)} % (${num(ci.cpuPercent, 1)} % for 100)` : 'not run' });
  for (const id of ['copy100', 'mp3_50']) {
    const r = get(id)?.icewire;
    out.push({ what: `every listener valid, ${get(id)?.scenario.label ?? id}`, met: r ? r.valid === r.n && r.ready === r.n : undefined, value: r ? `${r.valid}/${r.n} valid, ${r.ready}/${r.n} ready` : 'not run' });
  }
  return out;
}

function targetTable(results: readonly ScenarioResult[]): string {
  return [
    '| target (icewire) | met | measured |',
    '| --- | --- | --- |',
    ...targets(results).map((t) => `| ${t.what} | ${t.met === undefined ? 'not measured' : t.met ? 'yes' : '**no**'} | ${t.value} |`),
  ].join('\n');
}

export function consoleTable(results: readonly ScenarioResult[], withTargets: boolean): string {
  return [
    'icewire / baseline (ratio)',
    summaryTable(results),
    ...(withTargets ? ['', targetTable(results)] : []),
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
    targetTable(run.results),
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
