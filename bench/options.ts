// Benchmark options: command-line flags win over BENCH_* environment variables. Pure.
export interface Scenario {
  readonly id: string;
  readonly label: string;
  /** `idle`: no broadcast at all, the daemon alone (Icecast up, and Icecast down). */
  readonly kind: 'audio' | 'video' | 'idle';
  /** Ogg/Opus copy, MP3 128k transcode, WebM (VP8+Opus) copy. */
  readonly format: 'ogg' | 'mp3' | 'webm';
  readonly n: number;
  /** Listen to every k-th stream only (1 = all): the load generator can't decode 1000 captures. */
  readonly listenEvery: number;
  /** Run icewire only (a thousand ffmpegs would not fit in memory). */
  readonly icewireOnly: boolean;
}

const LABEL = { ogg: 'Opus copy', mp3: 'MP3 128k', webm: 'VP8+Opus WebM copy' } as const;

export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.fromEntries([
  ...([
    ['copy1', 'audio', 'ogg', 1], ['copy10', 'audio', 'ogg', 10], ['copy24', 'audio', 'ogg', 24], ['copy50', 'audio', 'ogg', 50],
    ['copy100', 'audio', 'ogg', 100], ['copy300', 'audio', 'ogg', 300], ['copy1000', 'audio', 'ogg', 1000],
    ['mp3_10', 'audio', 'mp3', 10], ['mp3_40', 'audio', 'mp3', 40], ['mp3_50', 'audio', 'mp3', 50], ['mp3_70', 'audio', 'mp3', 70],
    ['video1', 'video', 'webm', 1], ['video4', 'video', 'webm', 4],
  ] as const).map(([id, kind, format, n]): [string, Scenario] => [id, {
    id, kind, format, n,
    label: `${LABEL[format]} ×${n}`,
    listenEvery: n > 100 ? Math.round(n / 100) : 1,
    icewireOnly: n > 100,
  }]),
  ['idle', { id: 'idle', kind: 'idle', format: 'ogg', n: 0, label: 'idle daemon', listenEvery: 1, icewireOnly: true }],
]);

/** MP3 transcodes at the point where the two cores saturate (side by side), and past it. */
export const MP3_SATURATION = 'mp3_50';
export const MP3_PAST_SATURATION = 'mp3_70';

export const FULL = ['idle', 'copy1', 'copy24', 'copy100', 'copy1000', 'mp3_10', MP3_SATURATION, MP3_PAST_SATURATION, 'video1', 'video4'];
export const QUICK = ['copy1', 'copy10'];

export interface Options {
  readonly scenarios: Scenario[];
  readonly quick: boolean;
  /** Length of the recorded broadcaster stream (and so of each run). */
  readonly seconds: number;
  /** Start of the steady state, after the first chunk. */
  readonly warmupS: number;
  readonly sides: ('icewire' | 'baseline')[];
  readonly profile: boolean;
  readonly heap: boolean;
  readonly writeDoc: boolean;
  readonly docPath: string;
  readonly freshRecording: boolean;
  readonly outDir: string | undefined;
  /** The whole run stops (children killed) after this. */
  readonly timeoutS: number;
  /** Parallel stream set-ups (hello, live, listener). */
  readonly setupConcurrency: number;
  /** The daemon's entry point (default: this tree's dist/server/main.js): another build, for a before/after. */
  readonly daemon: string | undefined;
  readonly help: boolean;
}

export const USAGE = `npm run bench [-- options]

  --quick               N=1 and N=10 Opus copy only, 10 s streams (about a minute); no doc update
  --scenarios=a,b       any of ${Object.keys(SCENARIOS).join(' ')}   (BENCH_SCENARIOS)
  --seconds=S           length of the recorded stream, default 20 (quick: 10)   (BENCH_SECONDS)
  --warmup=S            steady state starts S s after the first chunk, default 3  (BENCH_WARMUP_S)
  --sides=icewire,baseline   run one side only (default both, side by side)      (BENCH_SIDES)
  --profile             run the daemon under node --cpu-prof and summarise it    (BENCH_PROFILE=1)
  --heap                heap snapshot of the daemon after the steady window, summarised (BENCH_HEAP=1)
  --write-doc / --no-doc   update docs/performance.md (default: yes for the full matrix, no otherwise)
  --doc=PATH            where to write the results section (BENCH_DOC)
  --fresh-recording     record the browser streams again (BENCH_CACHE holds them)
  --out=DIR             keep captures, logs and results.json here (BENCH_OUT)
  --timeout=S           hard stop for the whole run, default 1500                (BENCH_TIMEOUT_S)
  --daemon=PATH         run this build's daemon (its dist/server/main.js) instead of this tree's,
                        e.g. the code before a change, for a before/after profile  (BENCH_DAEMON)
`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const flags = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m === null) throw new Error(`unknown argument ${a}\n\n${USAGE}`);
    flags.set(m[1]!, m[2] ?? 'true');
  }
  const known = ['quick', 'scenarios', 'seconds', 'warmup', 'sides', 'profile', 'heap', 'write-doc', 'no-doc', 'doc', 'fresh-recording', 'out', 'timeout', 'concurrency', 'daemon', 'help'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}\n\n${USAGE}`);
  const quick = flags.has('quick');
  const list = (flags.get('scenarios') ?? env.BENCH_SCENARIOS ?? (quick ? QUICK : FULL).join(',')).split(',').map((s) => s.trim()).filter((s) => s !== '');
  const scenarios = list.map((id) => {
    const s = SCENARIOS[id];
    if (s === undefined) throw new Error(`unknown scenario ${id}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    return s;
  });
  const num = (v: string | undefined, d: number, min: number, max: number, what: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${what} must be a number from ${min} to ${max}`);
    return n;
  };
  const seconds = Math.round(num(flags.get('seconds') ?? env.BENCH_SECONDS, quick ? 10 : 20, 6, 300, 'seconds'));
  const sides = (flags.get('sides') ?? env.BENCH_SIDES ?? 'icewire,baseline').split(',').map((s) => s.trim());
  for (const s of sides) if (s !== 'icewire' && s !== 'baseline') throw new Error(`sides: icewire and/or baseline, not ${s}`);
  const isFull = !quick && JSON.stringify(list) === JSON.stringify(FULL) && sides.length === 2 && !flags.has('daemon') && env.BENCH_DAEMON === undefined;
  return {
    scenarios,
    quick,
    seconds,
    warmupS: num(flags.get('warmup') ?? env.BENCH_WARMUP_S, 3, 0, seconds - 3, 'warmup'),
    sides: sides as ('icewire' | 'baseline')[],
    profile: flags.has('profile') || env.BENCH_PROFILE === '1',
    heap: flags.has('heap') || env.BENCH_HEAP === '1',
    writeDoc: flags.has('no-doc') ? false : flags.has('write-doc') || flags.has('doc') || env.BENCH_DOC !== undefined || isFull,
    docPath: flags.get('doc') ?? env.BENCH_DOC ?? 'docs/performance.md',
    freshRecording: flags.has('fresh-recording'),
    outDir: flags.get('out') ?? env.BENCH_OUT,
    timeoutS: num(flags.get('timeout') ?? env.BENCH_TIMEOUT_S, 1500, 30, 7200, 'timeout'),
    setupConcurrency: Math.round(num(flags.get('concurrency'), 16, 1, 200, 'concurrency')),
    daemon: flags.get('daemon') ?? env.BENCH_DAEMON,
    help: flags.has('help'),
  };
}
