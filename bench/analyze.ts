// Per-stream figures from what a listener received and when each chunk was sent:
//   first audio  time from the first chunk sent to the first complete audio packet at the listener
//   delay        arrival of listener audio at source position p − send time of the chunk that held p,
//                p found by matching level envelopes (signal.ts), never by the stream's timestamps
//   valid        ffprobe reads the capture with the expected codecs and enough audio
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packetAt, parseMp3, parseOggOpus, parseWebm, type ParsedCapture, type SourcePackets, type TimedChunk } from './capture-parse.js';
import { ENV_HOP, envelopeDb, globalLag, median, quantile, segmentLags } from './signal.js';

const run = promisify(execFile);
/** A packet this late (s) waited for the next chunk somewhere (a chunk comes every ~0.3 s). */
export const LATE_S = 0.15;

export type Container = 'ogg' | 'mp3' | 'webm';

/** Decoded mono 48 kHz float PCM of a media file. */
export async function decodePcm(file: string): Promise<Float32Array> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-map', '0:a:0', '-ac', '1', '-ar', '48000', '-f', 'f32le', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 1 << 30 });
  const b = stdout as unknown as Buffer;
  const copy = new Float32Array(b.length >> 2);
  for (let i = 0; i < copy.length; i++) copy[i] = b.readFloatLE(i * 4);
  return copy;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly codecs: string[];
  readonly audioSeconds: number;
  readonly errors: number;
}

export async function ffprobe(file: string): Promise<ProbeResult> {
  try {
    const { stdout, stderr } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type:packet=codec_type,pts_time,duration_time', '-of', 'json', file],
      { maxBuffer: 1 << 28 });
    const j = JSON.parse(stdout) as { streams?: { codec_name: string }[]; packets?: { codec_type?: string; pts_time?: string; duration_time?: string }[] };
    const audio = (j.packets ?? []).filter((p) => p.codec_type === 'audio' && p.pts_time !== undefined);
    let audioSeconds = 0;
    if (audio.length > 0) {
      const last = audio[audio.length - 1]!;
      audioSeconds = Number(last.pts_time) + Number(last.duration_time ?? 0) - Number(audio[0]!.pts_time);
    }
    return { ok: true, codecs: (j.streams ?? []).map((s) => s.codec_name).sort(), audioSeconds, errors: stderr.split('\n').filter((l) => l.trim() !== '').length };
  } catch {
    return { ok: false, codecs: [], audioSeconds: 0, errors: 1 };
  }
}

export interface SourceSide {
  readonly packets: SourcePackets;
  readonly envelope: Float32Array;
  /** Seconds of audio in the recording. */
  readonly seconds: number;
}

export async function analyseSource(file: string, chunks: readonly Buffer[], sourcePacketsOf: (c: readonly Buffer[]) => SourcePackets): Promise<SourceSide> {
  const pcm = await decodePcm(file);
  const packets = sourcePacketsOf(chunks);
  return { packets, envelope: envelopeDb(pcm), seconds: (packets.ends[packets.ends.length - 1] ?? 0) / 48000 };
}

export interface StreamInput {
  readonly container: Container;
  readonly expectedCodecs: readonly string[];
  /** Listener bytes with arrival times (the attempt that carried the stream). */
  readonly capture: readonly TimedChunk[];
  /** When the earliest audio unit arrived over all listener attempts (WebM listeners may retry). */
  readonly firstAudioOverride?: number | undefined;
  /** performance.now() when each recorded chunk was sent (undefined = not sent). */
  readonly sendTimes: readonly (number | undefined)[];
  readonly warmupMs: number;
  /** Saved with the times (e.g. the listener's attempts). */
  readonly extra?: Record<string, unknown>;
}

export interface StreamFigures {
  /** s */
  readonly firstAudio: number | undefined;
  /** s; median and 95th percentile of the steady-state per-packet delays */
  readonly delayMedian: number | undefined;
  readonly delayP95: number | undefined;
  readonly delayMean: number | undefined;
  /** Share of steady-state packets that arrived more than LATE_S after their chunk was sent. */
  readonly lateShare: number | undefined;
  readonly delayPackets: number;
  /** Correlation of the listener's envelope with the source's at the global lag. */
  readonly matchR: number | undefined;
  /** Listener audio began this many ms into the source. */
  readonly lagMs: number | undefined;
  readonly valid: boolean;
  readonly why: string;
  readonly audioSeconds: number;
  readonly bytes: number;
  /** Raw steady-state delays (s), for pooled percentiles. */
  readonly delays: number[];
}

function parse(container: Container, capture: readonly TimedChunk[]): ParsedCapture {
  return container === 'ogg' ? parseOggOpus(capture) : container === 'mp3' ? parseMp3(capture) : parseWebm(capture);
}

export async function analyseStream(src: SourceSide, s: StreamInput, tmpDir: string, name: string): Promise<StreamFigures> {
  mkdirSync(tmpDir, { recursive: true });
  const file = join(tmpDir, `${name}.${s.container}`);
  const data = Buffer.concat(s.capture.map((c) => c.data));
  writeFileSync(file, data);
  // arrival and send times, to re-run the analysis offline (bench/reanalyse.ts)
  writeFileSync(join(tmpDir, `${name}.times.json`), JSON.stringify({
    container: s.container, warmupMs: s.warmupMs, firstAudioOverride: s.firstAudioOverride ?? null,
    sendTimes: s.sendTimes.map((t) => t ?? null), arrivals: s.capture.map((c) => [c.t, c.data.length]), ...s.extra,
  }));
  const parsed = parse(s.container, s.capture);
  const t0 = s.sendTimes[0];
  const firstAt = s.firstAudioOverride ?? parsed.firstAudio;
  const firstAudio = t0 !== undefined && firstAt !== undefined ? (firstAt - t0) / 1000 : undefined;

  const probe = await ffprobe(file);
  const codecsOk = JSON.stringify(probe.codecs) === JSON.stringify([...s.expectedCodecs].sort());
  const expectSeconds = src.seconds - (firstAudio ?? 0);
  const enough = probe.audioSeconds >= expectSeconds - 1.5;
  const valid = probe.ok && codecsOk && enough;
  const why = !probe.ok ? 'ffprobe failed' : !codecsOk ? `codecs ${probe.codecs.join('+') || 'none'}` : !enough ? `only ${probe.audioSeconds.toFixed(1)} of ${expectSeconds.toFixed(1)} s` : 'ok';

  const base = { firstAudio, valid, why, audioSeconds: probe.audioSeconds, bytes: data.length };
  if (parsed.packets.length === 0 || t0 === undefined) {
    return { ...base, delayMedian: undefined, delayP95: undefined, delayMean: undefined, lateShare: undefined, delayPackets: 0, matchR: undefined, lagMs: undefined, delays: [] };
  }
  let pcm: Float32Array;
  try {
    pcm = await decodePcm(file);
  } catch {
    return { ...base, delayMedian: undefined, delayP95: undefined, delayMean: undefined, lateShare: undefined, delayPackets: 0, matchR: undefined, lagMs: undefined, delays: [] };
  }
  const env = envelopeDb(pcm);
  const fit = globalLag(src.envelope, env, -500, Math.min(15000, src.envelope.length));
  const segments = Number.isFinite(fit.r) && fit.r >= 0.6 ? segmentLags(src.envelope, env, fit.lag, 2000, 100, 0.7) : [];
  const delays: number[] = [];
  let cum = 0;
  let seg = 0;
  const steadyFrom = t0 + s.warmupMs;
  for (const p of parsed.packets) {
    cum += p.samples;
    const d = cum - parsed.skip - 1; // last decoded sample of this packet
    if (d < 0 || p.arrival < steadyFrom) continue;
    const e = Math.floor(d / ENV_HOP);
    while (seg < segments.length && segments[seg]!.to <= e) seg++;
    const sg = segments[seg];
    if (sg === undefined || e < sg.from) continue;
    const k = packetAt(src.packets.ends, d + sg.lag * ENV_HOP + src.packets.skip);
    if (k < 0) continue;
    const sent = s.sendTimes[src.packets.chunk[k]!];
    if (sent === undefined) continue;
    delays.push((p.arrival - sent) / 1000);
    if (process.env.BENCH_DEBUG_DELAYS === name) {
      process.stderr.write(`${name} pkt end=${cum} d=${d} lag=${sg.lag} r=${sg.r.toFixed(3)} src#${k} chunk=${src.packets.chunk[k]} arr=${(p.arrival - t0).toFixed(1)} sent=${(sent - t0).toFixed(1)} delay=${(p.arrival - sent).toFixed(1)}\n`);
    }
  }
  return {
    ...base,
    delayMedian: delays.length > 0 ? median(delays) : undefined,
    delayP95: delays.length > 0 ? quantile(delays, 0.95) : undefined,
    delayMean: delays.length > 0 ? delays.reduce((a, b) => a + b, 0) / delays.length : undefined,
    lateShare: delays.length > 0 ? delays.filter((d) => d > LATE_S).length / delays.length : undefined,
    delayPackets: delays.length,
    matchR: Number.isFinite(fit.r) ? fit.r : undefined,
    lagMs: Number.isFinite(fit.r) ? fit.lag : undefined,
    delays,
  };
}
