// The one teardown every suite runs under (mocha loads this file with --require: .mocharc.json),
// with one leftover-process rule:
//
//   A process started while a test runs (its beforeEach/afterEach hooks included) is gone when the
//   test ends: no ffmpeg, icecast2, browser or daemon process is left behind. What a suite starts
//   in `before` (a shared icecast2, a browser) may live until its `after`, and is gone by the end
//   of the run.
//
// First the cleanups a test registered with afterThisTest() run (newest first). A leftover is then
// waited for a moment (it may be exiting), killed, so one test's leak cannot break the next, and
// the run fails at the end naming each test and what it left.
//
// Temporary files: the run gets one directory of its own and TMPDIR points at it, so every
// mkdtemp in a test, and every child process (icecast2, ffmpeg, the browsers' profiles), writes
// below it; it is removed at the end of the run (kept when ICEWIRE_KEEP_TMP is set, to look at).
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN_TMP = mkdtempSync(join(tmpdir(), 'icewire-run-'));
// mkdtemp makes it 0700: run as root, icecast2 drops to its own user (<changeowner>) and could not
// reach its log directory below it, and exits at once. Each test's own directory stays 0700.
chmodSync(RUN_TMP, 0o755);
process.env['TMPDIR'] = RUN_TMP;

/** How long a leftover may take to exit on its own after a test. */
const REAP_WAIT_MS = 5000;

interface Child { readonly pid: number; readonly comm: string }

/** Leftovers found so far: `test title: what`. */
const leaks: string[] = [];
/** Children alive when the current test started; undefined between tests. */
let atTestStart: Set<number> | undefined;
let cleanups: (() => unknown)[] = [];

/** This process's live children (zombies only wait to be reaped: they are gone). */
export function liveChildren(pid = process.pid): Child[] {
  const out: Child[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    let list: string;
    try {
      list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const s of list.trim().split(/\s+/).filter(Boolean)) {
      const child = Number(s);
      try {
        const stat = readFileSync(`/proc/${child}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
        out.push({ pid: child, comm: readFileSync(`/proc/${child}/comm`, 'utf8').trim() });
      } catch {
        // it exited between the reads
      }
    }
  }
  return out;
}

/**
 * Run `fn` when the current test ends, before the leftover check (e.g. stop a daemon it started).
 * Outside a test (in a suite's before/after) it does nothing: the suite's own after hook stops
 * what it started.
 */
export function afterThisTest(fn: () => unknown): void {
  if (atTestStart !== undefined) cleanups.push(fn);
}

/** Wait for `which` children to exit; kill and record those that do not. */
async function reap(where: string, which: (c: Child) => boolean): Promise<void> {
  const deadline = Date.now() + REAP_WAIT_MS;
  let left = liveChildren().filter(which);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = liveChildren().filter(which);
  }
  if (left.length === 0) return;
  leaks.push(`${where}: ${left.map((c) => `${c.comm} (pid ${c.pid})`).join(', ')}`);
  for (const c of left) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export const mochaHooks = {
  beforeEach(): void {
    atTestStart = new Set(liveChildren().map((c) => c.pid));
    cleanups = [];
  },
  async afterEach(this: Mocha.Context): Promise<void> {
    const before = atTestStart ?? new Set<number>();
    atTestStart = undefined;
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // a cleanup that fails still leaves the leftover check to say what is left
      }
    }
    await reap(this.currentTest?.fullTitle() ?? 'a test', (c) => !before.has(c.pid));
  },
  async afterAll(): Promise<void> {
    await reap('a suite\'s before/after (still running at the end of the run)', () => true);
    if (process.env['ICEWIRE_KEEP_TMP'] === undefined) {
      try {
        rmSync(RUN_TMP, { recursive: true, force: true, maxRetries: 3 });
      } catch (err) {
        console.warn(`could not remove the run's temporary directory ${RUN_TMP}: ${(err as Error).message}`);
      }
    }
    if (leaks.length > 0) throw new Error(`processes were left running:\n  ${leaks.join('\n  ')}`);
  },
};
