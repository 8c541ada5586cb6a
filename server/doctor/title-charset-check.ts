// doctor's title-charset check: an MP3 mount keeps "now playing" in the charset icecast.xml gives
// it (ISO-8859-1 unless `<charset>UTF-8</charset>`), and icewire must spell titles for it
// (rendition `charset`). While doctor is the mount's source it sets a probe title, sends a little
// silence so Icecast applies it, and reads it back from status-json (docs/notes/icecast.md, "Titles").
import type { TitleCharset } from '../config/schema.js';
import type { IcecastSource } from '../icecast/icecast-source.js';
import type { DoctorContext } from './context.js';

/** How long the title probe waits for Icecast to show its title. */
const TITLE_PROBE_MS = 3000;
/**
 * The probe title: a Latin-1 letter and a character Latin-1 lacks. An ISO-8859-1 mount shows the
 * second as `&#8212;` in status-json; a UTF-8 mount keeps both.
 */
const TITLE_PROBE = 'icewire doctor é — ok';
/**
 * One MPEG-1 Layer III frame of silence (128 kbit/s, 44.1 kHz, mono; all side info zero).
 * Icecast applies a new MP3 title only when source data follows it.
 */
const SILENT_MP3_FRAME = (() => {
  const f = Buffer.alloc(417);
  f.set([0xff, 0xfb, 0x90, 0xc4]);
  return f;
})();

/**
 * Set a probe title on a mount this doctor is the source of, send a little silence so Icecast
 * applies it, and read it back from status-json: the title shows which charset Icecast keeps
 * the mount's titles in. undefined when Icecast showed no title in time.
 */
export async function probeTitleCharset(ctx: DoctorContext, src: Pick<IcecastSource, 'write'>, mount: string): Promise<TitleCharset | undefined> {
  const ic = ctx.config.icecast;
  const u = new URL('/admin/metadata', ic.url);
  u.searchParams.set('mount', mount);
  u.searchParams.set('mode', 'updinfo');
  u.searchParams.set('song', TITLE_PROBE);
  u.searchParams.set('charset', 'UTF-8');
  const auth = `Basic ${Buffer.from(`${ic.sourceUser}:${ic.sourcePassword ?? ''}`, 'utf8').toString('base64')}`;
  try {
    const ans = await ctx.deps.httpGet(u.toString(), ic.connectTimeoutMs, { Authorization: auth });
    if (ans.status !== 200 || !/Metadata update successful/i.test(ans.body)) return undefined;
    const deadline = Date.now() + TITLE_PROBE_MS;
    while (Date.now() < deadline) {
      src.write(SILENT_MP3_FRAME);
      const title = titleInStatus((await ctx.deps.httpGet(`${ic.url}/status-json.xsl`, ic.connectTimeoutMs)).body, mount);
      if (title === TITLE_PROBE) return 'UTF-8';
      if (title !== undefined && title.startsWith('icewire doctor')) return 'ISO-8859-1';
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch {
    // unknown: said by the check
  }
  return undefined;
}

/** The verdict on a mount's measured charset against the rendition's configured one. */
export function titleCharsetCheck(ctx: DoctorContext, mount: string, measured: TitleCharset | undefined, configured: TitleCharset | undefined): void {
  const what = `Icecast mount ${mount} titles`;
  const icecastFix = `give ${mount} <charset>UTF-8</charset> in /etc/icecast2/icecast.xml (a <mount> block: docs/deploy.md, step 4), systemctl restart icecast2`;
  const setting = configured ?? 'ISO-8859-1';
  if (measured === undefined) {
    ctx.add('warn', `${what}: charset not measured (Icecast showed no probe title within ${TITLE_PROBE_MS / 1000} s)`,
      `if titles with accents or other scripts look wrong, ${icecastFix}, and set charset: UTF-8 on the rendition ${ctx.inFile}`);
  } else if (measured === 'UTF-8' && setting === 'UTF-8') {
    ctx.add('ok', `${what}: UTF-8 (any script reaches listeners intact)`);
  } else if (measured === 'UTF-8') {
    ctx.add('warn', `${what}: Icecast keeps them in UTF-8, but icewire is set to ISO-8859-1 and spells titles in Latin-1 (— becomes -, Привет becomes Privet, emoji are left out)`,
      `set charset: UTF-8 on the rendition ${mount} ${ctx.inFile}`);
  } else if (setting === 'UTF-8') {
    ctx.add('FAIL', `${what}: Icecast keeps them in ISO-8859-1, but icewire is set to UTF-8: characters Latin-1 lacks reach listeners as codes like &#8212;`,
      `${icecastFix}; or remove charset: UTF-8 from the rendition ${mount} ${ctx.inFile}`);
  } else {
    ctx.add('warn', `${what}: ISO-8859-1 (Icecast's default): accents Latin-1 has stay, icewire spells the rest in Latin letters (— becomes -, Привет becomes Privet, emoji are left out)`,
      `for titles in any script: ${icecastFix}, then set charset: UTF-8 on the rendition ${mount} ${ctx.inFile}`);
  }
}

/** The title status-json shows for a mount (one source is an object, several an array). */
function titleInStatus(body: string, mount: string): string | undefined {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return undefined; // 2.4.4 can answer invalid JSON; the next poll may be fine
  }
  const src = (j as { icestats?: { source?: unknown } }).icestats?.source;
  const list = (Array.isArray(src) ? src : src !== undefined ? [src] : []) as { listenurl?: unknown; title?: unknown }[];
  const s = list.find((x) => typeof x.listenurl === 'string' && new URL(x.listenurl).pathname === mount);
  return typeof s?.title === 'string' ? s.title : undefined;
}
