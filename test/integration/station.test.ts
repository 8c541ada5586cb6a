// Station features against a real icecast2: listener counts, /metrics, the manager API.
import assert from 'node:assert/strict';
import request from 'supertest';
import { fixture } from '../helpers/media.js';
import { listen, waitFor, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { secret, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

/** Prometheus text format -> samples; throws on a line that is not valid exposition format. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|[Nn]a[Nn]|[+-]?Inf)( \d+)?$/i.exec(line);
    if (m === null) throw new Error(`not Prometheus text: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

describe('station features (real icecast2)', function () {
  this.timeout(60000);
  let stack: Stack;
  const token = secret();
  before(async () => {
    stack = await startStack({
      renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3' }],
      config: { admin: { token } },
    });
  });
  after(async () => {
    await stack.stop();
  });

  async function goLive(): Promise<{ c: WebcastClient; streaming: Promise<number> }> {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: stack.broadcaster.name, password: stack.broadcaster.password });
    const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10 });
    await c.live();
    return { c, streaming };
  }

  it('listener counts reach the broadcaster within 5 s, per rendition and in /api/status', async () => {
    const { c, streaming } = await goLive();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.mp3');
    const a = listen(`${stack.icecastUrl}/live.ogg`);
    const b = listen(`${stack.icecastUrl}/live.mp3`);
    const t0 = Date.now();
    await waitFor('2 listeners in a status frame', () => c.statuses.at(-1)!.listeners === 2, 5000);
    assert.ok(Date.now() - t0 <= 5000);
    const st = await request(stack.baseUrl).get('/api/status/live').expect(200);
    assert.equal(st.body.listeners, 2);
    assert.deepEqual(st.body.renditions.map((r: { listeners: number }) => r.listeners), [1, 1]);
    a.stop();
    b.stop();
    await waitFor('0 listeners', () => c.statuses.at(-1)!.listeners === 0, 5000);
    c.close();
    await c.closed;
    await streaming;
  });

  it('/metrics parses as Prometheus text and its counters move as a broadcast runs', async () => {
    const before = parseProm((await request(stack.baseUrl).get('/metrics').expect(200).expect('content-type', /text\/plain/)).text);
    const { c, streaming } = await goLive();
    await new Promise((r) => setTimeout(r, 2000));
    const during = parseProm((await request(stack.baseUrl).get('/metrics').expect(200)).text);
    assert.equal(during.get('icewire_broadcasts_live'), 1);
    const inBefore = before.get('icewire_ingest_bytes_total{station="live",ingest="websocket"}') ?? 0;
    assert.ok((during.get('icewire_ingest_bytes_total{station="live",ingest="websocket"}') ?? 0) > inBefore + 10000, 'bytes in moved');
    assert.ok((during.get('icewire_icecast_bytes_total{mount="/live.mp3"}') ?? 0) > 0, 'bytes out to the MP3 mount');
    assert.ok((during.get('icewire_broadcasts_started_total{station="live",ingest="websocket"}') ?? 0) >= 1);
    assert.equal(during.get('icewire_broadcasts_live_by_ingest{ingest="websocket"}'), 1, 'the front door is labelled');
    assert.equal(during.get('icewire_icecast_up'), 1);
    c.close();
    await c.closed;
    await streaming;
    await waitFor('ended counted', async () => {
      const after = parseProm((await request(stack.baseUrl).get('/metrics')).text);
      return (after.get('icewire_broadcasts_ended_total{station="live",reason="stopped",ingest="websocket"}') ?? 0) >= 1 && after.get('icewire_broadcasts_live') === 0;
    }, 5000);
    // a refusal is counted by code
    const bad = new WebcastClient(`${stack.wsBase}live`);
    await bad.opened;
    bad.hello({ mime: 'audio/webm', user: stack.broadcaster.name, password: 'wrong-password' });
    await bad.closed;
    const after = parseProm((await request(stack.baseUrl).get('/metrics')).text);
    assert.ok((after.get('icewire_errors_total{code="IW_ERR_AUTH_FAILED"}') ?? 0) >= 1);
  });

  it('the manager API lists and ends a broadcast; the broadcaster is told the reason', async () => {
    await request(stack.baseUrl).get('/api/admin/broadcasts').expect(401);
    const wrong = await request(stack.baseUrl).get('/api/admin/broadcasts').set('Authorization', `Bearer ${secret()}`).expect(401);
    assert.equal(wrong.body.error.code, 'IW_ERR_ADMIN_AUTH');
    const { c, streaming } = await goLive();
    const list = await request(stack.baseUrl).get('/api/admin/broadcasts').set('Authorization', `Bearer ${token}`).expect(200);
    assert.equal(list.body.broadcasts.length, 1);
    assert.equal(list.body.broadcasts[0].user, stack.broadcaster.name);
    assert.equal(list.body.broadcasts[0].stationMount, 'live');
    assert.ok(list.body.broadcasts[0].since);
    await request(stack.baseUrl).post('/api/admin/broadcasts/live/end').set('Authorization', `Bearer ${secret()}`).send({ reason: 'x' }).expect(401);
    await request(stack.baseUrl).post('/api/admin/broadcasts/live/end').set('Authorization', `Bearer ${token}`).send({ reason: 'Time for the news' }).expect(200);
    const closed = await c.closed;
    assert.equal(closed.code, 4403);
    assert.equal(c.errors[0]?.code, 'IW_ERR_KICKED');
    assert.match(c.errors[0]!.message, /Time for the news/);
    assert.equal(c.statuses.at(-1)?.reason, 'kicked');
    await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 3000);
    await request(stack.baseUrl).post('/api/admin/broadcasts/live/end').set('Authorization', `Bearer ${token}`).send({}).expect(404);
    await streaming;
  });

  it('without a token the manager API is off (404)', async () => {
    const plain = await startStack({ noIcecast: true });
    try {
      const res = await request(plain.baseUrl).get('/api/admin/broadcasts').set('Authorization', 'Bearer whatever-whatever-123').expect(404);
      assert.equal(res.body.error.code, 'IW_ERR_ADMIN_DISABLED');
    } finally {
      await plain.stop();
    }
  });

  it('metrics.listen serves /metrics on its own address and not on the main one', async () => {
    const own = await startStack({ noIcecast: true, config: { metrics: { listen: { host: '127.0.0.1', port: 0 } } } });
    try {
      await request(own.baseUrl).get('/metrics').expect(404);
      const addr = own.daemon.metricsAddress!;
      const res = await request(`http://127.0.0.1:${addr.port}`).get('/metrics').expect(200);
      assert.ok(parseProm(res.text).has('icewire_broadcasts_live'));
    } finally {
      await own.stop();
    }
  });
});
