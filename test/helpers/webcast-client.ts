// A webcast client for tests: hello, then a file's bytes as chunks, paced like a browser.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { ErrorData, StatusData } from '../../www/src/wire-contract.js';

export type StatusFrame = StatusData;
export type ErrorFrame = ErrorData;

export interface ClientOptions {
  protocols?: string[];
  origin?: string;
  headers?: Record<string, string>;
  /** Trust this CA for wss:// (a test's self-signed certificate). */
  ca?: string;
}

export class WebcastClient {
  readonly ws: WebSocket;
  readonly statuses: StatusFrame[] = [];
  readonly errors: ErrorFrame[] = [];
  readonly texts: string[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private liveWaiters: (() => void)[] = [];

  constructor(url: string, opts: ClientOptions = {}) {
    this.ws = new WebSocket(url, opts.protocols ?? ['webcast'], {
      ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
      ...(opts.headers !== undefined ? { headers: opts.headers } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('error', () => { /* surfaced through closed */ });
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      this.texts.push(text);
      const msg = JSON.parse(text) as { type: string; data: unknown };
      if (msg.type === 'status') {
        this.statuses.push(msg.data as StatusFrame);
        if ((msg.data as StatusFrame).state === 'live') for (const w of this.liveWaiters.splice(0)) w();
      }
      if (msg.type === 'error') this.errors.push(msg.data as ErrorFrame);
    });
  }

  hello(data: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ type: 'hello', data }));
  }

  /** Resolves when a status frame says live; rejects if the socket closes first. */
  live(timeoutMs = 10000): Promise<void> {
    if (this.statuses.some((s) => s.state === 'live')) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not live within ${timeoutMs} ms; errors: ${JSON.stringify(this.errors)}`)), timeoutMs);
      this.liveWaiters.push(() => { clearTimeout(t); resolve(); });
      void this.closed.then((c) => { clearTimeout(t); reject(new Error(`closed before live: ${c.code} ${c.reason} ${JSON.stringify(this.errors)}`)); });
    });
  }

  /**
   * Send a file's bytes in chunks at `speed` x real time (duration known), like MediaRecorder's
   * timeslice chunks. Stops early when the socket closes.
   */
  async stream(file: string, opts: { seconds: number; chunkMs?: number; speed?: number; maxChunks?: number }): Promise<number> {
    const data = readFileSync(file);
    const chunkMs = opts.chunkMs ?? 250;
    const bytesPerChunk = Math.max(1, Math.round((data.length / (opts.seconds * 1000)) * chunkMs));
    const speed = opts.speed ?? 1;
    const t0 = Date.now();
    let sent = 0;
    let i = 0;
    while (sent < data.length && this.ws.readyState === WebSocket.OPEN) {
      if (opts.maxChunks !== undefined && i >= opts.maxChunks) break;
      const chunk = data.subarray(sent, sent + bytesPerChunk);
      this.ws.send(chunk);
      sent += chunk.length;
      i++;
      const due = t0 + (i * chunkMs) / speed;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return sent;
  }

  close(code = 1000): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
  }
}
