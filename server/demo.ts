// `npm start`: a demo station on a fresh machine. Starts a private icecast2 (generated config,
// free port) and the daemon with one broadcaster, prints where to go, stops both on Ctrl-C.
import { randomBytes } from 'node:crypto';
import { parseConfig } from './config/load.js';
import { createDaemon } from './daemon.js';
import { freePort, startIcecast } from './icecast/managed-icecast.js';
import { hashPassword } from './auth/password-hash.js';
import { createLogger } from './log.js';

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.ICEWIRE_LOG_LEVEL ?? 'info' });
  let icecast;
  try {
    icecast = await startIcecast({});
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
          { mount: '/live.mp3', format: 'mp3', bitrate: 128 },
        ],
      },
    },
  }, { env: {} });
  const daemon = createDaemon(config, logger);
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
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void daemon.stop().finally(() => icecast.stop()).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
