// doctor's Icecast checks: Icecast answers at icecast.url, and accepts a real source login on each
// mount (a PUT that sends no audio and closes at once; the check waits until Icecast has dropped
// the mount again, so it leaves nothing behind). On an MP3 mount the login also measures the
// mount's title charset (title-charset-check.ts).
import { ENV_SOURCE_PASSWORD } from '../config/load.js';
import type { RenditionFormat, TitleCharset } from '../config/schema.js';
import { IcewireError } from '../errors.js';
import { contentTypeFor } from '../pipeline/ffmpeg-args.js';
import { errCode, type DoctorContext, type HttpAnswer } from './context.js';
import { probeTitleCharset, titleCharsetCheck } from './title-charset-check.js';

const MOUNT_GONE_TIMEOUT_MS = 3000;

// Icecast answers HTTP at icecast.url
export async function checkIcecastReachable(ctx: DoctorContext): Promise<boolean> {
  const { url, connectTimeoutMs } = ctx.config.icecast;
  let ans: HttpAnswer;
  try {
    ans = await ctx.deps.httpGet(`${url}/status-json.xsl`, connectTimeoutMs);
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const code = errCode(cause) ?? errCode(err);
    const name = (err as Error).name;
    const why = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${connectTimeoutMs} ms` : String(code ?? (err as Error).message);
    ctx.add('FAIL', `Icecast at ${url}: unreachable (${why})`,
      `start Icecast (systemctl start icecast2; its log: /var/log/icecast2/error.log), or set icecast.url ${ctx.inFile} to where it listens`);
    return false;
  }
  if (ans.server === null || !/icecast/i.test(ans.server)) {
    ctx.add('warn', `Icecast at ${url}: something answers (HTTP ${ans.status}${ans.server !== null ? `, Server: ${ans.server}` : ''}) but it does not say it is Icecast`,
      `set icecast.url ${ctx.inFile} to Icecast itself (Debian's icecast2: http://127.0.0.1:8000), not a proxy in front of it`);
    return true;
  }
  ctx.add('ok', `Icecast at ${url} (${ans.server})`);
  return true;
}

/** Every Icecast mount the config streams to, with its content type. */
function icecastMounts(ctx: DoctorContext): { mount: string; contentType: string; format: RenditionFormat; charset: TitleCharset | undefined }[] {
  return Object.values(ctx.config.mounts).flatMap((m) => m.renditions.map((r) => ({
    mount: r.mount, contentType: contentTypeFor(r.format, undefined), format: r.format, charset: r.charset,
  })));
}

// A real source login on each mount, closed at once
export async function checkSourceLogins(ctx: DoctorContext, reachable: boolean): Promise<void> {
  const ic = ctx.config.icecast;
  if (ctx.config.auth.mode === 'passthrough' || ic.sourcePassword === undefined) {
    ctx.add('ok', 'Icecast source password: skipped (passthrough mode: broadcasters type their mount\'s own source password)');
    return;
  }
  const where = ctx.env[ENV_SOURCE_PASSWORD] !== undefined && ctx.env[ENV_SOURCE_PASSWORD] !== ''
    ? `the ${ENV_SOURCE_PASSWORD} environment variable (it overrides the config)`
    : `icecast.sourcePasswordFile (or icecast.sourcePassword) ${ctx.inFile}`;
  for (const { mount, contentType, format, charset } of icecastMounts(ctx)) {
    const what = `Icecast source login ${ic.sourceUser}@${mount}`;
    if (!reachable) {
      ctx.add('warn', `${what}: not checked (Icecast is unreachable)`, 'fix the Icecast check above, then run icewire doctor again');
      continue;
    }
    const src = ctx.deps.openSource({
      url: ic.url, mount, user: ic.sourceUser, password: ic.sourcePassword, contentType,
      ice: { name: 'icewire doctor', public: false }, legacySource: ic.legacySource, connectTimeoutMs: ic.connectTimeoutMs,
    });
    try {
      await src.connect();
    } catch (err) {
      src.destroy();
      sourceRefused(ctx, what, mount, err, where);
      continue;
    }
    // MP3 titles depend on the mount's charset in icecast.xml: measure it while connected
    const measured = format === 'mp3' ? await probeTitleCharset(ctx, src, mount) : undefined;
    await src.end();
    const gone = await waitMountGone(ctx, mount);
    ctx.add('ok', `${what}: accepted${gone ? '' : ' (Icecast still lists the mount a moment after the test connection closed)'}`);
    if (format === 'mp3') titleCharsetCheck(ctx, mount, measured, charset);
  }
}

function sourceRefused(ctx: DoctorContext, what: string, mount: string, err: unknown, where: string): void {
  const code = err instanceof IcewireError ? err.code : undefined;
  const detail = err instanceof IcewireError ? err.detail ?? err.message : String(err);
  switch (code) {
    case 'IW_ERR_ICECAST_MOUNT_IN_USE':
      // Icecast checks the password before the mount (a wrong one gets 401 even on a busy mount),
      // so the login itself was accepted.
      ctx.add('ok', `${what}: in use (someone is live); the password was accepted`);
      return;
    case 'IW_ERR_ICECAST_AUTH':
      ctx.add('FAIL', `${what}: Icecast refused the user or password (401)`,
        `make ${where} hold Icecast's <source-password> from /etc/icecast2/icecast.xml (or the <password> of a <mount> block for ${mount}), and keep icecast.sourceUser: ${ctx.config.icecast.sourceUser === 'source' ? 'source' : 'source (Icecast 2.4 accepts no other user)'}`);
      return;
    case 'IW_ERR_ICECAST_LIMIT':
      ctx.add('FAIL', `${what}: Icecast has too many sources connected`,
        'raise <sources> under <limits> in /etc/icecast2/icecast.xml (at least the number of renditions, plus headroom), then systemctl restart icecast2');
      return;
    case 'IW_ERR_ICECAST_UNREACHABLE':
      ctx.add('FAIL', `${what}: could not connect (${detail})`,
        `check that Icecast runs and icecast.url ${ctx.inFile} is where it listens`);
      return;
    default:
      ctx.add('FAIL', `${what}: refused (${detail})`,
        `see why in Icecast's error log (/var/log/icecast2/error.log) and the <mount> settings for ${mount} in /etc/icecast2/icecast.xml`);
  }
}

/** After a test login: wait (bounded) until Icecast no longer lists the mount. */
async function waitMountGone(ctx: DoctorContext, mount: string): Promise<boolean> {
  const ic = ctx.config.icecast;
  const deadline = Date.now() + MOUNT_GONE_TIMEOUT_MS;
  for (;;) {
    try {
      if (ic.adminUser !== undefined && ic.adminPassword !== undefined) {
        const auth = `Basic ${Buffer.from(`${ic.adminUser}:${ic.adminPassword}`, 'utf8').toString('base64')}`;
        const ans = await ctx.deps.httpGet(`${ic.url}/admin/listmounts`, ic.connectTimeoutMs, { Authorization: auth });
        if (ans.status === 200 && !ans.body.includes(`mount="${mount}"`)) return true;
        if (ans.status !== 200) return await waitMountGoneByStatus(ctx, mount, deadline);
      } else {
        return await waitMountGoneByStatus(ctx, mount, deadline);
      }
    } catch {
      return false;
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitMountGoneByStatus(ctx: DoctorContext, mount: string, deadline: number): Promise<boolean> {
  const ic = ctx.config.icecast;
  for (;;) {
    // status-json.xsl lists each source's listenurl (…/live.ogg"); with no sources 2.4.4 may
    // answer invalid JSON, so read it as text.
    const ans = await ctx.deps.httpGet(`${ic.url}/status-json.xsl`, ic.connectTimeoutMs);
    if (!ans.body.includes(`${mount}"`)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
