// Retention with fake mtimes and an injected clock: only the recorder's own files, older than
// keepDays, are deleted, sidecars with them; nothing else in or outside the directory.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_MS, RetentionSweeper } from '../../server/recorder/retention.js';
import { captureLogger } from '../helpers/log-capture.js';

const NOW = Date.parse('2026-11-21T12:00:00Z');

function file(path: string, ageDays: number): string {
  writeFileSync(path, 'x');
  const t = (NOW - ageDays * DAY_MS) / 1000;
  utimesSync(path, t, t);
  return path;
}

describe('recordings retention', () => {
  it('deletes recordings (and their sidecars) older than keepDays and keeps newer ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-ret-'));
    const live = join(dir, 'live');
    mkdirSync(live);
    const oldOgg = file(join(live, '2026-10-01T10-00-00Z.ogg'), 31);
    const oldSide = file(`${oldOgg}.json`, 1); // rewritten later than the file: goes with it anyway
    const oldWebm = file(join(dir, 'live', '2026-10-02T10-00-00Z-1.webm'), 40);
    const newOgg = file(join(live, '2026-11-20T10-00-00Z.ogg'), 1);
    const newSide = file(`${newOgg}.json`, 45); // a new file's sidecar stays with it
    const edge = file(join(live, '2026-10-22T12-00-01Z.ogg'), 29.99);
    const orphanOld = file(join(live, '2026-09-01T10-00-00Z.ogg.json'), 60);
    const orphanTmp = file(join(live, '2026-09-01T10-00-00Z.ogg.json.tmp'), 60);
    const notOurs = file(join(live, 'notes.txt'), 400);
    const notOurs2 = file(join(live, '2026-10-01T10-00-00Z.mp3'), 400);
    const otherDirFile = file(join(dir, '2026-10-01T10-00-00Z.ogg'), 400); // not in a station directory
    // a symlinked "station" pointing outside: never followed
    const outside = mkdtempSync(join(tmpdir(), 'icewire-outside-'));
    const outsideFile = file(join(outside, '2026-01-01T00-00-00Z.ogg'), 400);
    symlinkSync(outside, join(dir, 'linked'));
    // a symlinked "recording": not a file, never deleted through
    symlinkSync(outsideFile, join(live, '2026-01-02T00-00-00Z.ogg'));

    const { logger, lines } = captureLogger();
    const sweeper = new RetentionSweeper({ dir, keepDays: 30, logger, now: () => NOW });
    const deleted = await sweeper.sweep();
    assert.deepEqual(deleted.sort(), [oldOgg, oldSide, oldWebm, orphanOld, orphanTmp].sort());
    for (const kept of [newOgg, newSide, edge, notOurs, notOurs2, otherDirFile, outsideFile, join(live, '2026-01-02T00-00-00Z.ogg')]) {
      assert.ok(existsSync(kept), `${kept} kept`);
    }
    assert.ok(lines().some((l) => l.level === 'info' && /older than keepDays deleted/.test(l.message) && l.files === 2));
    assert.ok(!lines().some((l) => l.level === 'error'));

    // a day later the edge case goes too
    const later = new RetentionSweeper({ dir, keepDays: 30, logger, now: () => NOW + DAY_MS });
    assert.deepEqual(await later.sweep(), [edge]);
  });

  it('keepDays 0 keeps everything; a missing directory is not an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-ret-'));
    mkdirSync(join(dir, 'live'));
    const old = file(join(dir, 'live', '2020-01-01T00-00-00Z.ogg'), 2000);
    const { logger, lines } = captureLogger();
    assert.deepEqual(await new RetentionSweeper({ dir, keepDays: 0, logger, now: () => NOW }).sweep(), []);
    assert.ok(existsSync(old));
    assert.deepEqual(await new RetentionSweeper({ dir: join(dir, 'nope'), keepDays: 30, logger, now: () => NOW }).sweep(), []);
    assert.deepEqual(lines().filter((l) => l.level === 'error'), []);
  });

  it('start() sweeps at once and then on its interval; stop() ends it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-ret-'));
    mkdirSync(join(dir, 'live'));
    let now = NOW;
    const { logger } = captureLogger();
    const sweeper = new RetentionSweeper({ dir, keepDays: 1, logger, now: () => now, intervalMs: 30 });
    const a = file(join(dir, 'live', '2026-11-01T00-00-00Z.ogg'), 5);
    sweeper.start();
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(!existsSync(a), 'swept at start');
    const b = file(join(dir, 'live', '2026-11-21T00-00-00Z.ogg'), 0);
    now += 2 * DAY_MS;
    await new Promise((r) => setTimeout(r, 80));
    assert.ok(!existsSync(b), 'swept again on the interval');
    sweeper.stop();
    const c = file(join(dir, 'live', '2026-11-21T01-00-00Z.ogg'), 10);
    await new Promise((r) => setTimeout(r, 80));
    assert.ok(existsSync(c), 'stopped');
  });

  it('finishes what a dead daemon left (whatever keepDays says): stale spares deleted, `endedAt: null` sidecars become `interrupted`; live recordings untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-ret-'));
    const live = join(dir, 'live');
    mkdirSync(live);
    const meta = (startedAt: string) => JSON.stringify({ user: 'alice', stationMount: 'live', startedAt, endedAt: null, bytes: 0, format: 'ogg-opus' });
    // cut short 2 hours ago: file, sidecar saying live, and its spare
    const dead = join(live, '2026-11-21T09-00-00Z.ogg');
    writeFileSync(dead, 'OggS 12 bytes'.slice(0, 12));
    writeFileSync(`${dead}.json`, meta('2026-11-21T09:00:00.000Z'));
    writeFileSync(`${dead}.json.tmp`, Buffer.alloc(1024, 0x20));
    const t = (NOW - 2 * 3600 * 1000) / 1000;
    utimesSync(dead, t, t);
    // finished, but its spare was left behind
    const done = join(live, '2026-11-21T08-00-00Z.ogg');
    writeFileSync(done, 'OggS');
    writeFileSync(`${done}.json`, JSON.stringify({ user: 'alice', stationMount: 'live', startedAt: '2026-11-21T08:00:00.000Z', endedAt: '2026-11-21T08:30:00.000Z', bytes: 4, format: 'ogg-opus' }));
    writeFileSync(`${done}.json.tmp`, Buffer.alloc(1024, 0x20));
    utimesSync(done, t, t);
    // being recorded (written a second ago), maybe by another daemon sharing the directory
    const busy = join(live, '2026-11-21T11-30-00Z.ogg');
    writeFileSync(busy, 'OggS');
    writeFileSync(`${busy}.json`, meta('2026-11-21T11:30:00.000Z'));
    writeFileSync(`${busy}.json.tmp`, Buffer.alloc(1024, 0x20));
    utimesSync(busy, NOW / 1000 - 1, NOW / 1000 - 1);
    const { logger, lines } = captureLogger();
    const deleted = await new RetentionSweeper({ dir, keepDays: 0, logger, now: () => NOW }).sweep();
    assert.deepEqual(deleted, [`${done}.json.tmp`], 'the dead recording\'s spare became its sidecar');
    const fixed = JSON.parse(readFileSync(`${dead}.json`, 'utf8'));
    const at = new Date(t * 1000).toISOString();
    assert.deepEqual(fixed, { user: 'alice', stationMount: 'live', startedAt: '2026-11-21T09:00:00.000Z', endedAt: at, bytes: 12, format: 'ogg-opus', failed: { reason: 'interrupted', at } });
    assert.equal(JSON.parse(readFileSync(`${busy}.json`, 'utf8')).endedAt, null);
    assert.ok(existsSync(`${busy}.json.tmp`));
    assert.ok(lines().some((l) => l.level === 'warn' && /cut short/.test(l.message)));
    assert.deepEqual(readdirSync(live).sort(), ['2026-11-21T08-00-00Z.ogg', '2026-11-21T08-00-00Z.ogg.json', '2026-11-21T09-00-00Z.ogg', '2026-11-21T09-00-00Z.ogg.json', '2026-11-21T11-30-00Z.ogg', '2026-11-21T11-30-00Z.ogg.json', '2026-11-21T11-30-00Z.ogg.json.tmp']);
  });
});
