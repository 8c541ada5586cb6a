// npm run soak [-- --broadcasts N --minutes M]: N broadcasts for M minutes (default 20 x 30) into a
// real icecast2 through a real daemon process, each with a listener. Prints the daemon's RSS,
// open file descriptors and child processes at the start, every minute, and at the end, and
// fails if any listener was cut off or the daemon grew without bound. Not part of npm test.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { spawnDaemon } from '../helpers/daemon-process.js';
import { fixture } from '../helpers/media.js';
import { listen, waitForMount } from '../helpers/listener.js';
import { secret } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { startIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword } from '../../server/auth/password-hash.js';

const { values } = parseArgs({ options: { broadcasts: { type: 'string', default: '20' }, minutes: { type: 'string', default: '30' } } });
const N = Math.max(1, Math.min(200, Number(values.broadcasts)));
const MINUTES = Math.max(0.5, Math.min(24 * 60, Number(values.minutes)));

function sample(pid: number): { rssMb: number; fds: number; children: number } {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const children = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try { return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid); } catch { return false; }
  }).length;
  return { rssMb: Math.round(rss), fds, children };
}

async function main(): Promise<void> {
  const icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret() });
  const user = { name: 'soak', password: secret() };
  const mounts: Record<string, unknown> = {};
  for (let i = 1; i <= N; i++) mounts[`s${i}`] = { renditions: [{ mount: `/s${i}.ogg`, format: 'ogg-opus' }] };
  const daemon = await spawnDaemon({
    config: {
      listen: { host: '127.0.0.1', port: 0 },
      icecast: { url: icecast.url },
      broadcasters: [{ name: user.name, passwordHash: await hashPassword(user.password), mounts: Object.keys(mounts) }],
      mounts,
      limits: { maxBroadcasts: N + 5, maxConnectionsPerAddress: N + 5 },
    },
    env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: icecast.sourcePassword },
    maxOutputChars: 200000,
  });
  const file = await fixture('audio-webm', Math.ceil(MINUTES * 60) + 10);
  const t0 = Date.now();
  const log = (what: string): void => {
    const s = sample(daemon.child.pid!);
    process.stdout.write(`${((Date.now() - t0) / 60000).toFixed(1).padStart(6)} min  ${what.padEnd(10)} rss ${String(s.rssMb).padStart(4)} MB  fds ${String(s.fds).padStart(4)}  children ${s.children}\n`);
  };
  log('start');
  const clients: WebcastClient[] = [];
  const streams: Promise<number>[] = [];
  for (let i = 1; i <= N; i++) {
    const c = new WebcastClient(`${daemon.wsBase}s${i}`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: user.name, password: user.password });
    streams.push(c.stream(file, { seconds: Math.ceil(MINUTES * 60) + 10 }));
    clients.push(c);
  }
  await Promise.all(clients.map((c) => c.live(20000)));
  for (let i = 1; i <= N; i++) await waitForMount(icecast.url, icecast.adminPassword, `/s${i}.ogg`);
  const listeners = Array.from({ length: N }, (_, i) => listen(`${icecast.url}/s${i + 1}.ogg`));
  log('all live');
  const first = sample(daemon.child.pid!);
  const ticker = setInterval(() => log('running'), 60000);
  await new Promise((r) => setTimeout(r, MINUTES * 60000));
  clearInterval(ticker);
  log('end');
  const last = sample(daemon.child.pid!);
  const cut = listeners.filter((l) => l.ended()).length;
  const dead = clients.filter((c) => c.ws.readyState !== c.ws.OPEN).length;
  const kbps = listeners.map((l) => (l.bytes() * 8) / 1000 / (MINUTES * 60));
  for (const c of clients) c.close();
  for (const l of listeners) l.stop();
  await Promise.allSettled(streams);
  await daemon.stop();
  await icecast.stop();
  process.stdout.write(`\n${N} broadcasts x ${MINUTES} min: listeners cut off ${cut}, broadcasters dropped ${dead}, ` +
    `listener rate min ${Math.min(...kbps).toFixed(0)} kbit/s; RSS ${first.rssMb} -> ${last.rssMb} MB, fds ${first.fds} -> ${last.fds}, children ${first.children} -> ${last.children}\n`);
  const ok = cut === 0 && dead === 0 && last.fds <= first.fds + 5 && last.rssMb < first.rssMb * 1.5 + 50;
  process.stdout.write(ok ? 'soak OK\n' : 'soak FAILED\n');
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${String(err)}\n`);
  process.exitCode = 1;
});
