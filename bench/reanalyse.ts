// Re-runs the per-stream analysis on a saved capture (<name>.<ext> + <name>.times.json from a
// bench run's captures/ directory), e.g. after changing analyze.ts:
//   node dist/bench/reanalyse.js /tmp/icewire-bench-…/copy1/captures/icewire-1.ogg [audio|video] [seconds]
// BENCH_DEBUG_DELAYS=<name> prints every steady-state packet's delay.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { analyseSource, analyseStream, type Container } from './analyze.js';
import { sourcePackets, type TimedChunk } from './capture-parse.js';
import { recording } from './record.js';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: node dist/bench/reanalyse.js <capture file> [audio|video] [seconds]\n');
  process.exit(2);
}
const kind = (process.argv[3] ?? 'audio') as 'audio' | 'video';
const seconds = Number(process.argv[4] ?? 20);
const name = basename(file).replace(/\.[a-z0-9]+$/, '');
const times = JSON.parse(readFileSync(join(dirname(file), `${name}.times.json`), 'utf8')) as {
  container: Container; warmupMs: number; firstAudioOverride: number | null; sendTimes: (number | null)[]; arrivals: [number, number][];
};
const data = readFileSync(file);
const capture: TimedChunk[] = [];
let at = 0;
for (const [t, len] of times.arrivals) { capture.push({ t, data: data.subarray(at, at + len) }); at += len; }
const rec = await recording(kind, seconds);
const src = await analyseSource(rec.file, rec.chunks.map((c) => rec.data.subarray(c.offset, c.offset + c.length)), sourcePackets);
const codecs = times.container === 'ogg' ? ['opus'] : times.container === 'mp3' ? ['mp3'] : ['opus', 'vp8'];
const f = await analyseStream(src, {
  container: times.container, expectedCodecs: codecs, capture, firstAudioOverride: times.firstAudioOverride ?? undefined,
  sendTimes: times.sendTimes.map((t) => t ?? undefined), warmupMs: times.warmupMs,
}, join(dirname(file), 'reanalysed'), name);
const { delays, ...rest } = f;
process.stdout.write(`${JSON.stringify(rest, null, 1)}\n${delays.length} delays\n`);
