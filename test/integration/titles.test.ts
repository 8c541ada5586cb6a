// Now playing in any language, against a real icecast2: what status-json and an MP3 listener's
// ICY block carry for a title, on an MP3 mount with Icecast's default charset (ISO-8859-1) and on
// one with <charset>UTF-8</charset>; and what `icewire doctor` says about each. One Icecast and
// one daemon for the whole suite.
import assert from 'node:assert/strict';
import { parseConfig } from '../../server/config/load.js';
import { runDoctor, type DoctorCheck } from '../../server/doctor.js';
import { startIcecast, type ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { icyFields, icyListen, type IcyListener } from '../helpers/icy-listener.js';
import { waitFor, waitForMount, listMounts } from '../helpers/listener.js';
import { fixture } from '../helpers/media.js';
import { childFfmpegPids, secret, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

const LATIN1 = '/live.mp3';
const UTF8 = '/utf8.mp3';

/** The title status-json shows for a mount (parsed as JSON: what a web page would read). */
async function statusTitle(icecastUrl: string, mount: string): Promise<string | undefined> {
  const j = await (await fetch(`${icecastUrl}/status-json.xsl`)).json() as { icestats: { source?: unknown } };
  const src = j.icestats.source;
  const list = (Array.isArray(src) ? src : src === undefined ? [] : [src]) as { listenurl: string; title?: unknown }[];
  const t = list.find((s) => new URL(s.listenurl).pathname === mount)?.title;
  return typeof t === 'string' ? t : undefined;
}

describe('now playing in any language (real icecast2)', function () {
  this.timeout(60000);
  let icecast: ManagedIcecast;

  before(async () => {
    icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret(), mounts: { [UTF8]: { charset: 'UTF-8' } } });
  });
  after(async () => {
    await icecast?.stop();
  });

  describe('titles on MP3 mounts', () => {
    let stack: Stack;
    let client: WebcastClient;
    let latin1: IcyListener;
    let utf8: IcyListener;

    before(async () => {
      stack = await startStack({
        icecastUrl: icecast.url,
        icecastConfig: { sourcePassword: icecast.sourcePassword },
        renditions: [
          { mount: '/live.ogg', format: 'ogg-opus' },
          { mount: LATIN1, format: 'mp3', bitrate: 64 }, // charset: Icecast's default
          { mount: UTF8, format: 'mp3', bitrate: 64, charset: 'UTF-8' },
        ],
      });
      client = new WebcastClient(`${stack.wsBase}live`);
      await client.opened;
      client.hello({ mime: 'audio/webm;codecs=opus', user: stack.broadcaster.name, password: stack.broadcaster.password });
      void client.stream(await fixture('audio-webm', 30), { seconds: 30 });
      await client.live();
      await waitForMount(icecast.url, icecast.adminPassword, LATIN1);
      await waitForMount(icecast.url, icecast.adminPassword, UTF8);
      latin1 = icyListen(`${icecast.url}${LATIN1}`);
      utf8 = icyListen(`${icecast.url}${UTF8}`);
      assert.equal(await latin1.status, 200);
      assert.equal(await utf8.status, 200);
    });
    after(async () => {
      latin1?.stop();
      utf8?.stop();
      client?.close(1000);
      await stack?.stop();
      await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
    });

    function sendTitle(title: string, artist?: string): void {
      client.ws.send(JSON.stringify({ type: 'metadata', data: { title, ...(artist !== undefined ? { artist } : {}) } }));
    }

    /** The ICY block a listener must get for `title`, in the bytes of `encoding`. */
    const block = (title: string, encoding: BufferEncoding): Buffer => Buffer.from(`StreamTitle='${title}';`, encoding);

    it('default charset (ISO-8859-1): `Évening Shöw — “live” …` arrives as `Évening Shöw - "live" ...` in status-json and ICY', async () => {
      const want = 'Évening Shöw - "live" ...';
      sendTitle('Évening Shöw — “live” …');
      await waitFor('status-json title', async () => (await statusTitle(icecast.url, LATIN1)) === want, 10000);
      // Latin-1 bytes in the ICY block: É is 0xC9, ö 0xF6; no entities, no UTF-8 mojibake
      const got = await latin1.waitForBlock((b) => b.includes('vening'), 10000);
      assert.deepEqual(got, block(want, 'latin1'), `ICY block ${JSON.stringify(got.toString('latin1'))}`);
      assert.equal(got.indexOf('&#'), -1, 'no character entities');
      const api = await (await fetch(`${stack.baseUrl}/api/status/live`)).json() as { title: string };
      assert.equal(api.title, 'Évening Shöw — “live” …', 'the daemon keeps the title as sent; only the Latin-1 mount gets it spelled in Latin-1');
    });

    it('UTF-8 charset: a Cyrillic + emoji + CJK title arrives byte-exact in status-json and ICY; the Latin-1 mount gets it transliterated', async () => {
      const title = 'Привет, мир 🎙️ 日本の歌';
      sendTitle(title, 'Дмитрий Шостакович');
      const want = `Дмитрий Шостакович - ${title}`;
      await waitFor('status-json title (UTF-8 mount)', async () => (await statusTitle(icecast.url, UTF8)) === want, 10000);
      const got = await utf8.waitForBlock((b) => b.includes(Buffer.from('Привет')), 10000);
      assert.deepEqual(got, block(want, 'utf8'), `ICY block ${JSON.stringify(got.toString('utf8'))}`);

      const translit = 'Dmitriy Shostakovich - Privet, mir ?';
      await waitFor('status-json title (Latin-1 mount)', async () => (await statusTitle(icecast.url, LATIN1)) === translit, 10000);
      const l1 = await latin1.waitForBlock((b) => b.includes('Privet'), 10000);
      assert.deepEqual(l1, block(translit, 'latin1'));
    });

    it('an apostrophe stays readable in ICY ("Don\'t Stop"), and the block is one field', async () => {
      sendTitle("Don't Stop Me Now");
      const got = await latin1.waitForBlock((b) => b.includes('Stop Me'), 10000);
      const text = got.toString('latin1');
      assert.deepEqual(icyFields(text), [{ key: 'StreamTitle', value: "Don't Stop Me Now" }]);
      assert.equal(text, "StreamTitle='Don't Stop Me Now';");
    });
  });

  describe('icewire doctor measures each MP3 mount\'s title charset', () => {
    async function doctor(renditions: Record<string, unknown>[]): Promise<DoctorCheck[]> {
      const config = parseConfig({
        icecast: { url: icecast.url, sourcePassword: icecast.sourcePassword, adminPassword: icecast.adminPassword },
        broadcasters: [{ name: 'alice', passwordHash: 'scrypt$16384$8$1$O+x7YFbx8v6WBJAgmTNiSw==$FrvQVbHl/ZrNRSLXJInGN0KAiAkLWEyyx3yt1KYIajI=', mounts: ['live'] }],
        mounts: { live: { renditions } },
      }, { env: {} });
      const checks = await runDoctor(config, { configFile: '/etc/icewire/icewire.yaml', env: {} });
      assert.deepEqual(await listMounts(icecast.url, icecast.adminPassword), [], 'doctor left no mount behind');
      return checks;
    }
    const titleCheck = (checks: DoctorCheck[], mount: string): DoctorCheck => {
      const c = checks.find((x) => x.what.startsWith(`Icecast mount ${mount} titles`));
      assert.ok(c !== undefined, `a titles check for ${mount}: ${JSON.stringify(checks)}`);
      return c;
    };

    it('UTF-8 mount and charset: UTF-8: ok; a default-charset mount: a warning that says how to keep any script', async () => {
      const checks = await doctor([
        { mount: UTF8, format: 'mp3', charset: 'UTF-8' },
        { mount: LATIN1, format: 'mp3' },
        { mount: '/live.ogg', format: 'ogg-opus' },
      ]);
      assert.equal(titleCheck(checks, UTF8).status, 'ok');
      const l1 = titleCheck(checks, LATIN1);
      assert.equal(l1.status, 'warn');
      assert.match(l1.what, /ISO-8859-1/);
      assert.match(l1.fix ?? '', /<charset>UTF-8<\/charset>.*charset: UTF-8/);
      assert.equal(checks.find((x) => x.what.startsWith('Icecast mount /live.ogg titles')), undefined, 'Ogg titles are always UTF-8: no check');
    });

    it('charset: UTF-8 on a mount Icecast keeps in ISO-8859-1: FAIL, the titles would arrive as &#8212; codes', async () => {
      const checks = await doctor([{ mount: LATIN1, format: 'mp3', charset: 'UTF-8' }]);
      const c = titleCheck(checks, LATIN1);
      assert.equal(c.status, 'FAIL');
      assert.match(c.what, /&#8212;/);
      assert.match(c.fix ?? '', /icecast\.xml/);
    });

    it('a UTF-8 mount with the default setting: a warning to set charset: UTF-8', async () => {
      const c = titleCheck(await doctor([{ mount: UTF8, format: 'mp3' }]), UTF8);
      assert.equal(c.status, 'warn');
      assert.match(c.fix ?? '', new RegExp(`charset: UTF-8 on the rendition ${UTF8}`));
    });
  });
});
