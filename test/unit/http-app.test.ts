// The express app driven by supertest without a port (the factory is apart from listen()).
import assert from 'node:assert/strict';
import request from 'supertest';
import { parseConfig } from '../../server/config/load.js';
import { BroadcastRegistry } from '../../server/broadcast/registry.js';
import { createApp } from '../../server/http/app.js';
import { createLogger } from '../../server/log.js';

const logger = createLogger({ console: false });

function app(raw: Record<string, unknown>) {
  const config = parseConfig(raw, { env: {} });
  return createApp({ config: () => config, registry: new BroadcastRegistry({ maxBroadcasts: 5, logger }), stats: undefined, logger });
}

const accounts = {
  icecast: { url: 'http://127.0.0.1:8000', publicUrl: 'https://radio.example.org', sourcePassword: 'hackme-source' },
  broadcasters: [{ name: 'alice', passwordHash: 'scrypt$16384$8$1$Yv8o8FbiZKn7XMPdEPn/Mg==$qtTSrezreyvHDUf1m4Tp5cfe79aq2hm0FxPLrKODUY8=', mounts: ['live'] }],
  mounts: { live: { name: 'Radio', renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 128 }] } },
};

describe('http app', () => {
  it('GET /api/info lists station mounts with listen URLs and no secrets', async () => {
    const res = await request(app(accounts)).get('/api/info').expect(200);
    assert.equal(res.body.authMode, 'accounts');
    assert.deepEqual(res.body.mounts[0].renditions.map((r: { url: string }) => r.url), ['https://radio.example.org/live.ogg', 'https://radio.example.org/live.mp3']);
    assert.deepEqual(res.body.mounts[0].renditions.map((r: { contentType: string }) => r.contentType), ['audio/ogg', 'audio/mpeg']);
    assert.ok(!JSON.stringify(res.body).includes('hackme'));
    assert.ok(!JSON.stringify(res.body).includes('scrypt'));
  });

  it('GET /api/info in passthrough mode has no mounts', async () => {
    const res = await request(app({})).get('/api/info').expect(200);
    assert.equal(res.body.authMode, 'passthrough');
    assert.deepEqual(res.body.mounts, []);
  });

  it('GET /api/status/<mount> is off air when nobody is live', async () => {
    const res = await request(app(accounts)).get('/api/status/live').expect(200);
    assert.equal(res.body.onAir, false);
    assert.equal(res.body.renditions.length, 2);
  });

  it('GET /api/status of an unknown mount is a 404 with a code', async () => {
    const res = await request(app(accounts)).get('/api/status/nope').expect(404);
    assert.equal(res.body.error.code, 'IW_ERR_MOUNT_UNKNOWN');
    const proto = await request(app(accounts)).get('/api/status/constructor').expect(404);
    assert.equal(proto.body.error.code, 'IW_ERR_MOUNT_UNKNOWN');
  });

  it('passthrough status follows the name\'s extension', async () => {
    const res = await request(app({})).get('/api/status/show.mp3').expect(200);
    assert.equal(res.body.renditions[0].format, 'mp3');
    assert.equal(res.body.renditions[0].url, 'http://127.0.0.1:8000/show.mp3');
  });

  it('serves the pages with a CSP that allows Icecast media', async () => {
    const page = await request(app(accounts)).get('/').expect(200);
    assert.match(page.headers['content-type']!, /text\/html/);
    assert.match(page.headers['content-security-policy']!, /media-src 'self' https:\/\/radio\.example\.org/);
    assert.match(page.headers['content-security-policy']!, /script-src 'self'/);
    const listen = await request(app(accounts)).get('/listen/live').expect(200);
    assert.match(listen.text, /<html/i);
    await request(app(accounts)).get('/js/broadcast.js').expect(200).expect('content-type', /javascript/);
  });

  it('unknown paths are a JSON 404, not a stack trace', async () => {
    const res = await request(app(accounts)).get('/nothing/here').expect(404);
    assert.equal(res.body.error.code, 'IW_ERR_NOT_FOUND');
    await request(app(accounts)).get('/src/broadcast.ts').expect(404);
    await request(app(accounts)).get('/tsconfig.json').expect(404);
    const js = await request(app(accounts)).get('/js/missing.js').expect(404);
    assert.equal(js.body.error.code, 'IW_ERR_NOT_FOUND');
  });

  it('/healthz without stats says unknown but ok', async () => {
    const res = await request(app(accounts)).get('/healthz').expect(200);
    assert.equal(res.body.icecast, 'unknown');
    assert.equal(res.body.broadcasts, 0);
  });
});
