// Station plans: which Icecast mounts a broadcast feeds, in which format, with whose credentials.
// Configs are built by the real parseConfig, so the tests see what the daemon sees.
import assert from 'node:assert/strict';
import { parseConfig } from '../../server/config/load.js';
import type { Config, RenditionFormat } from '../../server/config/schema.js';
import { passthroughFormat, planStation, type PlanResult, type StationPlan } from '../../server/broadcast/station-plan.js';
import { parseMime, type InputMedia } from '../../server/pipeline/media-type.js';

const HASH = 'scrypt$16384$8$1$O+x7YFbx8v6WBJAgmTNiSw==$FrvQVbHl/ZrNRSLXJInGN0KAiAkLWEyyx3yt1KYIajI=';

function media(mime: string): InputMedia {
  const m = parseMime(mime);
  assert.ok(m !== undefined, `test setup: ${mime} must parse`);
  return m;
}
const AUDIO = media('audio/webm;codecs=opus');
const VIDEO = media('video/webm;codecs=vp8,opus');

function passthrough(icecast: Record<string, unknown> = {}): Config {
  return parseConfig({ icecast: { url: 'http://127.0.0.1:8000', ...icecast } }, { env: {} });
}

function accounts(): Config {
  return parseConfig({
    icecast: { url: 'http://127.0.0.1:8000', sourceUser: 'source', sourcePassword: 'icecast-source-pw' },
    broadcasters: [{ name: 'alice', passwordHash: HASH, mounts: ['live', 'video'] }],
    mounts: {
      live: {
        name: 'Radio Live', description: 'The live show', genre: 'Jazz', url: 'https://radio.example.org/', public: true,
        renditions: [
          { mount: '/live.ogg', format: 'ogg-opus' },
          { mount: '/live.mp3', format: 'mp3', bitrate: 192 },
          { mount: '/live-hq.ogg', format: 'ogg-vorbis' },
        ],
      },
      video: { renditions: [{ mount: '/video.webm', format: 'webm' }] },
    },
  }, { env: {} });
}

function planOf(r: PlanResult): StationPlan {
  if (!r.ok) assert.fail(`expected a plan, got ${r.code}: ${r.detail}`);
  return r.plan;
}

describe('passthroughFormat', () => {
  const rows: { name: string; input: InputMedia; inputName: string; want: RenditionFormat }[] = [
    { name: 'live.ogg', input: AUDIO, inputName: 'audio', want: 'ogg-opus' },
    { name: 'live.ogg', input: VIDEO, inputName: 'video', want: 'ogg-opus' },
    { name: 'x.opus', input: AUDIO, inputName: 'audio', want: 'ogg-opus' },
    { name: 'x.oga', input: AUDIO, inputName: 'audio', want: 'ogg-opus' },
    { name: 'a.mp3', input: AUDIO, inputName: 'audio', want: 'mp3' },
    { name: 'a.mp3', input: VIDEO, inputName: 'video', want: 'mp3' },
    { name: 'UPPER.MP3', input: AUDIO, inputName: 'audio', want: 'mp3' },
    { name: 'Mixed.Ogg', input: VIDEO, inputName: 'video', want: 'ogg-opus' },
    { name: 'v.webm', input: VIDEO, inputName: 'video', want: 'webm' },
    { name: 'v.webm', input: AUDIO, inputName: 'audio', want: 'webm' },
    { name: 'noext', input: AUDIO, inputName: 'audio', want: 'ogg-opus' },
    { name: 'noext', input: VIDEO, inputName: 'video', want: 'webm' },
    { name: 'show.aac (unknown extension)', input: AUDIO, inputName: 'audio', want: 'ogg-opus' },
    { name: 'show.mp4', input: VIDEO, inputName: 'video', want: 'webm' },
    { name: 'mp3 (the word, no dot)', input: AUDIO, inputName: 'audio', want: 'ogg-opus' },
  ];
  for (const r of rows) {
    it(`${r.name} with ${r.inputName} input -> ${r.want}`, () => {
      const name = r.name.split(' ')[0]!;
      assert.equal(passthroughFormat(name, r.input), r.want);
    });
  }
});

describe('planStation: passthrough', () => {
  const rows: {
    what: string; config: () => Config; id: string; input: InputMedia;
    hello: Parameters<typeof planStation>[3];
    want: StationPlan;
  }[] = [
    {
      what: 'live.ogg: one Ogg/Opus copy on /live.ogg with the hello\'s credentials',
      config: () => passthrough(), id: 'live.ogg', input: AUDIO,
      hello: { user: 'dj', password: 'pw1', name: 'My Show', description: 'Tonight' },
      want: {
        id: 'live.ogg', renditions: [{ mount: '/live.ogg', format: 'ogg-opus', bitrate: undefined }],
        ice: { name: 'My Show', description: 'Tonight', public: false }, sourceUser: 'dj', sourcePassword: 'pw1',
      },
    },
    {
      what: 'no user in the hello: the configured default user (source)',
      config: () => passthrough(), id: 'radio.mp3', input: AUDIO,
      hello: { password: 'pw2' },
      want: {
        id: 'radio.mp3', renditions: [{ mount: '/radio.mp3', format: 'mp3', bitrate: undefined }],
        ice: { name: 'radio.mp3', description: undefined, public: false }, sourceUser: 'source', sourcePassword: 'pw2',
      },
    },
    {
      what: 'an empty user in the hello: the configured default user (icecast.sourceUser)',
      config: () => passthrough({ sourceUser: 'relay' }), id: 'live', input: VIDEO,
      hello: { user: '', password: 'pw3' },
      want: {
        id: 'live', renditions: [{ mount: '/live', format: 'webm', bitrate: undefined }],
        ice: { name: 'live', description: undefined, public: false }, sourceUser: 'relay', sourcePassword: 'pw3',
      },
    },
    {
      what: 'no password in the hello: empty (Icecast will answer 401)',
      config: () => passthrough(), id: 'cam.webm', input: VIDEO,
      hello: {},
      want: {
        id: 'cam.webm', renditions: [{ mount: '/cam.webm', format: 'webm', bitrate: undefined }],
        ice: { name: 'cam.webm', description: undefined, public: false }, sourceUser: 'source', sourcePassword: '',
      },
    },
    {
      what: 'a configured source password is not used in passthrough (Icecast decides on the broadcaster\'s own)',
      config: () => passthrough({ sourcePassword: 'configured-pw' }), id: 'live.ogg', input: AUDIO,
      hello: { user: 'source', password: 'typed-pw' },
      want: {
        id: 'live.ogg', renditions: [{ mount: '/live.ogg', format: 'ogg-opus', bitrate: undefined }],
        ice: { name: 'live.ogg', description: undefined, public: false }, sourceUser: 'source', sourcePassword: 'typed-pw',
      },
    },
  ];
  for (const r of rows) {
    it(r.what, () => {
      const cfg = r.config();
      assert.equal(cfg.auth.mode, 'passthrough');
      assert.deepEqual(planOf(planStation(cfg, r.id, r.input, r.hello)), r.want);
    });
  }
});

describe('planStation: accounts', () => {
  it('live: renditions, ice headers and source credentials come from the config', () => {
    const cfg = accounts();
    assert.equal(cfg.auth.mode, 'accounts');
    const plan = planOf(planStation(cfg, 'live', AUDIO, { user: 'alice', password: 'alice-login-pw', name: 'Ignored Name', description: 'Ignored' }));
    assert.deepEqual(plan, {
      id: 'live',
      renditions: [
        { mount: '/live.ogg', format: 'ogg-opus', bitrate: undefined },
        { mount: '/live.mp3', format: 'mp3', bitrate: 192 },
        { mount: '/live-hq.ogg', format: 'ogg-vorbis', bitrate: undefined },
      ],
      ice: { name: 'Radio Live', description: 'The live show', genre: 'Jazz', url: 'https://radio.example.org/', public: true },
      sourceUser: 'source',
      sourcePassword: 'icecast-source-pw',
    });
  });

  it('video: a station with no name is named by its id and is not public', () => {
    const plan = planOf(planStation(accounts(), 'video', VIDEO, { user: 'alice', password: 'x' }));
    assert.deepEqual(plan.renditions, [{ mount: '/video.webm', format: 'webm', bitrate: undefined }]);
    assert.deepEqual(plan.ice, { name: 'video', description: undefined, genre: undefined, url: undefined, public: false });
    assert.equal(plan.sourcePassword, 'icecast-source-pw');
  });

  it('the broadcaster\'s login password never becomes the Icecast source password', () => {
    const plan = planOf(planStation(accounts(), 'live', AUDIO, { user: 'alice', password: 'alice-login-pw' }));
    assert.notEqual(plan.sourcePassword, 'alice-login-pw');
    assert.notEqual(plan.sourceUser, 'alice');
  });

  const refused: { what: string; mode: 'accounts' | 'passthrough'; id: string }[] = [
    { what: 'an unknown mount', mode: 'accounts', id: 'nosuch' },
    { what: 'a mount differing in case', mode: 'accounts', id: 'LIVE' },
    { what: 'an Icecast mount path instead of a station id', mode: 'accounts', id: '/live.ogg' },
    { what: '../x', mode: 'accounts', id: '../x' },
    { what: 'a b (a space)', mode: 'accounts', id: 'a b' },
    { what: 'the empty id', mode: 'accounts', id: '' },
    { what: '../x', mode: 'passthrough', id: '../x' },
    { what: 'a b (a space)', mode: 'passthrough', id: 'a b' },
    { what: 'a path with a slash', mode: 'passthrough', id: 'admin/stats' },
    { what: 'a leading dot', mode: 'passthrough', id: '.hidden' },
    { what: 'the empty id', mode: 'passthrough', id: '' },
    { what: 'a 65-character id', mode: 'passthrough', id: 'a'.repeat(65) },
    { what: 'a CRLF in the id', mode: 'passthrough', id: 'live\r\nX: y' },
  ];
  for (const r of refused) {
    it(`${r.mode}: ${r.what} -> IW_ERR_MOUNT_UNKNOWN`, () => {
      const cfg = r.mode === 'accounts' ? accounts() : passthrough();
      const got = planStation(cfg, r.id, AUDIO, { user: 'alice', password: 'x' });
      assert.equal(got.ok, false);
      if (!got.ok) {
        assert.equal(got.code, 'IW_ERR_MOUNT_UNKNOWN');
        assert.ok(got.detail.length <= 200, 'detail is bounded');
      }
    });
  }

  // An id naming an Object.prototype member must not find the inherited function.
  for (const id of ['constructor', 'toString', 'hasOwnProperty']) {
    it(`accounts: "${id}" (an Object.prototype name) -> IW_ERR_MOUNT_UNKNOWN, not a TypeError`, () => {
      const got = planStation(accounts(), id, AUDIO, { user: 'alice', password: 'x' });
      assert.deepEqual(got.ok ? 'ok' : got.code, 'IW_ERR_MOUNT_UNKNOWN');
    });
  }
});
