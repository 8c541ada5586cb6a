// Records the benchmark's broadcaster streams with a real browser: Debian's Chromium, its fake
// microphone fed the test WAV (signal.ts) and its fake camera, MediaRecorder with the settings the
// broadcaster page uses (www/src/media-settings.ts: 128 kbit/s Opus, "music" preset, VP8 1.5 Mbit/s
// with a keyframe every second, 250 ms timeslice). Each chunk is saved with the time the page got
// it, so the bench can replay the stream chunk by chunk at the recorded pace.
// Recordings are cached (BENCH_CACHE, default $TMPDIR/icewire-bench-cache) by kind and length.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { writeTestWav } from './signal.js';

export type StreamKind = 'audio' | 'video';

export interface RecordedChunk {
  /** ms since the first chunk arrived in the page. */
  readonly t: number;
  readonly offset: number;
  readonly length: number;
}

export interface Recording {
  readonly kind: StreamKind;
  readonly mime: string;
  readonly dir: string;
  /** The whole stream (all chunks concatenated). */
  readonly file: string;
  readonly data: Buffer;
  readonly chunks: readonly RecordedChunk[];
  /** What the browser said about its tracks. */
  readonly settings: Record<string, unknown>;
  readonly browser: string;
}

// Mirrors www/src/media-settings.ts (the broadcaster page's recorder settings).
const AUDIO_MIME = 'audio/webm;codecs=opus';
const VIDEO_MIME = 'video/webm;codecs=vp8,opus';
const AUDIO_BITS_PER_SECOND = 128_000;
const VIDEO_BITS_PER_SECOND = 1_500_000;
const TIMESLICE_MS = 250;
const CHROMIUM = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
const CACHE_VERSION = 'v1';

export function cacheDir(): string {
  return process.env.BENCH_CACHE ?? join(tmpdir(), 'icewire-bench-cache');
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>icewire bench recorder</title><body>recorder</body>';

interface PageChunk { t: number; b64: string }
interface PageResult { chunks: PageChunk[]; mime: string; settings: Record<string, unknown> }
interface PageArgs { video: boolean; ms: number; mime: string; audioBps: number; videoBps: number; timeslice: number }

/** Runs in the page. */
async function recordInPage(a: PageArgs): Promise<PageResult> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, sampleRate: { ideal: 48000 }, channelCount: { ideal: 2 } },
    video: a.video ? { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } } : false,
  });
  const opts: MediaRecorderOptions & { videoKeyFrameIntervalDuration?: number } = { mimeType: a.mime, audioBitsPerSecond: a.audioBps };
  if (a.video) {
    opts.videoBitsPerSecond = a.videoBps;
    opts.videoKeyFrameIntervalDuration = 1000;
  }
  const rec = new MediaRecorder(stream, opts);
  const got: { t: number; blob: Blob }[] = [];
  rec.ondataavailable = (e: BlobEvent) => { got.push({ t: performance.now(), blob: e.data }); };
  const stopped = new Promise<void>((resolve) => { rec.onstop = () => resolve(); });
  rec.start(a.timeslice);
  await new Promise((r) => setTimeout(r, a.ms));
  rec.stop();
  await stopped;
  const settings: Record<string, unknown> = {};
  for (const t of stream.getTracks()) settings[t.kind] = t.getSettings();
  for (const t of stream.getTracks()) t.stop();
  const chunks: PageChunk[] = [];
  for (const g of got) {
    const bytes = new Uint8Array(await g.blob.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    chunks.push({ t: g.t, b64: btoa(bin) });
  }
  return { chunks, mime: rec.mimeType, settings };
}

function chromiumVersion(): string {
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

function load(dir: string, kind: StreamKind): Recording | undefined {
  const meta = join(dir, 'chunks.json');
  const file = join(dir, 'stream.webm');
  if (!existsSync(meta) || !existsSync(file)) return undefined;
  const m = JSON.parse(readFileSync(meta, 'utf8')) as { mime: string; chunks: RecordedChunk[]; settings: Record<string, unknown>; browser: string };
  return { kind, mime: m.mime, dir, file, data: readFileSync(file), chunks: m.chunks, settings: m.settings, browser: m.browser };
}

/** The cached recording of `seconds` of `kind`, made now if missing (or if fresh is set). */
export async function recording(kind: StreamKind, seconds: number, opts: { fresh?: boolean; log?: (s: string) => void } = {}): Promise<Recording> {
  const log = opts.log ?? (() => {});
  const dir = join(cacheDir(), `rec-${CACHE_VERSION}-${kind}-${seconds}s`);
  if (!opts.fresh) {
    const cached = load(dir, kind);
    if (cached !== undefined) return cached;
  }
  mkdirSync(cacheDir(), { recursive: true });
  const wav = join(cacheDir(), `signal-${CACHE_VERSION}-${seconds + 20}s.wav`);
  if (!existsSync(wav)) writeTestWav(wav, seconds + 20);
  log(`recording ${seconds} s of ${kind} with ${CHROMIUM} (fake devices, MediaRecorder timeslice ${TIMESLICE_MS} ms)…`);

  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30000,
    args: [
      '--headless=new', '--no-sandbox',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
  let result: PageResult;
  try {
    const page = await browser.newPage();
    // 127.0.0.1 is a secure context, so getUserMedia is allowed over plain http
    await page.goto(`http://127.0.0.1:${port}/`);
    result = await page.evaluate(recordInPage, {
      video: kind === 'video', ms: seconds * 1000, mime: kind === 'video' ? VIDEO_MIME : AUDIO_MIME,
      audioBps: AUDIO_BITS_PER_SECOND, videoBps: VIDEO_BITS_PER_SECOND, timeslice: TIMESLICE_MS,
    });
  } finally {
    await browser.close();
    server.close();
  }
  const bufs = result.chunks.map((c) => Buffer.from(c.b64, 'base64'));
  const t0 = result.chunks[0]?.t ?? 0;
  let offset = 0;
  const chunks: RecordedChunk[] = [];
  result.chunks.forEach((c, i) => {
    // empty chunks (the recorder had nothing yet) carry no bytes: nothing to send
    if (bufs[i]!.length > 0) chunks.push({ t: Math.round((c.t - t0) * 1000) / 1000, offset, length: bufs[i]!.length });
    offset += bufs[i]!.length;
  });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'stream.webm'), Buffer.concat(bufs));
  writeFileSync(join(tmp, 'chunks.json'), JSON.stringify({ mime: result.mime, chunks, settings: result.settings, browser: chromiumVersion() }, null, 1));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  const rec = load(dir, kind)!;
  log(`recorded ${rec.chunks.length} chunks, ${rec.data.length} bytes (${rec.mime}) into ${dir}`);
  return rec;
}
