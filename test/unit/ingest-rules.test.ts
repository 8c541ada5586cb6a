// The ingest server's pure rules: which page origins may broadcast, which address a connection
// is counted against, and the per-address connection counter (the login limits: auth-gate.test.ts).
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseConfig } from '../../server/config/load.js';
import type { Config } from '../../server/config/schema.js';
import { clientAddress, originAllowed } from '../../server/auth/auth-gate.js';
import { ConnectionCounter } from '../../server/ingest/address-limits.js';

type OriginCfg = Pick<Config, 'allowedOrigins' | 'publicUrl'>;
const NONE: OriginCfg = { allowedOrigins: [], publicUrl: undefined };
const LISTED: OriginCfg = { allowedOrigins: ['https://studio.example.org', 'http://localhost:3000'], publicUrl: undefined };
const PUBLIC: OriginCfg = { allowedOrigins: [], publicUrl: 'https://live.example.org/radio' };

describe('originAllowed', () => {
  const rows: { what: string; origin: string | undefined; host: string | undefined; cfg: OriginCfg; want: boolean }[] = [
    { what: 'no Origin (a non-browser webcast client)', origin: undefined, host: '127.0.0.1:8080', cfg: NONE, want: true },
    { what: 'no Origin and no Host', origin: undefined, host: undefined, cfg: NONE, want: true },
    { what: 'the same host and port', origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080', cfg: NONE, want: true },
    { what: 'the same host by name', origin: 'http://localhost:8080', host: 'localhost:8080', cfg: NONE, want: true },
    { what: 'the same host on the default port', origin: 'https://radio.example.org', host: 'radio.example.org', cfg: NONE, want: true },
    { what: 'the same host, another port', origin: 'http://127.0.0.1:9999', host: '127.0.0.1:8080', cfg: NONE, want: false },
    { what: 'a listed origin', origin: 'https://studio.example.org', host: '127.0.0.1:8080', cfg: LISTED, want: true },
    { what: 'a listed origin with a port', origin: 'http://localhost:3000', host: '127.0.0.1:8080', cfg: LISTED, want: true },
    { what: 'a listed host under another scheme', origin: 'http://studio.example.org', host: '127.0.0.1:8080', cfg: LISTED, want: false },
    { what: 'a subdomain of a listed origin', origin: 'https://evil.studio.example.org', host: '127.0.0.1:8080', cfg: LISTED, want: false },
    { what: 'the publicUrl origin (its path ignored)', origin: 'https://live.example.org', host: '127.0.0.1:8080', cfg: PUBLIC, want: true },
    { what: 'the publicUrl host over http', origin: 'http://live.example.org', host: '127.0.0.1:8080', cfg: PUBLIC, want: false },
    { what: 'a foreign origin', origin: 'https://evil.example.com', host: '127.0.0.1:8080', cfg: LISTED, want: false },
    { what: 'a foreign origin with no Host header', origin: 'https://evil.example.com', host: undefined, cfg: NONE, want: false },
    { what: 'a foreign origin naming our host in its path', origin: 'https://evil.example.com/127.0.0.1:8080', host: '127.0.0.1:8080', cfg: NONE, want: false },
    { what: 'the "null" origin (sandboxed iframe, file://)', origin: 'null', host: '127.0.0.1:8080', cfg: NONE, want: false },
    { what: 'the "null" origin with a listed origin', origin: 'null', host: 'null', cfg: LISTED, want: false },
    { what: 'a malformed origin', origin: 'http://', host: '127.0.0.1:8080', cfg: NONE, want: false },
    { what: 'a bare host name', origin: '127.0.0.1:8080', host: '127.0.0.1:8080', cfg: NONE, want: false },
    { what: 'the empty string', origin: '', host: '127.0.0.1:8080', cfg: NONE, want: false },
  ];
  for (const r of rows) {
    it(`${r.what} -> ${r.want ? 'allowed' : 'refused'}`, () => {
      assert.equal(originAllowed(r.origin, r.host, r.cfg), r.want);
    });
  }

  // allowedOrigins entries are compared as serialised origins (lower-case host, no default port)
  for (const entry of ['https://Studio.Example.org', 'https://studio.example.org:443']) {
    it(`an allowedOrigins entry written ${entry} admits https://studio.example.org`, () => {
      const cfg = parseConfig({ allowedOrigins: [entry] }, { env: {} });
      assert.equal(originAllowed('https://studio.example.org', '127.0.0.1:8080', cfg), true);
    });
  }
});

function req(remoteAddress: string | undefined, xff?: string | string[]): IncomingMessage {
  const headers: Record<string, string | string[]> = {};
  if (xff !== undefined) headers['x-forwarded-for'] = xff;
  return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

describe('clientAddress', () => {
  const rows: { what: string; peer: string | undefined; xff?: string | string[]; trustProxy: boolean; want: string }[] = [
    { what: 'trustProxy off: the peer, X-Forwarded-For ignored', peer: '203.0.113.5', xff: '1.2.3.4', trustProxy: false, want: '203.0.113.5' },
    { what: 'trustProxy off, loopback peer: still the peer', peer: '127.0.0.1', xff: '1.2.3.4', trustProxy: false, want: '127.0.0.1' },
    { what: 'trustProxy off, no header', peer: '198.51.100.1', trustProxy: false, want: '198.51.100.1' },
    { what: 'trusted loopback proxy: the X-Forwarded-For address', peer: '127.0.0.1', xff: '198.51.100.7', trustProxy: true, want: '198.51.100.7' },
    { what: 'trusted proxy: the last hop, not a client-supplied first one', peer: '127.0.0.1', xff: '6.6.6.6, 198.51.100.7', trustProxy: true, want: '198.51.100.7' },
    { what: 'trusted proxy: the last hop, spaces trimmed', peer: '127.0.0.1', xff: '6.6.6.6 ,  198.51.100.8  ', trustProxy: true, want: '198.51.100.8' },
    { what: 'trusted proxy on ::1', peer: '::1', xff: '2001:db8::1', trustProxy: true, want: '2001:db8::1' },
    { what: 'trusted proxy on ::ffff:127.0.0.1', peer: '::ffff:127.0.0.1', xff: '198.51.100.9', trustProxy: true, want: '198.51.100.9' },
    { what: 'trusted proxy on another 127/8 address', peer: '127.0.0.2', xff: '198.51.100.10', trustProxy: true, want: '198.51.100.10' },
    { what: 'repeated headers: the last hop of the last one', peer: '127.0.0.1', xff: ['6.6.6.6', '7.7.7.7, 198.51.100.11'], trustProxy: true, want: '198.51.100.11' },
    { what: 'trustProxy on, non-loopback peer: X-Forwarded-For ignored', peer: '203.0.113.5', xff: '198.51.100.7', trustProxy: true, want: '203.0.113.5' },
    { what: 'trustProxy on, private-network peer: ignored (only a local proxy may speak)', peer: '10.0.0.1', xff: '198.51.100.7', trustProxy: true, want: '10.0.0.1' },
    { what: 'trustProxy on, mapped non-loopback peer: ignored', peer: '::ffff:10.0.0.1', xff: '198.51.100.7', trustProxy: true, want: '::ffff:10.0.0.1' },
    { what: 'trusted proxy without the header: the peer', peer: '127.0.0.1', trustProxy: true, want: '127.0.0.1' },
    { what: 'trusted proxy with an empty header: the peer', peer: '127.0.0.1', xff: '', trustProxy: true, want: '127.0.0.1' },
    { what: 'trusted proxy with only commas: the peer', peer: '127.0.0.1', xff: ' , ,', trustProxy: true, want: '127.0.0.1' },
    { what: 'no remote address (socket already gone)', peer: undefined, xff: '198.51.100.7', trustProxy: false, want: 'unknown' },
  ];
  for (const r of rows) {
    it(`${r.what} -> ${r.want}`, () => {
      assert.equal(clientAddress(req(r.peer, r.xff), r.trustProxy), r.want);
    });
  }
});

type CounterStep = ['acquire', string, boolean] | ['release', string];

describe('ConnectionCounter', () => {
  const rows: { what: string; max: number; steps: CounterStep[] }[] = [
    {
      what: 'refuses the connection over the limit, and again after a release',
      max: 2,
      steps: [['acquire', 'a', true], ['acquire', 'a', true], ['acquire', 'a', false], ['release', 'a'], ['acquire', 'a', true], ['acquire', 'a', false]],
    },
    {
      what: 'counts per address',
      max: 1,
      steps: [['acquire', 'a', true], ['acquire', 'b', true], ['acquire', 'a', false], ['acquire', 'b', false]],
    },
    {
      what: 'a refused acquire is not counted',
      max: 1,
      steps: [['acquire', 'a', true], ['acquire', 'a', false], ['acquire', 'a', false], ['release', 'a'], ['acquire', 'a', true]],
    },
    {
      what: 'releasing an address never acquired does not go below zero',
      max: 2,
      steps: [['release', 'a'], ['release', 'a'], ['acquire', 'a', true], ['acquire', 'a', true], ['acquire', 'a', false]],
    },
    {
      what: 'releasing twice does not free a slot twice',
      max: 2,
      steps: [['acquire', 'a', true], ['release', 'a'], ['release', 'a'], ['acquire', 'a', true], ['acquire', 'a', true], ['acquire', 'a', false]],
    },
  ];
  for (const r of rows) {
    it(r.what, () => {
      const counter = new ConnectionCounter(r.max);
      r.steps.forEach((step, i) => {
        if (step[0] === 'acquire') assert.equal(counter.acquire(step[1]), step[2], `step ${i}: acquire(${step[1]})`);
        else counter.release(step[1]);
      });
    });
  }

  it('forgets an address once all its connections are released', () => {
    const counter = new ConnectionCounter(5);
    for (let i = 0; i < 1000; i++) { counter.acquire(`10.0.${i >> 8}.${i & 255}`); counter.acquire(`10.0.${i >> 8}.${i & 255}`); }
    for (let i = 0; i < 1000; i++) { counter.release(`10.0.${i >> 8}.${i & 255}`); counter.release(`10.0.${i >> 8}.${i & 255}`); }
    assert.equal((counter as unknown as { counts: Map<string, number> }).counts.size, 0);
  });
});
