// `npm start`: a demo station on a fresh machine. Starts a private icecast2 (generated config,
// free port) and the daemon with one broadcaster, prints where to go, stops both on Ctrl-C.
// If icecast2 dies, the demo says so and starts it again on the same port (bounded, backed off);
// the daemon reconnects its sources by itself, so a live show comes back on air.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from './config/load.js';
import { createDaemon, type Daemon } from './daemon.js';
import { freePort, startIcecast, type ManagedIcecast } from './icecast/managed-icecast.js';
import { hashPassword } from './auth/password-hash.js';
import { createLogger } from './log.js';

/** Waits before each restart of a dead icecast2; past the last one within the window, the demo gives up. */
const RESTART_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
/** Deaths further apart than this start the count again. */
const RESTART_WINDOW_MS = 60_000;

const say = (line: string): void => { process.stdout.write(`icewire demo: ${line}\n`); };

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.ICEWIRE_LOG_LEVEL ?? 'info' });
  let icecast: ManagedIcecast;
  let daemon: Daemon | undefined;
  let stopping = false;
  const deaths: number[] = [];
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    void (daemon?.stop() ?? Promise.resolve()).finally(() => icecast.stop()).then(() => process.exit(code));
  };
  const onIcecastDeath = (exit: { code: number | null; signal: NodeJS.Signals | null }): void => {
    if (stopping) return;
    const now = Date.now();
    while (deaths.length > 0 && now - deaths[0]! > RESTART_WINDOW_MS) deaths.shift();
    deaths.push(now);
    const how = exit.signal !== null ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    const delay = RESTART_DELAYS_MS[deaths.length - 1];
    if (delay === undefined) {
      say(`icecast2 ${how}, the ${deaths.length}th time within a minute: giving up. Its last log lines:`);
      process.stdout.write(lastLogLines(icecast));
      stop(1);
      return;
    }
    say(`icecast2 ${how}. Starting it again in ${delay / 1000} s; a live show comes back on air by itself.`);
    setTimeout(() => {
      if (stopping) return;
      icecast.restart().then(
        () => say(`icecast2 is running again at ${icecast.url}.`),
        (err: unknown) => {
          say(`icecast2 did not start again: ${(err as Error).message}`);
          stop(1);
        },
      );
    }, delay);
  };

  try {
    // UTF-8 titles on every mount: now playing in any script (docs/notes/icecast.md, "Titles")
    icecast = await startIcecast({ mounts: { '*': { charset: 'UTF-8' } }, onUnexpectedExit: onIcecastDeath });
  } catch (err) {
    process.stderr.write(`icewire demo: cannot start icecast2: ${(err as Error).message}\nOn Debian/Ubuntu: sudo apt install icecast2 ffmpeg\n`);
    process.exitCode = 1;
    return;
  }
  const password = randomBytes(9).toString('base64url');
  const wantedPort = Number(process.env.PORT ?? 8080);
  const port = await freePort().then(async (fallback) => {
    // 8080 when it is free, so the URL is easy to type; any free port otherwise
    const { createServer } = await import('node:net');
    return new Promise<number>((resolve) => {
      const probe = createServer().once('error', () => resolve(fallback)).listen(wantedPort, '127.0.0.1', () => probe.close(() => resolve(wantedPort)));
    });
  });
  const config = parseConfig({
    listen: { host: '127.0.0.1', port },
    icecast: { url: icecast.url, sourcePassword: icecast.sourcePassword, adminPassword: icecast.adminPassword },
    broadcasters: [{ name: 'demo', passwordHash: await hashPassword(password), mounts: ['live'] }],
    mounts: {
      live: {
        name: 'icewire demo station',
        description: 'Live from the browser',
        renditions: [
          { mount: '/live.ogg', format: 'ogg-opus' },
          // for players without Opus (Safari before 18.4, older radios); titles in UTF-8
          { mount: '/live.mp3', format: 'mp3', bitrate: 128, charset: 'UTF-8' },
        ],
      },
    },
  }, { env: {} });
  daemon = createDaemon(config, logger);
  await daemon.start();
  const base = `http://127.0.0.1:${port}`;
  process.stdout.write([
    '',
    '  icewire demo station is running',
    `  Broadcast page:  ${base}/`,
    '  Log in as:       demo',
    `  Password:        ${password}`,
    `  Listen page:     ${base}/listen/live`,
    `  Icecast streams: ${icecast.url}/live.ogg  ${icecast.url}/live.mp3`,
    '  Stop with Ctrl-C.',
    '',
  ].join('\n') + '\n');
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
}

function lastLogLines(icecast: ManagedIcecast): string {
  try {
    return `${readFileSync(join(icecast.dir, 'log', 'error.log'), 'utf8').trimEnd().split('\n').slice(-10).join('\n')}\n`;
  } catch {
    return '(no log)\n';
  }
}

void main();
