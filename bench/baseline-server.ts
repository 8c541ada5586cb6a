// The "bare" baseline the benchmark compares icewire with: a minimal Node WebSocket server that
// speaks just enough of the webcast protocol (hello, then binary chunks), and per connection one
// ffmpeg with the low-latency flags from docs/notes/ffmpeg.md whose stdout the server PUTs to Icecast.
// No auth, no limits, no reconnects, no recording, no demuxing: the least a Node + ffmpeg relay
// can do. Run as its own process so its process tree (node + ffmpegs) can be measured:
//
//   BASELINE_ICECAST_URL=http://127.0.0.1:8000 BASELINE_SOURCE_PASSWORD=… node dist/bench/baseline-server.js
//
// It prints `listening <port>` on stdout. The mount is the socket path: /ws/b1.ogg -> /b1.ogg; the
// extension picks the pipeline (.ogg Opus copy, .mp3 MP3 128k, .webm WebM copy).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { baselineArgs } from './baseline-args.js';

const icecast = new URL(process.env.BASELINE_ICECAST_URL ?? 'http://127.0.0.1:8000');
const sourcePassword = process.env.BASELINE_SOURCE_PASSWORD ?? 'hackme';
const ffmpegPath = process.env.BASELINE_FFMPEG ?? 'ffmpeg';
const flush = process.env.BASELINE_FLUSH_PACKETS !== '0';
/** Log when ffmpeg's output arrives (relative to the first media frame). */
const debug = process.env.BASELINE_DEBUG === '1';

const CONTENT_TYPE = { ogg: 'audio/ogg', mp3: 'audio/mpeg', webm: 'video/webm' } as const;

/** PUT to Icecast on a raw socket (no chunked body); resolves once Icecast answered 200. */
function icecastSource(mount: string, contentType: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: icecast.hostname, port: Number(icecast.port || 80) });
    sock.setNoDelay(true);
    let head = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('icecast: no answer')); }, 5000);
    sock.once('connect', () => {
      sock.write([
        `PUT ${mount} HTTP/1.1`,
        `Host: ${icecast.host}`,
        `Authorization: Basic ${Buffer.from(`source:${sourcePassword}`).toString('base64')}`,
        `Content-Type: ${contentType}`,
        'ice-public: 0',
        `ice-name: baseline ${mount}`,
        '', '',
      ].join('\r\n'));
    });
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      sock.off('data', onData);
      if (/^HTTP\/1\.[01] 200/.test(head)) {
        sock.on('data', () => {}); // Icecast sends nothing more; keep the socket flowing
        resolve(sock);
      } else {
        sock.destroy();
        reject(new Error(`icecast refused ${mount}: ${head.split('\r\n')[0]}`));
      }
    };
    sock.on('data', onData);
    sock.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

const children = new Set<ChildProcessWithoutNullStreams>();

function onConnection(ws: WebSocket, name: string): void {
  const ext = /\.(ogg|mp3|webm)$/.exec(name)?.[1] as 'ogg' | 'mp3' | 'webm' | undefined;
  if (ext === undefined) { ws.close(4403, 'mount must end in .ogg, .mp3 or .webm'); return; }
  let ff: ChildProcessWithoutNullStreams | undefined;
  let sock: Socket | undefined;
  let closed = false;
  let firstIn = 0;
  const status = (state: string): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'status', data: { state } }));
  };
  const finish = (): void => {
    if (closed) return;
    closed = true;
    if (ff !== undefined) ff.stdin.end();
    else sock?.end();
  };
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) {
      if (ff !== undefined || closed) return; // only the first text frame (hello) matters
      ff = spawn(ffmpegPath, baselineArgs(ext, flush), { stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(ff);
      const child = ff;
      child.stderr.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
      child.stdin.on('error', () => {});
      if (debug) {
        child.stdout.on('data', (d: Buffer) => process.stderr.write(`[${name}] +${(performance.now() - firstIn).toFixed(1)} ms ffmpeg stdout ${d.length} bytes${sock === undefined ? ' (before the PUT was accepted)' : ''}\n`));
      }
      child.stdin.on('drain', () => ws.resume());
      child.once('exit', () => {
        children.delete(child);
        sock?.end();
        if (ws.readyState === ws.OPEN) ws.close(1000);
      });
      icecastSource(`/${name}`, CONTENT_TYPE[ext]).then((s) => {
        sock = s;
        if (closed) { s.end(); return; }
        child.stdout.pipe(s);
        s.on('error', () => {});
        status('live');
      }, (err: Error) => {
        if (ws.readyState === ws.OPEN) {
          ws.send(JSON.stringify({ type: 'error', data: { code: 'ICECAST', message: err.message } }));
          ws.close(4502);
        }
        child.kill('SIGKILL');
      });
      return;
    }
    if (ff === undefined) return;
    if (debug && firstIn === 0) firstIn = performance.now();
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (!ff.stdin.write(buf)) ws.pause();
  });
  ws.on('close', finish);
  ws.on('error', finish);
}

const server = createServer((_req, res) => { res.writeHead(404).end(); });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (p) => (p.has('webcast') ? 'webcast' : false) });
server.on('upgrade', (req, socket, head) => {
  const m = /^\/ws\/([A-Za-z0-9._-]+)$/.exec(req.url ?? '');
  if (m === null) { socket.end('HTTP/1.1 404 Not Found\r\n\r\n'); return; }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, m[1]!));
});
server.listen(Number(process.env.BASELINE_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

function shutdown(): void {
  server.close();
  for (const ws of wss.clients) ws.terminate();
  for (const c of children) c.stdin.end();
  const t = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(0);
  }, 2000);
  const check = setInterval(() => {
    if (children.size === 0) { clearInterval(check); clearTimeout(t); process.exit(0); }
  }, 50);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
