// The show recorder on real media (ffmpeg-made fixtures fed through our own demuxer), checked with
// ffprobe: Ogg/Opus files from packets (with silence and segments), raw WebM files (with keyframe
// segments), bounded writes, fs errors that end the recording but never throw.
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebmDemuxer } from '../../server/pipeline/webm-demuxer.js';
import { RecordingFile } from '../../server/recorder/recording-file.js';
import { RecordingLedger } from '../../server/recorder/recording-ledger.js';
import { parseRecordingMeta, RECORDING_FILE_RE, recordingFileName, recordingStem } from '../../server/recorder/recording-names.js';
import { createShowRecorder, type ArchiveRecorder } from '../../server/recorder/show-recorder.js';
import { audioPacketHashes, fixture, probe } from '../helpers/media.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { captureLogger } from '../helpers/log-capture.js';
import { RUNAWAY_PACKET, RUNAWAY_PACKET_MS, runawayOpusHead, runawayStream } from '../helpers/runaway-opus.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'icewire-rec-'));
}

const T0 = Date.parse('2026-11-21T14:30:05.250Z');

/** The Opus track of a WebM file as the broadcast hands it to a recorder. */
function opusOf(file: string): { head: Buffer; packets: Buffer[] } {
  const events = new WebmDemuxer().push(readFileSync(file));
  const tracks = events.find((e) => e.type === 'tracks');
  assert.ok(tracks?.type === 'tracks');
  const audio = tracks.tracks.find((t) => t.type === 'audio')!;
  const packets = events.flatMap((e) => (e.type === 'frame' && e.track === audio.number ? [e.data] : []));
  return { head: audio.codecPrivate!, packets };
}

/** Feed packets as a broadcast would, a fake clock advancing 20 ms per packet. */
function feed(r: ArchiveRecorder, packets: Buffer[], clock: { t: number }): void {
  for (const p of packets) {
    assert.equal(r.packet(p), true, 'a recorder never asks the broadcaster to slow down');
    clock.t += 20;
  }
}

function recordings(dir: string): string[] {
  return readdirSync(dir).filter((n) => RECORDING_FILE_RE.test(n)).sort().map((n) => join(dir, n));
}

describe('recording names', () => {
  it('are the UTC start time without colons, with a suffix when taken', () => {
    const at = new Date(T0);
    assert.equal(recordingStem(at), '2026-11-21T14-30-05Z');
    assert.equal(recordingFileName(at, 'ogg-opus'), '2026-11-21T14-30-05Z.ogg');
    assert.equal(recordingFileName(at, 'webm', 2), '2026-11-21T14-30-05Z-2.webm');
    for (const ok of ['2026-11-21T14-30-05Z.ogg', '2026-11-21T14-30-05Z-12.webm']) assert.ok(RECORDING_FILE_RE.test(ok), ok);
    for (const bad of ['2026-11-21T14:30:05Z.ogg', '../2026-11-21T14-30-05Z.ogg', '2026-11-21T14-30-05Z.ogg.json', '2026-11-21T14-30-05Z.mp3', '2026-11-21T14-30-05Z-.ogg', '2026-11-21T14-30-05Z.ogg\n']) {
      assert.ok(!RECORDING_FILE_RE.test(bad), bad);
    }
  });

  it('sidecars are checked for shape', () => {
    const good = { user: 'alice', stationMount: 'live', startedAt: 'x', endedAt: null, bytes: 0, format: 'ogg-opus' };
    assert.deepEqual(parseRecordingMeta(good), good);
    assert.equal(parseRecordingMeta({ ...good, user: 5 }), undefined);
    assert.equal(parseRecordingMeta({ ...good, format: 'mp3' }), undefined);
    assert.equal(parseRecordingMeta([]), undefined);
    assert.equal(parseRecordingMeta(null), undefined);
  });
});

describe('show recorder: audio (Ogg/Opus from the broadcaster\'s packets)', function () {
  this.timeout(30000);

  it('writes one valid Ogg/Opus file with the packets as sent, an end page, and a sidecar', async () => {
    const dir = tmp();
    const { logger } = captureLogger();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const clock = { t: T0 };
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger, now: () => clock.t });
    r.raw(Buffer.from('ignored'), true);
    r.start(head);
    feed(r, packets, clock);
    await r.finish();
    const files = recordings(join(dir, 'live'));
    assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)), ['2026-11-21T14-30-05Z.ogg']);
    const p = await probe(files[0]!);
    assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
    assert.ok(Math.abs(p.audioSeconds - 6) < 0.1, `${p.audioSeconds} s`);
    // no re-encoding: the broadcaster's packets, in order (then the end page's 20 ms of silence)
    const sent = await audioPacketHashes(await fixture('audio-webm', 6));
    const got = await audioPacketHashes(files[0]!);
    assert.deepEqual(got.slice(0, -1), sent);
    const pages = oggPages(readFileSync(files[0]!));
    assert.equal(new Set(pages.map((pg) => pg.serial)).size, 1);
    assert.ok(pages[0]!.bos && !pages.slice(1).some((pg) => pg.bos));
    assert.ok(pages.at(-1)!.eos && !pages.slice(0, -1).some((pg) => pg.eos), 'ends with an end-of-stream page');
    const meta = JSON.parse(readFileSync(`${files[0]}.json`, 'utf8'));
    assert.deepEqual(meta, {
      user: 'alice', stationMount: 'live', startedAt: new Date(T0).toISOString(), endedAt: new Date(clock.t).toISOString(),
      bytes: statSync(files[0]!).size, format: 'ogg-opus',
    });
  });

  it('the sidecar exists from the start (endedAt null) and is rewritten at the finish', async () => {
    const dir = tmp();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger: captureLogger().logger });
    r.start(head);
    feed(r, packets.slice(0, 10), { t: 0 });
    const [file] = recordings(join(dir, 'live'));
    assert.equal(JSON.parse(readFileSync(`${file}.json`, 'utf8')).endedAt, null);
    await r.finish();
    await r.finish(); // idempotent
    assert.notEqual(JSON.parse(readFileSync(`${file}.json`, 'utf8')).endedAt, null);
    assert.deepEqual(readdirSync(join(dir, 'live')).sort(), [file!.slice(file!.lastIndexOf('/') + 1), `${file!.slice(file!.lastIndexOf('/') + 1)}.json`]);
  });

  it('a broadcaster\'s drop is silence in the file: its duration is the show\'s', async () => {
    const dir = tmp();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger: captureLogger().logger });
    r.start(head);
    feed(r, packets.slice(0, 100), { t: 0 }); // 2 s
    for (let i = 0; i < 30; i++) r.silence(100); // 3 s away, in 100 ms ticks as the broadcast writes it
    feed(r, packets.slice(100, 200), { t: 0 }); // 2 s
    await r.finish();
    const p = await probe(recordings(join(dir, 'live'))[0]!);
    assert.ok(Math.abs(p.audioSeconds - 7) < 0.1, `${p.audioSeconds} s`);
  });

  it('segmentMs splits a show into valid files of that length, each a complete stream', async () => {
    const dir = tmp();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const clock = { t: T0 };
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, segmentMs: 2000, logger: captureLogger().logger, now: () => clock.t });
    r.start(head);
    feed(r, packets.slice(0, 250), clock); // 5 s
    await r.finish();
    const files = recordings(join(dir, 'live'));
    assert.deepEqual(files, r.files.slice().sort());
    assert.equal(files.length, 3);
    const seconds: number[] = [];
    for (const f of files) {
      const p = await probe(f);
      assert.deepEqual(p.streams.map((s) => s.codec), ['opus'], f);
      seconds.push(Math.round(p.audioSeconds * 100) / 100);
      const pages = oggPages(readFileSync(f));
      assert.ok(pages[0]!.bos && pages.at(-1)!.eos, `${f} starts with BOS and ends with EOS`);
      assert.equal(new Set(pages.map((pg) => pg.serial)).size, 1);
      assert.equal(JSON.parse(readFileSync(`${f}.json`, 'utf8')).user, 'alice');
    }
    assert.ok(Math.abs(seconds[0]! - 2) < 0.05 && Math.abs(seconds[1]! - 2) < 0.05, `segments ${seconds.join(', ')} s`);
    assert.ok(Math.abs(seconds.reduce((a, b) => a + b, 0) - 5) < 0.1, `segments ${seconds.join(', ')} s`);
    // every packet is in exactly one file: the serials differ, the starts follow the clock
    assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)), ['2026-11-21T14-30-05Z.ogg', '2026-11-21T14-30-07Z.ogg', '2026-11-21T14-30-09Z.ogg']);
  });

  it('names taken in the same second get -1, -2 (never overwritten)', async () => {
    const dir = tmp();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const clock = { t: T0 }; // 14:30:05.250
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, segmentMs: 300, logger: captureLogger().logger, now: () => clock.t });
    r.start(head);
    feed(r, packets.slice(0, 35), clock); // 0.7 s: 3 files in one second
    await r.finish();
    assert.deepEqual(recordings(join(dir, 'live')).map((f) => f.slice(f.lastIndexOf('/') + 1)), ['2026-11-21T14-30-05Z-1.ogg', '2026-11-21T14-30-05Z-2.ogg', '2026-11-21T14-30-05Z.ogg']);
  });

  it('segments follow the wall clock, not the media time the client claims (runaway input makes one file)', async () => {
    const dir = tmp();
    const clock = { t: T0 };
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, segmentMs: 60000, logger: captureLogger().logger, now: () => clock.t });
    const { chunks, claimedSeconds } = runawayStream('webm', 1 << 20);
    const demuxer = new WebmDemuxer();
    let packets = 0;
    // ~1 MiB over 10 s of wall clock, claiming hours
    for (const chunk of chunks) {
      for (const e of demuxer.push(chunk)) {
        if (e.type === 'tracks') r.start(e.tracks[0]!.codecPrivate!);
        if (e.type === 'frame') { assert.equal(r.packet(e.data), true); packets++; }
      }
      clock.t += 10000 / chunks.length;
    }
    await r.finish();
    assert.ok(claimedSeconds > 2 * 3600 && packets * RUNAWAY_PACKET_MS / 1000 === claimedSeconds, `claims ${claimedSeconds} s in ${packets} packets`);
    assert.equal(recordings(join(dir, 'live')).length, 1, 'one file for 10 s of wall clock');
    // and wall-clock time does split it: 70 s more, one packet a second
    const r2 = createShowRecorder({ dir: tmp(), stationMount: 'live', user: 'alice', video: false, segmentMs: 60000, logger: captureLogger().logger, now: () => clock.t });
    r2.start(runawayOpusHead());
    for (let i = 0; i < 70; i++) { r2.packet(RUNAWAY_PACKET); clock.t += 1000; }
    await r2.finish();
    assert.equal(r2.files.length, 2);
  });

  it('an OpusHead it cannot use: an error line, never a throw into the broadcast', async () => {
    const dir = tmp();
    const { logger, lines } = captureLogger();
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger });
    r.start(Buffer.from('not an OpusHead'));
    assert.equal(r.packet(Buffer.from([0xfc, 0xff, 0xfe])), true);
    r.silence(100);
    await r.finish();
    assert.equal(lines().filter((l) => l.level === 'error').length, 1);
  });

  it('a broadcast that never went live leaves nothing (keep() false)', async () => {
    const dir = tmp();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger: captureLogger().logger, keep: () => false });
    r.start(head);
    feed(r, packets.slice(0, 20), { t: 0 });
    await r.finish();
    assert.deepEqual(readdirSync(join(dir, 'live')), []);
  });

  it('a directory it cannot create: one error line, no throw, the broadcast goes on', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'live'), 'a file where the station directory should be');
    const { logger, lines } = captureLogger();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger });
    r.start(head);
    feed(r, packets.slice(0, 20), { t: 0 });
    r.silence(500);
    await r.finish();
    const errors = lines().filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /recording stopped: cannot create the file/);
  });

  it('a write error (disk full) ends the recording with an error line; the broadcast never sees it', async () => {
    const dir = tmp();
    const { logger, lines } = captureLogger();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger, open: () => openSync('/dev/full', 'w') });
    r.start(head);
    feed(r, packets.slice(0, 50), { t: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the first write fails asynchronously
    feed(r, packets.slice(50, 100), { t: 0 });
    await r.finish();
    const errors = lines().filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]!.message, /the file cannot be written/);
    assert.equal(errors[0]!.code, 'ENOSPC');
  });
});

describe('recording file: bounded writes', () => {
  it('drops (and counts) what the disk can\'t take instead of buffering without bound', async () => {
    const dir = tmp();
    const { logger, lines } = captureLogger();
    const f = RecordingFile.create({ stationDir: join(dir, 'live'), format: 'webm', user: 'alice', stationMount: 'live', startedAt: new Date(T0), logger, maxBufferedBytes: 64 * 1024 });
    const chunk = Buffer.alloc(16 * 1024, 7);
    for (let i = 0; i < 100; i++) f.write(chunk); // all in one tick: the stream can't flush in between
    assert.ok(f.droppedWrites > 0 && f.droppedBytes === f.droppedWrites * chunk.length);
    const bytes = await f.close(new Date(T0 + 1000));
    assert.equal(bytes, 100 * chunk.length - f.droppedBytes);
    assert.equal(statSync(f.path).size, bytes);
    assert.equal(lines().filter((l) => /dropping data/.test(l.message)).length, 1, 'one warning per episode');
    assert.ok(lines().some((l) => l.level === 'warn' && /finished with gaps/.test(l.message) && l.droppedBytes === f.droppedBytes));
  });
});

describe('show recorder: video (the WebM bytes as sent)', function () {
  this.timeout(30000);

  function chunks(data: Buffer, n: number): Buffer[] {
    const out: Buffer[] = [];
    const size = Math.ceil(data.length / n);
    for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
    return out;
  }

  it('one file per connection stream, byte for byte what the browser sent', async () => {
    const dir = tmp();
    const data = readFileSync(await fixture('video-webm', 4));
    const clock = { t: T0 };
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: true, logger: captureLogger().logger, now: () => clock.t });
    r.start(Buffer.alloc(19)); // the broadcast passes the OpusHead to every consumer: ignored
    assert.equal(r.packet(Buffer.from([0xfc, 0xff, 0xfe])), true);
    chunks(data, 40).forEach((c, i) => r.raw(c, i === 0));
    clock.t += 5000; // a drop, then the resumed connection's new stream
    r.silence(1000);
    chunks(data, 7).forEach((c, i) => r.raw(c, i === 0));
    await r.finish();
    const files = recordings(join(dir, 'live'));
    assert.equal(files.length, 2);
    for (const f of files) {
      assert.ok(readFileSync(f).equals(data), 'the file is the stream as sent');
      const p = await probe(f);
      assert.deepEqual(p.streams.map((s) => s.codec).sort(), ['opus', 'vp8']);
      assert.equal(JSON.parse(readFileSync(`${f}.json`, 'utf8')).format, 'webm');
    }
  });

  // the fixture's Clusters alternate: one starting with a keyframe, one not (every 0.5 s)
  for (const segmentMs of [1300, 2000, 2600]) it(`segments (${segmentMs} ms) start at a Cluster that starts with a keyframe, header first: every file decodes`, async () => {
    const dir = tmp();
    const data = readFileSync(await fixture('video-webm', 6));
    const clock = { t: T0 };
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: true, segmentMs, logger: captureLogger().logger, now: () => clock.t });
    const parts = chunks(data, 60); // 100 ms each
    parts.forEach((c, i) => { r.raw(c, i === 0); clock.t += 100; });
    await r.finish();
    const files = recordings(join(dir, 'live'));
    assert.ok(files.length >= 2 && files.length <= Math.ceil(6000 / segmentMs), `${files.length} files`);
    let total = 0;
    let frames = 0;
    for (const f of files) {
      const bytes = readFileSync(f);
      total += bytes.length;
      const events = new WebmDemuxer().push(bytes);
      assert.ok(!events.some((e) => e.type === 'error'), `${f} is valid WebM`);
      const tracks = events.find((e) => e.type === 'tracks');
      assert.ok(tracks?.type === 'tracks');
      const video = tracks.tracks.find((t) => t.type === 'video')!.number;
      const firstVideo = events.find((e) => e.type === 'frame' && e.track === video);
      assert.ok(firstVideo?.type === 'frame' && firstVideo.keyframe, `${f} starts on a keyframe`);
      frames += events.filter((e) => e.type === 'frame' && e.track === video).length;
      const p = await probe(f);
      assert.deepEqual(p.streams.map((s) => s.codec).sort(), ['opus', 'vp8']);
      assert.ok(p.videoPackets > 0);
    }
    // nothing lost or doubled: the original's frames, and its bytes plus one header per extra file
    const original = new WebmDemuxer().push(data);
    const header = (original.find((e) => e.type === 'tracks') as { header: Buffer }).header;
    const vTrack = (original.find((e) => e.type === 'tracks') as { tracks: { type: string; number: number }[] }).tracks.find((t) => t.type === 'video')!.number;
    assert.equal(frames, original.filter((e) => e.type === 'frame' && e.track === vTrack).length);
    assert.equal(total, data.length + (files.length - 1) * header.length);
  });
});

describe('show recorder: a disk that fails (write errors, files that cannot be created)', function () {
  this.timeout(30000);
  const NOSPC = (): never => { throw Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' }); };

  /** An open() hook that answers from a script: 'full' (writes fail with ENOSPC), 'refuse' (open fails), 'ok'. */
  function scriptedOpen(script: ('full' | 'refuse' | 'ok')[]): (path: string) => number {
    return (path) => {
      const step = script.shift() ?? 'ok';
      if (step === 'refuse') return NOSPC();
      return step === 'full' ? openSync('/dev/full', 'w') : openSync(path, 'wx', 0o640);
    };
  }

  /** An audio recorder (started) on a fake clock, retrying after 1 s, whose opens follow `script`. */
  async function audioRecorder(script: ('full' | 'refuse' | 'ok')[]) {
    const dir = tmp();
    const { logger, lines } = captureLogger();
    const ledger = new RecordingLedger();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const clock = { t: T0 };
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: false, logger, ledger, retryMs: 1000, now: () => clock.t, open: scriptedOpen(script) });
    r.start(head);
    return { dir, lines, ledger, packets, clock, r };
  }

  async function waitFor(what: string, ok: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), what);
  }

  it('audio: a write error ends that file as failed (disk-full); the gap is in the ledger; a new file starts after the retry delay', async () => {
    const { dir, lines, ledger, packets, clock, r } = await audioRecorder(['full', 'ok']);
    feed(r, packets.slice(0, 10), clock);
    await waitFor('the write error arrives', () => lines().some((l) => /cannot be written/.test(l.message)));
    const failedAt = clock.t;
    feed(r, packets.slice(10, 60), clock); // 1 s later: the retry is due, a new file starts
    feed(r, packets.slice(60, 110), clock);
    await r.finish();
    assert.equal(r.files.length, 2);
    const [first, second] = r.files as [string, string];
    const meta1 = parseRecordingMeta(JSON.parse(readFileSync(`${first}.json`, 'utf8')));
    assert.equal(meta1?.failed?.reason, 'disk-full');
    assert.equal(meta1?.failed?.code, 'ENOSPC');
    assert.ok(meta1?.endedAt !== null && Date.parse(meta1!.endedAt) <= failedAt, 'ends when writing failed');
    const p = await probe(second);
    assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
    const meta2 = parseRecordingMeta(JSON.parse(readFileSync(`${second}.json`, 'utf8')));
    assert.equal(meta2?.failed, undefined);
    assert.ok(Math.abs(Date.parse(meta2!.startedAt) - (failedAt + 1000)) <= 40, 'resumed at the retry time');
    // the stretch with no file, from the failure to the new file
    const [stretch] = ledger.stretchesOf('alice');
    assert.deepEqual({ ...stretch, failed: { reason: stretch!.failed.reason } }, {
      user: 'alice', stationMount: 'live', format: 'ogg-opus', startedAt: meta1!.endedAt, endedAt: meta2!.startedAt, failed: { reason: 'disk-full' },
    });
    assert.deepEqual(readdirSync(join(dir, 'live')).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
    assert.equal(lines().filter((l) => l.level === 'error').length, 1, 'one error line for the episode');
    assert.ok(lines().some((l) => l.level === 'warn' && /resumed in a new file/.test(l.message)));
  });

  it('audio: no file can be created (the show starts on a full disk): nothing left on disk, the ledger says so, retries back off, then it records', async () => {
    // the first try, and the retries 1 s and 2 s later, fail; the one 4 s after that works
    const { lines, ledger, packets, clock, r } = await audioRecorder(['refuse', 'refuse', 'refuse', 'ok']);
    for (let i = 0; i < 3; i++) feed(r, packets, clock); // 18 s
    assert.deepEqual(ledger.stretchesOf('alice').map((s) => [s.endedAt, s.failed.reason]), [[new Date(T0 + 7000).toISOString(), 'disk-full']]);
    assert.equal(ledger.stretchesOf('bob').length, 0);
    await r.finish();
    assert.equal(r.files.length, 1);
    assert.equal(lines().filter((l) => l.level === 'error').length, 1);
    assert.equal(lines().filter((l) => /still cannot create a file/.test(l.message)).map((l) => l.retryInMs).join(), '2000,4000');
    const p = await probe(r.files[0]!);
    assert.ok(Math.abs(p.audioSeconds - 11) < 0.2, `${p.audioSeconds} s recorded after the disk had room`);
  });

  it('a show that never went live forgets its stretches too', async () => {
    const ledger = new RecordingLedger();
    const { head, packets } = opusOf(await fixture('audio-webm', 6));
    const r = createShowRecorder({ dir: tmp(), stationMount: 'live', user: 'alice', video: false, logger: captureLogger().logger, ledger, keep: () => false, open: scriptedOpen(['refuse']) });
    r.start(head);
    feed(r, packets.slice(0, 20), { t: 0 });
    assert.equal(ledger.stretchesOf('alice').length, 1);
    await r.finish();
    assert.equal(ledger.stretchesOf('alice').length, 0);
  });

  it('video: after a write error the new file starts at a keyframe Cluster, behind the stream header, and decodes', async () => {
    const dir = tmp();
    const { logger, lines } = captureLogger();
    const ledger = new RecordingLedger();
    const data = readFileSync(await fixture('video-webm', 6));
    const clock = { t: T0 };
    const r = createShowRecorder({ dir, stationMount: 'live', user: 'alice', video: true, logger, ledger, retryMs: 1000, now: () => clock.t, open: scriptedOpen(['full', 'ok']) });
    const size = Math.ceil(data.length / 60);
    for (let i = 0; i * size < data.length; i++) {
      r.raw(data.subarray(i * size, (i + 1) * size), i === 0);
      clock.t += 100;
      if (i === 3) await waitFor('the write error arrives', () => lines().some((l) => /cannot be written/.test(l.message)));
    }
    await r.finish();
    assert.equal(r.files.length, 2);
    assert.equal(parseRecordingMeta(JSON.parse(readFileSync(`${r.files[0]}.json`, 'utf8')))?.failed?.reason, 'disk-full');
    const events = new WebmDemuxer().push(readFileSync(r.files[1]!));
    assert.ok(!events.some((e) => e.type === 'error'));
    const tracks = events.find((e) => e.type === 'tracks');
    assert.ok(tracks?.type === 'tracks');
    const video = tracks.tracks.find((t) => t.type === 'video')!.number;
    const firstVideo = events.find((e) => e.type === 'frame' && e.track === video);
    assert.ok(firstVideo?.type === 'frame' && firstVideo.keyframe, 'starts on a keyframe');
    const p = await probe(r.files[1]!);
    assert.deepEqual(p.streams.map((s) => s.codec).sort(), ['opus', 'vp8']);
    assert.ok(p.videoPackets > 30);
    assert.equal(ledger.stretchesOf('alice').length, 1);
  });
});
