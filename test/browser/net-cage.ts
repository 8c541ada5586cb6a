// A browser behind a network cable the test can pull: a network namespace joined to this machine
// by a veth pair (iproute2), and a launcher script that starts Debian's Chromium inside it. The
// browser reaches the daemon only over that pair, so `cut()` (the pair's link down) takes away
// everything it has — its WebRTC media and its signalling socket alike — as a pulled cable or a
// dead Wi-Fi would, and `restore()` plugs it back. Needs root (or CAP_NET_ADMIN/CAP_SYS_ADMIN);
// without it `makeNetCage` throws a sentence saying so (the test fails; it does not skip).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetCage {
  /** The daemon side of the pair: what the caged browser connects to. */
  readonly hostIp: string;
  /** The caged browser's own address. */
  readonly cagedIp: string;
  /** An executable that runs /usr/bin/chromium inside the namespace (playwright's executablePath). */
  readonly chromium: string;
  /** Pull the cable: both ends of the pair down. */
  cut(): Promise<void>;
  /** Plug it back in. */
  restore(): Promise<void>;
  /** Remove the namespace and the pair (safe to call twice, and after a failed setup). */
  remove(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  await run('ip', args, { timeout: 10000 });
}

/** 10.77.<n>.0/30 not on any interface now. */
async function freeSubnet(): Promise<number> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show']);
  for (let i = 0; i < 50; i++) {
    const n = randomBytes(1)[0]! % 254 + 1;
    if (!stdout.includes(`10.77.${n}.`)) return n;
  }
  throw new Error('no free 10.77.x.0/30 subnet for the test network namespace');
}

/** A namespace, a veth pair, addresses, and a Chromium launcher for it; `dir` holds the launcher. */
export async function makeNetCage(dir: string): Promise<NetCage> {
  const id = randomBytes(3).toString('hex');
  const ns = `icewire-${process.pid}-${id}`;
  // interface names: at most 15 characters
  const hostEnd = `iwh${id}`;
  const cagedEnd = `iwg${id}`;
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    // deleting the namespace deletes its end of the pair, and with it the other end
    await ip(['netns', 'del', ns]).catch(() => undefined);
    await ip(['link', 'del', hostEnd]).catch(() => undefined);
  };
  try {
    const n = await freeSubnet();
    const hostIp = `10.77.${n}.1`;
    const cagedIp = `10.77.${n}.2`;
    await ip(['netns', 'add', ns]);
    await ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', cagedEnd]);
    await ip(['link', 'set', cagedEnd, 'netns', ns]);
    await ip(['addr', 'add', `${hostIp}/30`, 'dev', hostEnd]);
    await ip(['link', 'set', hostEnd, 'up']);
    await ip(['-n', ns, 'addr', 'add', `${cagedIp}/30`, 'dev', cagedEnd]);
    await ip(['-n', ns, 'link', 'set', cagedEnd, 'up']);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    // as behind a home router: every address of this machine is reachable through the pair
    const route = (): Promise<void> => ip(['-n', ns, 'route', 'replace', 'default', 'via', hostIp]);
    await route();
    const chromium = join(dir, `chromium-in-${ns}.sh`);
    writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} /usr/bin/chromium "$@"\n`);
    chmodSync(chromium, 0o755);
    const link = async (state: 'up' | 'down'): Promise<void> => {
      await ip(['link', 'set', hostEnd, state]);
      await ip(['-n', ns, 'link', 'set', cagedEnd, state]);
    };
    // a link going down takes its routes with it: the default route comes back with the link
    return { hostIp, cagedIp, chromium, cut: () => link('down'), restore: async () => { await link('up'); await route(); }, remove };
  } catch (err) {
    await remove();
    const why = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`This test pulls a real network cable: it needs root (CAP_NET_ADMIN) and iproute2 to make a network namespace and a veth pair, and could not: ${why}`, { cause: err });
  }
}
