// CPU time and proportional memory (PSS) of a process tree, from /proc (Linux only).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Stat { pid: number; ppid: number; comm: string; ticks: number; sys: number }

function readStat(pid: number): Stat | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined; // gone
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15
  return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]), sys: Number(f[12]) };
}

function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st !== undefined) out.push(st);
  }
  return out;
}

/** root and all its descendants, with their CPU ticks now. */
export function treeStats(root: number, all = allStats()): Stat[] {
  const byParent = new Map<number, Stat[]>();
  let rootStat: Stat | undefined;
  for (const st of all) {
    if (st.pid === root) rootStat = st;
    const list = byParent.get(st.ppid);
    if (list === undefined) byParent.set(st.ppid, [st]);
    else list.push(st);
  }
  if (rootStat === undefined) return [];
  const out: Stat[] = [];
  const todo = [rootStat];
  while (todo.length > 0) {
    const st = todo.pop()!;
    out.push(st);
    for (const c of byParent.get(st.pid) ?? []) todo.push(c);
  }
  return out;
}

export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
    return m !== null ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface TreeSnapshot {
  /** performance.now() */
  readonly t: number;
  readonly ticks: ReadonlyMap<number, number>;
  /** Kernel-mode part of ticks. */
  readonly sysTicks: ReadonlyMap<number, number>;
  readonly processes: number;
  /** Summed PSS in kB (when measured). */
  readonly pssKb?: number;
}

export function snapshot(root: number, withPss: boolean, all?: Stat[]): TreeSnapshot {
  const tree = treeStats(root, all);
  const ticks = new Map<number, number>();
  const sysTicks = new Map<number, number>();
  for (const st of tree) { ticks.set(st.pid, st.ticks); sysTicks.set(st.pid, st.sys); }
  const base = { t: performance.now(), ticks, sysTicks, processes: tree.length };
  return withPss ? { ...base, pssKb: tree.reduce((n, st) => n + pssKb(st.pid), 0) } : base;
}

/** Snapshots of several trees from one /proc scan. */
export function snapshots(roots: readonly number[], withPss: boolean): TreeSnapshot[] {
  const all = allStats();
  return roots.map((r) => snapshot(r, withPss, all));
}

/**
 * Share of one core (percent) the tree used between two snapshots: processes present in both
 * count their difference, processes that appeared count all their time.
 */
export function cpuPercent(a: TreeSnapshot, b: TreeSnapshot, kernelOnly = false, onlyPid?: number): number {
  let ticks = 0;
  const am = kernelOnly ? a.sysTicks : a.ticks;
  for (const [pid, t] of kernelOnly ? b.sysTicks : b.ticks) if (onlyPid === undefined || pid === onlyPid) ticks += t - (am.get(pid) ?? 0);
  const seconds = (b.t - a.t) / 1000;
  return seconds > 0 ? (ticks / CLK_TCK / seconds) * 100 : NaN;
}

/** Busy share of the whole machine (percent of all cores) between two readings of /proc/stat. */
export function machineTicks(): { busy: number; total: number; steal: number; cpuWaitUs: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (line[3] ?? 0) + (line[4] ?? 0);
  const total = line.reduce((a, b) => a + b, 0);
  // /proc/pressure/cpu "some total": µs during which at least one runnable task waited for a CPU
  let cpuWaitUs = NaN;
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'latin1'));
    if (m !== null) cpuWaitUs = Number(m[1]);
  } catch { /* no PSI */ }
  return { busy: total - idle, total, steal: line[7] ?? 0, cpuWaitUs };
}

/** PSS (kB) of one process by kind of mapping: file-backed, [heap] (malloc), other anonymous (V8 heap, mmap'd malloc arenas, stacks). */
export function pssBreakdownKb(pid: number): { file: number; heap: number; anon: number } {
  const out = { file: 0, heap: 0, anon: 0 };
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return out;
  }
  let kind: 'file' | 'heap' | 'anon' = 'anon';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      const name = head[1]!.trim();
      kind = name.startsWith('/') ? 'file' : name === '[heap]' ? 'heap' : 'anon';
      continue;
    }
    const m = /^Pss:\s+(\d+) kB/.exec(line);
    if (m !== null) out[kind] += Number(m[1]);
  }
  return out;
}

/** The main thread's time on a CPU and time spent runnable but waiting for one (ns), /proc/<pid>/schedstat. */
export function schedstat(pid: number): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'latin1').trim().split(/\s+/).map(Number);
    return run !== undefined && wait !== undefined ? { runNs: run, waitNs: wait } : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time of every thread of a process, ns (schedstat: exact, where utime/stime come in 10 ms ticks). */
export function processRunNs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try { ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'latin1').split(' ')[0]); } catch { /* thread gone */ }
    }
    return ns;
  } catch {
    return undefined;
  }
}

/** VmRSS of a process, kB. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m !== null ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
