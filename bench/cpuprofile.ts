// Summary of a V8 .cpuprofile (node --cpu-prof): where the daemon's CPU time went.
// Self time by function, and inclusive time by module (a sample counts for every module on its stack).
import { readFileSync } from 'node:fs';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileSummary {
  readonly totalMs: number;
  readonly busyMs: number;
  readonly selfByFunction: { name: string; ms: number }[];
  readonly inclusiveByModule: { module: string; ms: number }[];
  /** Each sample charged to the innermost daemon (dist/server) frame on its stack, else to its leaf's module. */
  readonly byDaemonModule: { module: string; ms: number }[];
}

/** Only samples in [fromUs, toUs] of the profiled process's monotonic clock (process.hrtime() / 1000). */
export interface ProfileWindow { readonly fromUs: number; readonly toUs: number }

function moduleOf(url: string): string {
  if (url === '') return '(native/VM)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm !== null) return `npm:${nm[1]}`;
  const srv = /\/dist\/(server\/.+?)\.js$/.exec(url);
  if (srv !== null) return srv[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').replace(/\/.*$/, '');
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
}

export function summarizeProfile(file: string, top = 25, window?: ProfileWindow): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const owner = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let at = p.startTime;
  p.samples.forEach((id, i) => {
    at += p.timeDeltas[i] ?? 0;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) return;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const node = byId.get(id);
    if (node === undefined) return;
    const fn = node.callFrame.functionName || '(anonymous)';
    if (fn === '(idle)') { idle += dt; return; }
    const key = node.callFrame.url === '' ? fn : `${fn} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const mods = new Set<string>();
    let daemon: string | undefined;
    let leaf: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const f = n.callFrame.functionName;
      if (f === '(root)') continue;
      const m = f === '(garbage collector)' || f === '(program)' ? f : moduleOf(n.callFrame.url);
      mods.add(m);
      if (leaf === undefined && m !== '(native/VM)') leaf = m;
      if (daemon === undefined && m.startsWith('server/')) daemon = m;
    }
    for (const m of mods) incl.set(m, (incl.get(m) ?? 0) + dt);
    const o = daemon ?? `(outside daemon code) ${leaf ?? fn}`;
    owner.set(o, (owner.get(o) ?? 0) + dt);
  });
  const sorted = <K extends string>(m: Map<string, number>, k: K): ({ ms: number } & Record<K, string>)[] =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ [k]: name, ms: Math.round(ms) }) as { ms: number } & Record<K, string>);
  return {
    totalMs: Math.round(total), busyMs: Math.round(total - idle),
    selfByFunction: sorted(self, 'name'), inclusiveByModule: sorted(incl, 'module'), byDaemonModule: sorted(owner, 'module'),
  };
}

export function profileMarkdown(s: ProfileSummary, title: string): string {
  const pct = (ms: number): string => `${((ms / s.totalMs) * 100).toFixed(1)} %`;
  const lines = [
    `#### ${title}`,
    '',
    `Profiled ${(s.totalMs / 1000).toFixed(1)} s (steady state only), main thread busy ${(s.busyMs / 1000).toFixed(1)} s (${pct(s.busyMs)} of one core).`,
    '',
    '| charged to (innermost daemon module on the stack) | ms | share of wall time |',
    '| --- | ---: | ---: |',
    ...s.byDaemonModule.slice(0, 15).map((m) => `| ${m.module} | ${m.ms} | ${pct(m.ms)} |`),
    '',
    '| inclusive time by module | ms | share of wall time |',
    '| --- | ---: | ---: |',
    ...s.inclusiveByModule.slice(0, 15).map((m) => `| ${m.module} | ${m.ms} | ${pct(m.ms)} |`),
    '',
    '| self time by function | ms | share of wall time |',
    '| --- | ---: | ---: |',
    ...s.selfByFunction.slice(0, 20).map((f) => `| \`${f.name}\` | ${f.ms} | ${pct(f.ms)} |`),
    '',
  ];
  return lines.join('\n');
}
