// `npm start`'s demo as a real process: it starts its own icecast2 and the daemon; a show goes
// live; icecast2 is killed from outside; the demo says so, starts it again, and the show is back
// on air without the broadcaster doing anything. Ctrl-C (SIGTERM here) stops both.
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../server/icecast/managed-icecast.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { listen, waitFor } from '../helpers/listener.js';
import { fixture, probe } from '../helpers/media.js';
import { ALL_LOG_LINES } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

function childPid(parent: number, comm: string): number | undefined {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(parent)], { encoding: 'utf8' });
    const line = out.split('\n').find((l) => l.trim().split(/\s+/)[1] === comm);
    return line === undefined ? undefined : Number(line.trim().split(/\s+/)[0]);
  } catch {
    return undefined; // ps exits 1 when nothing matches
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start: the demo station keeps its Icecast running', function () {
  this.timeout(90000);
  let demo: ChildProcess | undefined;
  let out = '';
  let client: WebcastClient | undefined;

  after(async () => {
    client?.close(1000);
    if (demo !== undefined && demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGKILL');
      await new Promise((r) => demo!.once('exit', r));
    }
    ALL_LOG_LINES.push(...out.split('\n'));
  });

  it('icecast2 killed mid-show: the demo says so, restarts it, and the show is back on air', async () => {
    const port = await freePort();
    demo = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'server', 'demo.js')], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    demo.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const password = await waitFor('the demo banner', () => /Password: +(\S+)/.exec(out)?.[1], 20000);
    const icecastUrl = /Icecast streams: +(http:\/\/127\.0\.0\.1:\d+)\/live\.ogg/.exec(out)?.[1];
    assert.ok(icecastUrl !== undefined, out);
    assert.match(out, new RegExp(`Broadcast page: +http://127\\.0\\.0\\.1:${port}/`));

    client = new WebcastClient(`ws://127.0.0.1:${port}/ws/live`);
    await client.opened;
    client.hello({ mime: 'audio/webm;codecs=opus', user: 'demo', password });
    void client.stream(await fixture('audio-webm', 40), { seconds: 40 });
    await client.live(15000);
    await waitFor('the MP3 rendition on Icecast', async () => (await fetch(`${icecastUrl}/live.mp3`, { signal: AbortSignal.timeout(2000) }).then((r) => { void r.body?.cancel(); return r.status; })) === 200, 10000);

    const first = childPid(demo.pid!, 'icecast2');
    assert.ok(first !== undefined, 'the demo runs icecast2 as its child');
    process.kill(first, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor('the demo to say icecast2 died', () => /icecast2 was killed \(SIGKILL\)\. Starting it again/.test(out), 5000);
    await waitFor('the broadcaster to see reconnecting', () => client!.statuses.some((s) => s.state === 'reconnecting'), 5000);
    await waitFor('the demo to say icecast2 runs again', () => /icecast2 is running again at http/.test(out), 15000);
    const second = childPid(demo.pid!, 'icecast2');
    assert.ok(second !== undefined && second !== first, 'a new icecast2');

    // back on air: the broadcaster's page is told so, the station's status says so, listeners hear it
    const reconnectingAt = client.statuses.findIndex((s) => s.state === 'reconnecting');
    await waitFor('live again', () => client!.statuses.slice(reconnectingAt).some((s) => s.state === 'live'), 15000);
    const backMs = Date.now() - killedAt;
    const status = await (await fetch(`http://127.0.0.1:${port}/api/status/live`)).json() as { state: string };
    assert.equal(status.state, 'live');
    await waitFor('/live.ogg on the new icecast2', async () => (await fetch(`${icecastUrl}/status-json.xsl`).then((r) => r.text())).includes('/live.ogg"'), 10000);
    const rec = listen(`${icecastUrl}/live.ogg`, { maxMs: 3000 });
    assert.equal(await rec.status, 200);
    const p = await probe(await rec.done);
    assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
    assert.ok(p.audioSeconds >= 2, `the listener got ${p.audioSeconds.toFixed(1)} s of audio after the restart`);
    assert.equal(client.ws.readyState, client.ws.OPEN, 'the broadcaster never had to reconnect');
    console.log(`      (back on air ${backMs} ms after icecast2 was killed)`);

    // Ctrl-C: both stop, nothing left behind
    client.close(1000);
    demo.kill('SIGTERM');
    const [code] = await new Promise<[number | null]>((r) => demo!.once('exit', (c) => r([c])));
    assert.equal(code, 0, out.slice(-2000));
    assert.equal(alive(second), false, 'icecast2 stopped with the demo');
  });
});
