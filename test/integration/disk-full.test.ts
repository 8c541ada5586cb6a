// Show recordings on a disk that really fills up: recordings.dir is a small tmpfs mounted for
// this test (so: needs root; CI runs as root), with real icecast2 and a listener. Two cases, one
// stack: the disk fills mid-show, and a show starts on a full disk. Each time the show goes on
// for its listener, nothing half-written is left (no empty or unfinished sidecar, no `.json.tmp`),
// the failure is in the log and the recordings list, and once there is room again the recording
// resumes in a new, valid file.
//
// The hostile suite has the short form (one station's directory on a full tmpfs: the show goes
// on, nothing half-written); this file follows a recording through the disk filling and emptying.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fill } from '../helpers/fill-disk.js';
import { fixture, probe } from '../helpers/media.js';
import { listen, waitFor, waitForMount, type Recording } from '../helpers/listener.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { childFfmpegPids, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { parseRecordingMeta, RECORDING_FILE_RE, type RecordingMeta } from '../../server/recorder/recording-names.js';

const TMPFS_BYTES = 2 * 1024 * 1024;

interface ListEntry { name: string | null; stationMount: string; startedAt: string; endedAt: string | null; bytes: number; url: string | null; failed: { reason: string; at: string; message: string } | null }

describe('show recordings on a full disk (a real tmpfs, real icecast2)', function () {
  this.timeout(120000);
  let mountPoint: string | undefined;
  let stack: Stack | undefined;
  let stationDir = '';
  let token = '';

  before(async function () {
    if (process.getuid?.() !== 0) {
      process.stderr.write('    (skipped: mounting a small tmpfs to fill needs root; CI runs as root)\n');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'icewire-diskfull-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0750`, 'tmpfs', dir]);
    } catch (err) {
      process.stderr.write(`    (skipped: cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]})\n`);
      rmSync(dir, { recursive: true, force: true });
      this.skip();
    }
    mountPoint = dir;
    stack = await startStack({ record: true, config: { recordings: { dir } } });
    stationDir = join(dir, 'live');
    const res = await fetch(`${stack.baseUrl}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: stack.broadcaster.name, password: stack.broadcaster.password }) });
    assert.equal(res.status, 200);
    token = ((await res.json()) as { token: string }).token;
  });

  after(async () => {
    await stack?.stop();
    if (mountPoint !== undefined) {
      try {
        execFileSync('umount', [mountPoint]);
      } catch {
        execFileSync('umount', ['-l', mountPoint]);
      }
      rmSync(mountPoint, { recursive: true, force: true });
    }
    await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
  });

  const files = (): string[] => readdirSync(stationDir).sort();
  const archives = (): string[] => files().filter((n) => RECORDING_FILE_RE.test(n));
  const sidecar = (name: string): RecordingMeta => {
    const meta = parseRecordingMeta(JSON.parse(readFileSync(join(stationDir, `${name}.json`), 'utf8')));
    assert.ok(meta !== undefined, `${name}.json is a whole sidecar`);
    return meta;
  };
  const list = async (): Promise<ListEntry[]> => {
    const res = await fetch(`${stack!.baseUrl}/api/recordings`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { recordings: ListEntry[] }).recordings;
  };
  const logged = (re: RegExp): number => stack!.logLines.filter((l) => re.test(l)).length;

  /** Go live with a 40 s tone and a listener on /live.ogg. */
  async function goLive(): Promise<{ client: WebcastClient; listener: Recording; streaming: Promise<number> }> {
    const client = new WebcastClient(`${stack!.wsBase}live`);
    await client.opened;
    client.hello({ mime: 'audio/webm;codecs=opus', user: stack!.broadcaster.name, password: stack!.broadcaster.password });
    const streaming = client.stream(await fixture('audio-webm', 40), { seconds: 40 });
    await client.live();
    await waitForMount(stack!.icecastUrl, stack!.icecast!.adminPassword, '/live.ogg');
    return { client, listener: listen(`${stack!.icecastUrl}/live.ogg`), streaming };
  }

  /** Stop the show; the listener heard it all along (never cut off, bytes kept coming). */
  async function stopShow(show: { client: WebcastClient; listener: Recording; streaming: Promise<number> }): Promise<void> {
    assert.equal(show.listener.ended(), false, 'the listener was never cut off');
    const before = show.listener.bytes();
    await waitFor('the listener to keep receiving', () => show.listener.bytes() > before + 4000, 5000);
    show.client.close(1000);
    await show.client.closed;
    await show.streaming;
    show.listener.stop();
    assert.deepEqual(show.client.errors, [], 'the broadcaster saw no error');
    await waitFor('the broadcast to end', () => stack!.daemon.registry.size === 0, 10000);
  }

  it('the disk fills mid-show: that file ends `failed: disk-full` with a whole sidecar, the show goes on, recording resumes once there is room', async () => {
    const show = await goLive();
    await waitFor('the recording to grow', () => archives().length === 1 && statSync(join(stationDir, archives()[0]!)).size > 20000, 10000);
    const [first] = archives() as [string];
    assert.ok(files().includes(`${first}.json.tmp`), 'a live recording keeps its sidecar\'s spare');
    const filler = fill(mountPoint!);
    await waitFor('the write error', () => logged(/recording stopped: the file cannot be written/) === 1, 10000);
    await waitFor('the failed file\'s sidecar', () => sidecar(first).endedAt !== null, 5000);
    const meta = sidecar(first);
    assert.equal(meta.failed?.reason, 'disk-full');
    assert.equal(meta.failed?.code, 'ENOSPC');
    assert.equal(meta.bytes, statSync(join(stationDir, first)).size);
    assert.ok(meta.bytes > 20000);
    assert.ok(!files().includes(`${first}.json.tmp`), 'the spare became the sidecar');
    // while the disk is full: the list says the file stopped, and that nothing is being recorded
    const during = await list();
    assert.deepEqual(during.map((e) => [e.name, e.failed?.reason ?? null, e.endedAt === null]), [[null, 'disk-full', true], [first, 'disk-full', false]]);
    assert.match(during[1]!.failed!.message, /The recording stopped here: the server's disk was full\. The show itself went on/);
    assert.match(during[0]!.failed!.message, /not recorded/);
    assert.equal(stack!.daemon.registry.get('live')?.status().state, 'live', 'the show is still live');

    unlinkSync(filler);
    await waitFor('the recording to resume', () => logged(/recording resumed in a new file/) === 1, 15000);
    await waitFor('the new file to grow', () => archives().length === 2 && statSync(join(stationDir, archives()[1]!)).size > 30000, 10000);
    await stopShow(show);

    const [, second] = archives() as [string, string];
    assert.deepEqual(files(), [first, `${first}.json`, second, `${second}.json`], 'two files and their sidecars; nothing temporary');
    const meta2 = sidecar(second);
    assert.equal(meta2.failed, undefined);
    assert.equal(meta2.bytes, statSync(join(stationDir, second)).size);
    // the file cut by the full disk still plays up to where it stopped; the new one is whole
    const p1 = await probe(join(stationDir, first));
    assert.deepEqual(p1.streams.map((s) => s.codec), ['opus']);
    assert.ok(p1.audioSeconds > 1, `${p1.audioSeconds} s before the disk filled`);
    const pages = oggPages(readFileSync(join(stationDir, second)));
    assert.ok(pages[0]!.bos && pages.at(-1)!.eos, 'the resumed file is a complete Ogg stream');
    const p2 = await probe(join(stationDir, second));
    assert.ok(p2.audioSeconds > 1);
    const after = await list();
    assert.deepEqual(after.map((e) => [e.name, e.failed?.reason ?? null]), [[second, null], [null, 'disk-full'], [first, 'disk-full']]);
    assert.equal(after[1]!.endedAt, meta2.startedAt, 'the stretch with no file ends where the new file starts');
    assert.equal(after[1]!.startedAt, meta.endedAt, '...and starts where the failed one ended');
  });

  it('a show starts on a full disk: no empty sidecar or file is left, the list says nothing is recorded, then it records once there is room', async () => {
    const before = files();
    const filler = fill(mountPoint!);
    const errorsBefore = logged(/recording stopped: cannot create the file/);
    const show = await goLive();
    await waitFor('the failure to create a file', () => logged(/recording stopped: cannot create the file/) === errorsBefore + 1, 10000);
    assert.ok(stack!.logLines.some((l) => /cannot create the file/.test(l) && /"reason":"disk-full"/.test(l) && /ENOSPC/.test(l)));
    assert.deepEqual(files(), before, 'nothing new on disk: no empty file, no sidecar, no spare');
    const during = await list();
    assert.deepEqual([during[0]!.name, during[0]!.failed?.reason, during[0]!.endedAt, during[0]!.url], [null, 'disk-full', null, null]);
    assert.match(during[0]!.failed!.message, /This part of the show was not recorded: the server's disk was full/);
    // still full 5 s later: the retry fails quietly and leaves nothing either
    await waitFor('a retry', () => logged(/still cannot create a file/) >= 1, 10000);
    assert.deepEqual(files(), before);

    unlinkSync(filler);
    await waitFor('the recording to start', () => archives().length === before.filter((n) => RECORDING_FILE_RE.test(n)).length + 1, 20000);
    const name = archives().find((n) => !before.includes(n))!;
    await waitFor('the new file to grow', () => statSync(join(stationDir, name)).size > 30000, 10000);
    await stopShow(show);
    const meta = sidecar(name);
    assert.equal(meta.failed, undefined);
    assert.notEqual(meta.endedAt, null);
    assert.ok(oggPages(readFileSync(join(stationDir, name))).at(-1)!.eos);
    assert.deepEqual(files().filter((n) => n.endsWith('.tmp')), []);
    const after = await list();
    assert.deepEqual([after[0]!.name, after[1]!.name, after[1]!.failed?.reason, after[1]!.endedAt], [name, null, 'disk-full', meta.startedAt]);
  });
});
