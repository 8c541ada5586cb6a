// Several daemons on one Icecast (docs/scaling.md), the pure parts: a daemon's name in its source
// User-Agent, Icecast's statistics read back into live sources (captured from Icecast 2.4.4),
// shows grouped by station and holder, the config's instanceName, and the Icecast config sections
// the test and demo Icecasts get for fallbacks and relays.
import assert from 'node:assert/strict';
import { defaultInstanceName, parseConfig } from '../../server/config/load.js';
import { remoteShows } from '../../server/http/admin-routes.js';
import { buildSourceRequest } from '../../server/icecast/icecast-source.js';
import {
  instanceFromUserAgent, isIcewireUserAgent, parseAdminStats, parseStatusSources, sourceUserAgent, type LiveSource,
} from '../../server/icecast/icecast-sources.js';
import { mountSectionsXml, relaySectionsXml } from '../../server/icecast/managed-icecast.js';

// /admin/stats from Icecast 2.4.4 while /live.ogg was live (an icewire daemon) with its fallback
// loop running (Liquidsoap), trimmed of the global counters.
const LIVE_XML = `<?xml version="1.0"?>
<icestats><admin>icemaster@localhost</admin><clients>6</clients><host>127.0.0.1</host><server_id>Icecast 2.4.4</server_id><source mount="/fallback/live.ogg"><audio_info>channels=2;samplerate=44100</audio_info><channels>2</channels><genre>various</genre><listener_peak>1</listener_peak><listeners>1</listeners><listenurl>http://127.0.0.1:39309/fallback/live.ogg</listenurl><max_listeners>unlimited</max_listeners><public>0</public><server_name>icewire fallback</server_name><server_type>audio/ogg</server_type><slow_listeners>0</slow_listeners><source_ip>127.0.0.1</source_ip><stream_start>Sun, 29 Nov 2026 11:08:40 +0000</stream_start><stream_start_iso8601>2026-11-29T11:08:40+0000</stream_start_iso8601><subtype>Opus</subtype><total_bytes_read>48678</total_bytes_read><user_agent>Liquidsoap/2.1.3 (Unix; OCaml 4.13.1)</user_agent></source><source mount="/live.ogg"><genre>various</genre><listener_peak>3</listener_peak><listeners>3</listeners><listenurl>http://127.0.0.1:39309/live.ogg</listenurl><max_listeners>unlimited</max_listeners><public>0</public><server_name>Test &amp; &lt;Radio&gt;</server_name><server_type>audio/ogg</server_type><slow_listeners>0</slow_listeners><source_ip>10.0.0.11</source_ip><stream_start>Sun, 29 Nov 2026 11:08:33 +0000</stream_start><stream_start_iso8601>2026-11-29T11:08:33+0000</stream_start_iso8601><subtype>Opus</subtype><title>News &#8212; at ten</title><total_bytes_read>91524</total_bytes_read><user_agent>icewire/0.1 (instance=a)</user_agent></source></icestats>
`;
// The same a few seconds after the daemon died: /live.ogg's listeners are on its fallback, and
// Icecast lists the configured mount with no source (no stream_start).
const GAP_XML = `<?xml version="1.0"?>
<icestats><source mount="/fallback/live.ogg"><listeners>4</listeners><listenurl>http://127.0.0.1:39309/fallback/live.ogg</listenurl><source_ip>127.0.0.1</source_ip><stream_start>Sun, 29 Nov 2026 11:08:40 +0000</stream_start><stream_start_iso8601>2026-11-29T11:08:40+0000</stream_start_iso8601><user_agent>Liquidsoap/2.1.3 (Unix; OCaml 4.13.1)</user_agent></source><source mount="/live.ogg"><listeners>0</listeners><listenurl>http://127.0.0.1:39309/live.ogg</listenurl><max_listeners>unlimited</max_listeners></source></icestats>
`;
// status-json.xsl at that moment (it hides source_ip and user_agent).
const GAP_JSON = '{"icestats":{"admin":"icemaster@localhost","host":"127.0.0.1","server_id":"Icecast 2.4.4","source":[{"listeners":4,"listenurl":"http://127.0.0.1:39309/fallback/live.ogg","server_name":"icewire fallback","stream_start":"Sun, 29 Nov 2026 11:08:40 +0000","stream_start_iso8601":"2026-11-29T11:08:40+0000","subtype":"Opus","dummy":null},{"listeners":0,"listenurl":"http://127.0.0.1:39309/live.ogg","dummy":null}]}}';

const src = (mount: string, over: Partial<LiveSource> = {}): LiveSource => ({
  mount, listeners: 1, startedAt: '2026-11-29T11:08:33.000Z', title: undefined, userAgent: 'icewire/0.1 (instance=a)', address: '10.0.0.11', ...over,
});

const accounts = parseConfig({
  icecast: { url: 'http://127.0.0.1:8000', sourcePassword: 'hackme-source' },
  broadcasters: [{ name: 'alice', passwordHash: 'scrypt$16384$8$1$Yv8o8FbiZKn7XMPdEPn/Mg==$qtTSrezreyvHDUf1m4Tp5cfe79aq2hm0FxPLrKODUY8=', mounts: ['live', 'talk'] }],
  mounts: {
    live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 128 }] },
    talk: { renditions: [{ mount: '/talk.ogg', format: 'ogg-opus' }] },
  },
}, { env: {} });
const passthrough = parseConfig({}, { env: {} });

describe('several daemons on one Icecast', () => {
  describe('the daemon\'s name in its source User-Agent', () => {
    it('is sent with every source connection and read back', () => {
      assert.equal(sourceUserAgent('studio-2'), 'icewire/0.1 (instance=studio-2)');
      assert.equal(sourceUserAgent(undefined), 'icewire/0.1');
      const head = buildSourceRequest({ url: 'http://127.0.0.1:8000', mount: '/live.ogg', user: 'source', password: 'x', contentType: 'audio/ogg', ice: {}, instanceName: 'b' });
      assert.match(head, /\r\nUser-Agent: icewire\/0\.1 \(instance=b\)\r\n/);
      assert.equal(instanceFromUserAgent('icewire/0.1 (instance=studio-2)'), 'studio-2');
      assert.equal(instanceFromUserAgent('icewire/0.2 (instance=a.b_c-d)'), 'a.b_c-d');
    });

    for (const ua of [undefined, '', 'icewire/0.1', 'Liquidsoap/2.1.3 (Unix; OCaml 4.13.1)', 'libshout/2.4.6', 'icewire/0.1 (instance=)', 'icewire/0.1 (instance=a b)', 'x icewire/0.1 (instance=a)']) {
      it(`names no daemon for ${JSON.stringify(ua)}`, () => assert.equal(instanceFromUserAgent(ua), undefined));
    }

    it('tells icewire sources from others', () => {
      assert.equal(isIcewireUserAgent('icewire/0.1'), true);
      assert.equal(isIcewireUserAgent('Lavf/59.27.100'), false);
      assert.equal(isIcewireUserAgent(undefined), false);
    });
  });

  describe('Icecast\'s statistics', () => {
    it('/admin/stats: live sources with their User-Agent, address, start and title (entities decoded)', () => {
      assert.deepEqual(parseAdminStats(LIVE_XML), [
        { mount: '/fallback/live.ogg', listeners: 1, startedAt: '2026-11-29T11:08:40.000Z', title: undefined, userAgent: 'Liquidsoap/2.1.3 (Unix; OCaml 4.13.1)', address: '127.0.0.1' },
        { mount: '/live.ogg', listeners: 3, startedAt: '2026-11-29T11:08:33.000Z', title: 'News — at ten', userAgent: 'icewire/0.1 (instance=a)', address: '10.0.0.11' },
      ]);
    });

    it('a mount whose listeners are on its fallback is not live (no source)', () => {
      assert.deepEqual(parseAdminStats(GAP_XML).map((s) => s.mount), ['/fallback/live.ogg']);
      assert.deepEqual(parseStatusSources(GAP_JSON).map((s) => s.mount), ['/fallback/live.ogg']);
    });

    it('status-json.xsl: sources without User-Agent or address; its invalid no-source JSON is "none"', () => {
      const [s] = parseStatusSources(GAP_JSON);
      assert.equal(s!.userAgent, undefined);
      assert.equal(s!.address, undefined);
      assert.equal(s!.startedAt, '2026-11-29T11:08:40.000Z');
      assert.deepEqual(parseStatusSources('{"icestats":{"source":}'), []);
      assert.deepEqual(parseStatusSources('{"icestats":{}}'), []);
      assert.deepEqual(parseAdminStats('<icestats></icestats>'), []);
    });
  });

  describe('shows held elsewhere (the manager API\'s list)', () => {
    it('accounts mode: renditions grouped by station, with the holder; fallback loops and strangers are not shows', () => {
      const shows = remoteShows([
        src('/live.ogg', { listeners: 3, title: 'News' }), src('/live.mp3', { listeners: 2, startedAt: '2026-11-29T11:08:32.000Z' }),
        src('/fallback/live.ogg', { userAgent: 'Liquidsoap/2.1.3' }), src('/other.ogg'),
      ], accounts, new Set(), true);
      assert.deepEqual(shows, [{
        stationMount: 'live', here: false, instance: 'a', sourceAddress: '10.0.0.11', state: 'live', startedAt: '2026-11-29T11:08:32.000Z',
        listeners: 5, title: 'News', renditions: [{ mount: '/live.ogg', listeners: 3 }, { mount: '/live.mp3', listeners: 2 }],
      }]);
    });

    it('leaves out what this daemon holds, and names no holder it cannot know', () => {
      const sources = [src('/live.ogg'), src('/talk.ogg', { userAgent: undefined, address: undefined })];
      assert.deepEqual(remoteShows(sources, accounts, new Set(['live']), true).map((s) => [s.stationMount, s.instance, s.sourceAddress]), [['talk', null, null]]);
      assert.deepEqual(remoteShows([src('/live.ogg', { userAgent: 'ButtClient/1.0' })], accounts, new Set(), true)[0]!.instance, null);
    });

    it('passthrough mode: /<name> is station <name>; with holders known only icewire\'s sources count', () => {
      const sources = [src('/show.mp3'), src('/fallback/show.mp3', { userAgent: 'Liquidsoap/2.1.3' })];
      assert.deepEqual(remoteShows(sources, passthrough, new Set(), true).map((s) => s.stationMount), ['show.mp3']);
      assert.deepEqual(remoteShows(sources, passthrough, new Set(), false).map((s) => s.stationMount), ['fallback/show.mp3', 'show.mp3']);
    });
  });

  describe('instanceName', () => {
    it('defaults to the host name, made valid', () => {
      assert.equal(defaultInstanceName('live-a.example.org'), 'live-a.example.org');
      assert.equal(defaultInstanceName('studio 2 (backup)'), 'studio-2--backup-');
      assert.equal(defaultInstanceName('-x'), 'x');
      assert.equal(defaultInstanceName(''), 'icewire');
      assert.equal(defaultInstanceName('a'.repeat(80)).length, 64);
      assert.match(accounts.instanceName, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    });

    it('is checked like every key', () => {
      assert.equal(parseConfig({ instanceName: 'b' }, { env: {} }).instanceName, 'b');
      assert.throws(() => parseConfig({ instanceName: 'a b' }, { env: {} }), /instanceName: must be letters, digits/);
    });
  });

  describe('Icecast config sections for the managed (test and demo) Icecast', () => {
    it('a fallback or a charset per mount, or for all; listeners move back by default', () => {
      assert.equal(mountSectionsXml({ '/live.ogg': { fallbackMount: '/fallback/live.ogg' }, '/x&y.mp3': { charset: 'UTF-8' }, '*': { charset: 'UTF-8' } }), `  <mount type="normal">
    <mount-name>/live.ogg</mount-name>
    <fallback-mount>/fallback/live.ogg</fallback-mount>
    <fallback-override>1</fallback-override>
  </mount>
  <mount type="normal">
    <mount-name>/x&amp;y.mp3</mount-name>
    <charset>UTF-8</charset>
  </mount>
  <mount type="default">
    <charset>UTF-8</charset>
  </mount>
`);
      assert.match(mountSectionsXml({ '/a.ogg': { fallbackMount: '/fallback/a.ogg', fallbackOverride: false } }), /<fallback-override>0<\/fallback-override>/);
      assert.equal(mountSectionsXml(undefined), '');
    });

    it('a relay per mount from the master, never on demand, retried quickly', () => {
      const xml = relaySectionsXml({ masterUrl: 'http://10.0.0.5:8000', mounts: ['/live.ogg', '/live.mp3'] });
      assert.match(xml, /^ {2}<master-update-interval>5<\/master-update-interval>\n/);
      assert.equal(xml.match(/<relay>/g)?.length, 2);
      assert.match(xml, /<server>10\.0\.0\.5<\/server>\n {4}<port>8000<\/port>\n {4}<mount>\/live\.mp3<\/mount>\n {4}<local-mount>\/live\.mp3<\/local-mount>\n {4}<on-demand>0<\/on-demand>/);
      const plain = relaySectionsXml({ masterUrl: 'http://relay-master', mounts: ['/a'], retryIntervalS: 1 });
      assert.match(plain, /<master-update-interval>1<\/master-update-interval>/);
      assert.match(plain, /<server>relay-master<\/server>\n {4}<port>80<\/port>/);
    });
  });
});
