// doctor's checks of the host: the recordings directory is writable where systemd lets the
// daemon write, and the public addresses are ones browsers allow a microphone and a stream on.
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { errCode, type DoctorContext } from './context.js';

/** The unit's StateDirectory=icewire: the one writable place under ProtectSystem=strict. */
const STATE_DIR = '/var/lib/icewire';

function isLocalHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\./.test(h);
}

function describeFsError(err: unknown): string {
  switch (errCode(err)) {
    case 'ENOENT': return 'does not exist';
    case 'EACCES':
    case 'EPERM': return `is not writable by user ${userInfo().username}`;
    case 'EROFS': return 'is on a read-only file system';
    case 'ENOTDIR': return 'is not a directory';
    default: return `cannot be written (${String(errCode(err) ?? (err as Error).message)})`;
  }
}

// The recordings directory, when the config has one and a station mount records. The
// recorder creates it (mkdir -p) with the first show, so a missing one is fine as long as it
// can be created there.
export async function checkRecordingsDir(ctx: DoctorContext): Promise<void> {
  if (!('recordings' in ctx.config)) return;
  const dir = (ctx.config as unknown as { recordings?: { dir?: unknown } }).recordings?.dir;
  if (typeof dir !== 'string') return;
  const recording = Object.entries(ctx.config.mounts).filter(([, m]) => (m as { record?: unknown }).record === true).map(([id]) => id);
  if (recording.length === 0) {
    ctx.add('ok', `recordings: no station mount has record: true (${dir} is not used)`);
    return;
  }
  const user = userInfo().username;
  let target = dir;
  for (;;) {
    try {
      await ctx.deps.tryWrite(target);
      break;
    } catch (err) {
      const parent = dirname(target);
      if (errCode(err) === 'ENOENT' && parent !== target) {
        target = parent; // not there yet: can it be created?
        continue;
      }
      const code = errCode(err);
      if (dir.startsWith(`${STATE_DIR}/`) && target !== dir && !existsSync(STATE_DIR)) {
        // before the service's first start: StateDirectory= will make it, owned by icewire
        ctx.add('warn', `recordings directory ${dir} (for ${recording.join(', ')}): ${STATE_DIR} does not exist yet; systemd creates it (StateDirectory=icewire) when icewire.service starts`,
          'systemctl enable --now icewire, then run icewire doctor again');
        return;
      }
      const fix = code === 'EROFS'
        ? `under systemd only /var/lib/icewire is writable: keep recordings.dir there, or add ReadWritePaths=${dir} in a drop-in (systemctl edit icewire)`
        : code === 'ENOTDIR'
          ? `set recordings.dir ${ctx.inFile} to a directory (${target} is a file)`
          : `chown icewire:icewire ${target} (the service's user; run doctor as that user: runuser -u icewire -- icewire doctor)`;
      ctx.add('FAIL', target === dir
        ? `recordings directory ${dir} (for ${recording.join(', ')}) ${describeFsError(err)}`
        : `recordings directory ${dir} (for ${recording.join(', ')}) does not exist and cannot be created: ${target} ${describeFsError(err)}`, fix);
      return;
    }
  }
  ctx.add('ok', target === dir
    ? `recordings directory ${dir} is writable by user ${user}`
    : `recordings directory ${dir} does not exist yet; user ${user} can create it in ${target}`);
  if (dir !== STATE_DIR && !dir.startsWith(`${STATE_DIR}/`)) {
    ctx.add('warn', `recordings directory ${dir} is outside ${STATE_DIR}, the only place systemd/icewire.service lets the daemon write`,
      `keep recordings.dir under ${STATE_DIR} ${ctx.inFile}, or add ReadWritePaths=${dir} in a drop-in (systemctl edit icewire)`);
  }
}

// Browsers allow the microphone only on https (or localhost) pages, and an https page can
// only play an https stream.
export function checkPublicUrls(ctx: DoctorContext): void {
  const p = ctx.config.publicUrl;
  if (p === undefined) {
    ctx.add('warn', 'publicUrl is not set',
      `set publicUrl: https://live.example.org ${ctx.inFile} (the address people open, served by nginx with TLS: docs/deploy.md)`);
  } else {
    const u = new URL(p);
    if (u.protocol === 'https:') ctx.add('ok', `publicUrl ${p} is https`);
    else if (isLocalHost(u.hostname)) ctx.add('ok', `publicUrl ${p} is http on this machine (browsers allow the microphone on localhost)`);
    else {
      ctx.add('warn', `publicUrl ${p} is http: browsers allow the microphone only on https:// pages`,
        `put nginx with TLS in front (nginx/icewire.conf, docs/deploy.md) and set publicUrl: https://${u.host} ${ctx.inFile}`);
    }
  }
  const ip = ctx.config.icecast.publicUrl;
  const iu = new URL(ip);
  if (iu.protocol === 'http:' && !isLocalHost(iu.hostname)) {
    ctx.add('warn', `icecast.publicUrl ${ip} is http: an https page cannot play it`,
      `serve Icecast over https (the optional block at the end of nginx/icewire.conf) and set icecast.publicUrl: https://${iu.host} ${ctx.inFile}`);
  }
}
