// The per-request body deadline and the idle timeout on a real HTTP server (port 0), with short
// deadlines: a slow body is answered 408 and its connection closed; a body that arrives in time, a
// route that opts out (a streaming upload), a long streamed response and a WebSocket are not cut.
// The daemon's own values and the real attack are in the hostile suite.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import winston from 'winston';
import { WebSocket, WebSocketServer } from 'ws';
import { createLogger } from '../../server/log.js';
import { requestDeadlines, streamingRequest } from '../../server/http/request-deadlines.js';

const DEADLINE_MS = 400;
const IDLE_MS = 500;

interface Raw { text: string; closedAfterMs: number }

/** Send `head`, then `body` one byte every `everyMs`; resolve with what came back and when the server closed. */
function slowRequest(port: number, head: string, body: string, everyMs: number): Promise<Raw> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s: Socket = connect(port, '127.0.0.1');
    let text = '';
    let i = 0;
    s.write(head);
    const timer = setInterval(() => { if (i < body.length && !s.destroyed) s.write(body[i++]!); }, everyMs);
    s.on('data', (d) => { text += d.toString(); });
    s.on('error', () => undefined);
    s.on('close', () => { clearInterval(timer); resolve({ text, closedAfterMs: Date.now() - t0 }); });
  });
}

describe('request deadlines (real HTTP server)', function () {
  this.timeout(20000);
  let server: Server;
  let port: number;
  const logs: string[] = [];

  before(async () => {
    const logger = createLogger({ level: 'debug', json: true, console: false, transports: [new winston.transports.Stream({ stream: new Writable({ write(c: Buffer, _e, cb) { logs.push(c.toString()); cb(); } }) })] });
    const app = express();
    app.use(requestDeadlines({ bodyTimeoutMs: DEADLINE_MS, logger }));
    app.post('/json', express.json(), (req, res) => { res.json({ got: req.body }); });
    // a streaming upload: opts out, then reads the whole body however long it takes
    app.put('/upload', (req, res) => {
      streamingRequest(req);
      let n = 0;
      req.on('data', (d: Buffer) => { n += d.length; });
      req.on('end', () => res.json({ bytes: n }));
    });
    // a streamed response: a chunk every 100 ms for 3 deadlines
    app.get('/stream', (_req, res) => {
      let i = 0;
      const t = setInterval(() => { res.write(`chunk ${i}\n`); if (++i === Math.ceil((3 * DEADLINE_MS) / 100)) { clearInterval(t); res.end(); } }, 100);
    });
    // a big response for a client that stops reading
    app.get('/big', (_req, res) => {
      const block = Buffer.alloc(1 << 20);
      let sent = 0;
      const pump = (): void => {
        while (sent < 512) {
          sent++;
          if (!res.write(block)) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
    });
    app.use((_req, res) => { res.status(404).json({ error: 'nope' }); });
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => { if (!res.headersSent) res.status(400).end(); });
    server = createServer({ headersTimeout: 10000, requestTimeout: 0 }, app);
    server.timeout = IDLE_MS;
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m) => ws.send(m))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(() => { server.closeAllConnections(); server.close(); });

  it('a body that trickles in is answered 408 IW_ERR_HTTP_TIMEOUT and its connection closed at the deadline', async () => {
    const body = JSON.stringify({ user: 'alice', password: 'x'.repeat(50) });
    const r = await slowRequest(port, `POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body, 100);
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.match(r.text, /Connection: close/i);
    assert.match(r.text, /"code":"IW_ERR_HTTP_TIMEOUT"/);
    assert.ok(r.closedAfterMs >= DEADLINE_MS - 20 && r.closedAfterMs < DEADLINE_MS + 500, `closed after ${r.closedAfterMs} ms`);
    assert.ok(logs.some((l) => /request body too slow/.test(l) && /"path":"\/json"/.test(l)));
  });

  it('a body still trickling after the answer (no route read it) is cut at the deadline too', async () => {
    const r = await slowRequest(port, 'POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n', 'y'.repeat(1000), 50);
    assert.match(r.text, /^HTTP\/1\.1 404 /);
    assert.ok(r.closedAfterMs < DEADLINE_MS + 500, `closed after ${r.closedAfterMs} ms`);
  });

  it('a body that arrives in time is answered, and the connection stays open for the next request', async () => {
    const s = connect(port, '127.0.0.1');
    const body = '{"a":1}';
    let text = '';
    s.on('data', (d) => { text += d.toString(); });
    s.write(`POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await new Promise((r) => setTimeout(r, DEADLINE_MS + 200));
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.equal(s.destroyed, false, 'no deadline fired for a request that was complete');
    s.destroy();
  });

  it('a route that opts out (a streaming upload) takes a body for longer than the deadline', async () => {
    const r = await slowRequest(port, 'PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close\r\n\r\n', 'z'.repeat(20), 60);
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    assert.match(r.text, /\{"bytes":20\}/);
    assert.ok(r.closedAfterMs > 2 * DEADLINE_MS, `took ${r.closedAfterMs} ms`);
  });

  it('a response streamed for longer than the deadline is not cut', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/stream`);
    const text = await res.text();
    assert.equal(text.split('\n').filter(Boolean).length, Math.ceil((3 * DEADLINE_MS) / 100));
  });

  it('a client that stops reading a response is cut after the idle timeout', async () => {
    // judged on the server's side of the connection: a paused client does not see the close
    const serverSide = new Promise<Socket>((r) => server.once('connection', r));
    const s = connect(port, '127.0.0.1');
    s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    let t0 = 0;
    s.once('data', () => { s.pause(); t0 = Date.now(); }); // read the first bytes, then nothing more
    await new Promise((r) => void serverSide.then((sock) => sock.on('close', r)));
    const ms = Date.now() - t0;
    s.destroy();
    assert.ok(ms >= IDLE_MS && ms < IDLE_MS + 1500, `cut after ${ms} ms`);
  });

  it('a WebSocket quiet for longer than the idle timeout stays open', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((r) => ws.once('open', r));
    await new Promise((r) => setTimeout(r, IDLE_MS * 2));
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.send('still here');
    assert.equal(String(await new Promise((r) => ws.once('message', r))), 'still here');
    ws.close();
  });
});
