// The shipped nginx/icewire.conf in a real nginx (Debian's nginx-light), with TLS: a self-signed
// certificate, the guide's own sed lines (docs/deploy.md step 7) for the names and for turning on
// the Icecast block, then only what a test machine needs changed: certificate paths, free high
// ports on 127.0.0.1 instead of 80/443, and the daemon's and Icecast's ports. Chromium opens the
// broadcaster page over https://, goes live over wss:// through nginx, and a listener gets the
// stream through nginx's Icecast block over https.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../server/icecast/managed-icecast.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { useChromium } from '../helpers/browser.js';
import { probe } from '../helpers/media.js';
import { waitFor, waitForMount } from '../helpers/listener.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { deployCommand, substitute } from './deploy-doc.js';
import { assertNginxTestOk, NginxDir } from './nginx-dir.js';

const run = promisify(execFile);
const SHIPPED = join(PACKAGE_ROOT, 'nginx', 'icewire.conf');
/** Where `npm install -g --prefix /usr/local icewire` puts the package (docs/deploy.md step 3). */
const INSTALLED_PACKAGE = '/usr/local/lib/node_modules/icewire';
const LIVE = 'localhost';
const RADIO = 'radio.localhost';


// Page-side code runs in the browser; the project's tsconfig has no DOM lib for it.
declare const document: { getElementById(id: string): { dataset: Record<string, string | undefined>; textContent: string | null } | null };
declare const window: { isSecureContext: boolean };

/** Run docs/deploy.md's sed line (matched by `re`) on the site file, with LIVE/RADIO set. */
async function deploySed(n: NginxDir, re: RegExp): Promise<void> {
  const cmd = substitute(deployCommand(re), [['/etc/nginx/conf.d/icewire.conf', n.site]]);
  await run('sh', ['-ec', cmd], { env: { ...process.env, LIVE, RADIO } });
}

interface Answer { status: number; headers: IncomingHttpHeaders; distinct: NodeJS.Dict<string[]>; body: string }

/** One HTTPS request to 127.0.0.1:port as `host`, verifying nginx's certificate against our CA. */
function httpsGet(port: number, host: string, path: string, ca: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { Host: `${host}:${port}` }, ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, distinct: res.headersDistinct, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function httpGet(port: number, host: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { Host: `${host}:${port}` }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, distinct: res.headersDistinct, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A listener over https through nginx: everything received in `ms`. */
function recordHttps(port: number, host: string, path: string, ca: string, ms: number): Promise<{ status: number; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { Host: host }, ca, agent: false }, (res) => {
      const t = setTimeout(() => { res.destroy(); req.destroy(); }, ms);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('close', () => { clearTimeout(t); resolve({ status: res.statusCode ?? 0, data: Buffer.concat(chunks) }); });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('nginx with TLS in front of icewire (nginx/icewire.conf)', function () {
  this.timeout(60000);

  it('nginx -t passes on the shipped file with only the certificate paths substituted, with and without the Icecast block', async () => {
    const n = new NginxDir();
    try {
      await n.makeCertificate([LIVE, RADIO]);
      writeFileSync(n.site, n.withCert(readFileSync(SHIPPED, 'utf8')));
      assertNginxTestOk(await n.test(), n.conf);
      // docs/deploy.md step 7's sed that uncomments the Icecast block, exactly as written
      await deploySed(n, /^sed -i '\/\^# server/);
      const site = readFileSync(n.site, 'utf8');
      assert.match(site, /^server \{\n {4}listen 443 ssl http2;\n(.*\n)* {4}server_name radio\.example\.org;/m, 'the Icecast block is on');
      assert.doesNotMatch(site, /^# ?(server \{| {4}|\})/m, 'nothing of the block is left commented out');
      assertNginxTestOk(await n.test(), n.conf);
      // and it can fail: a broken file is refused
      writeFileSync(n.site, `${site}\nserver { listen 127.0.0.1:1; bogus_directive on; }\n`);
      const bad = await n.test();
      assert.notEqual(bad.code, 0);
      assert.match(bad.out, /unknown directive "bogus_directive"/);
    } finally {
      n.remove();
    }
  });

  describe('live over https and wss through nginx', () => {
    let n: NginxDir;
    let stack: Stack | undefined;
    // The one browser fixture, plus: the certificate is self-signed.
    const chrome = useChromium(['--ignore-certificate-errors']);
    let httpPort: number;
    let httpsPort: number;
    let ca: string;

    before(async () => {
      n = new NginxDir();
      await n.makeCertificate([LIVE, RADIO]);
      ca = readFileSync(n.cert, 'utf8');
      httpPort = await freePort();
      httpsPort = await freePort();
      // The daemon as docs/deploy.md configures it behind nginx: its public https address and
      // trustProxy; Icecast's public address is nginx's Icecast block.
      stack = await startStack({
        config: { publicUrl: `https://${LIVE}:${httpsPort}`, trustProxy: true },
        icecastConfig: { publicUrl: `https://${RADIO}:${httpsPort}` },
        // the daemon's own login limit (5 per address) above nginx's burst, so the limits test
        // sees nginx's refusals, not the daemon's 429 for the sixth guess that got through
        limits: { maxFailedLogins: 20 },
      });
      const daemonPort = stack.daemon.address.port;
      const icecastPort = stack.icecast!.port;

      // docs/deploy.md step 7, its own lines: install the file, the names, the Icecast block on
      await run('sh', ['-ec', substitute(deployCommand(/^install .*\/nginx\/icewire\.conf /), [
        [`${INSTALLED_PACKAGE}/`, PACKAGE_ROOT.replace(/\/?$/, '/')], ['/etc/nginx/conf.d/icewire.conf', n.site]])]);
      await deploySed(n, /^sed -i "s\/live.* \/etc\/nginx\/conf\.d\/icewire\.conf$/);
      await deploySed(n, /^sed -i '\/\^# server/);
      let site = n.withCert(readFileSync(n.site, 'utf8'));
      const before = site;
      site = site
        // Free high ports on loopback instead of 80/443 on every address. The IPv6 listens go: the
        // test connects over IPv4 loopback, and a container may have no IPv6 at all.
        .replace(/^ {4}listen 80;$/gm, `    listen 127.0.0.1:${httpPort};`)
        .replace(/^ {4}listen 443 ssl http2;$/gm, `    listen 127.0.0.1:${httpsPort} ssl http2;`)
        .replace(/^ {4}listen \[::\]:(80|443)( ssl http2)?;\n/gm, '')
        .replace(/^( {4}server )127\.0\.0\.1:8080;/m, `$1127.0.0.1:${daemonPort};`)
        .replace(/proxy_pass http:\/\/127\.0\.0\.1:8000;/g, `proxy_pass http://127.0.0.1:${icecastPort};`)
        .replace(/root \/var\/www\/html;/, `root ${n.webroot};`);
      assert.notEqual(site, before);
      const directives = site.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      assert.doesNotMatch(directives, /listen (80|443)|\[::\]|:8080;|:8000;|\/var\/www\/html|letsencrypt|example\.org/, 'every system path, port and name was replaced');
      writeFileSync(n.site, site);
      assertNginxTestOk(await n.test(), n.conf);

      mkdirSync(join(n.webroot, '.well-known', 'acme-challenge'), { recursive: true, mode: 0o755 });
      writeFileSync(join(n.webroot, '.well-known', 'acme-challenge', 'token-1'), 'acme-token-1\n', { mode: 0o644 });

      await n.start([httpsPort, httpPort]);
    });

    after(async () => {
      await stack?.stop();
      await n?.stop();
      n?.remove();
    });

    it('plain HTTP: ACME challenges are served, everything else redirects to https', async () => {
      const acme = await httpGet(httpPort, LIVE, '/.well-known/acme-challenge/token-1');
      assert.equal(acme.status, 200);
      assert.equal(acme.body, 'acme-token-1\n');
      for (const host of [LIVE, RADIO]) {
        const r = await httpGet(httpPort, host, '/listen/live?from=test');
        assert.equal(r.status, 301, `${host}: ${r.status}`);
        // To the default https port, where the shipped file's HTTPS server listens in production
        // (the test's is on another port, so the rest of the test goes there directly).
        assert.equal(r.headers.location, `https://${host}/listen/live?from=test`);
      }
    });

    it('docs/deploy.md step 8\'s curl checks: /healthz on the daemon, the https page through nginx (HTTP/2)', async () => {
      const healthz = substitute(deployCommand(/^curl -fsS http:\/\/127\.0\.0\.1:8080\/healthz$/), [['127.0.0.1:8080', `127.0.0.1:${stack!.daemon.address.port}`]]);
      const h = await run('sh', ['-ec', healthz]);
      assert.equal((JSON.parse(h.stdout) as { ok: boolean }).ok, true, h.stdout);
      // $LIVE with the test's port; curl trusts the test certificate through CURL_CA_BUNDLE
      const head = await run('sh', ['-ec', deployCommand(/^curl -sSI "https:\/\/\$LIVE\/"/)], {
        env: { ...process.env, LIVE: `${LIVE}:${httpsPort}`, CURL_CA_BUNDLE: n.cert },
      });
      assert.equal(head.stdout.trim(), 'HTTP/2 200', head.stderr);
    });

    it('HTTPS: the certificate, the security headers on pages and errors, /metrics refused', async () => {
      const page = await httpsGet(httpsPort, LIVE, '/', ca);
      assert.equal(page.status, 200);
      assert.match(page.body, /<button[^>]*id="go-live"/, 'the daemon\'s page comes through');
      assert.equal(page.headers.server, 'nginx', 'server_tokens off: no version');
      for (const [path, status] of [['/', 200], ['/no-such-page', 404], ['/metrics', 403]] as const) {
        const r = path === '/' ? page : await httpsGet(httpsPort, LIVE, path, ca);
        assert.equal(r.status, status, path);
        const h = r.distinct;
        assert.deepEqual(h['strict-transport-security'], ['max-age=63072000'], `${path} HSTS`);
        assert.ok(h['x-content-type-options']?.every((v) => v === 'nosniff') && h['x-content-type-options'].length >= 1, `${path} nosniff`);
        assert.ok(h['referrer-policy']?.includes('same-origin'), `${path} Referrer-Policy`);
        assert.ok(h['permissions-policy']?.some((v) => v.startsWith('microphone=(self), camera=(self), display-capture=()')), `${path} Permissions-Policy: ${String(h['permissions-policy'])}`);
        const csp = h['content-security-policy']?.find((v) => v.includes("frame-ancestors 'none'"));
        assert.ok(csp, `${path} nginx's CSP: ${String(h['content-security-policy'])}`);
        assert.match(csp, /script-src 'self'/);
        assert.match(csp, new RegExp(`connect-src 'self' wss://${LIVE};`));
        assert.match(csp, new RegExp(`media-src 'self' https://${RADIO.replace('.', '\\.')} blob:;`));
      }
      // the Icecast block: status pages pass, admin pages do not
      const status = await httpsGet(httpsPort, RADIO, '/status-json.xsl', ca);
      assert.equal(status.status, 200);
      assert.match(String(status.headers['content-type']), /json/);
      assert.equal((await httpsGet(httpsPort, RADIO, '/admin/stats', ca)).status, 403);
    });

    it('Chromium goes live from https:// over wss://; a listener gets Ogg/Opus through nginx over https', async () => {
      const page = await chrome.browser.newPage();
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      await page.goto(`https://${LIVE}:${httpsPort}/`);
      await page.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 10000 });
      assert.equal(await page.evaluate(() => window.isSecureContext), true, 'the https page is a secure context');
      await page.fill('#user', stack!.broadcaster.name);
      await page.fill('#password', stack!.broadcaster.password);
      await page.selectOption('#mount', 'live');
      await page.click('#go-live');
      try {
        await page.waitForFunction(() => ['live', 'error'].includes(document.getElementById('status')!.dataset['state'] ?? ''), null, { timeout: 15000 });
      } catch (err) {
        throw new Error(`page did not go live: ${await page.textContent('#error')}`, { cause: err });
      }
      assert.equal(await page.getAttribute('#status', 'data-state'), 'live', `error: ${await page.textContent('#error')}`);
      assert.deepEqual(sockets, [`wss://${LIVE}:${httpsPort}/ws/live`]);
      await waitForMount(stack!.icecastUrl, stack!.icecast!.adminPassword, '/live.ogg', 5000);

      const got = await recordHttps(httpsPort, RADIO, '/live.ogg', ca, 4500);
      assert.equal(got.status, 200);
      const p = await probe(got.data);
      assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
      assert.ok(p.audioSeconds >= 3, `listener got ${p.audioSeconds.toFixed(2)} s of Opus through nginx`);

      await page.click('#stop');
      await page.waitForSelector('#status[data-state="ended"]', { timeout: 5000 });
      const access = readFileSync(join(n.dir, 'access.log'), 'utf8');
      assert.match(access, /"GET \/ws\/live HTTP\/1\.1" 101 /, 'the WebSocket went through nginx');
    });

    it('the shipped limits (docs/security.md): logins past their burst and requests past 40 open per address are 429 from nginx', async () => {
      /**
       * One HTTP/1.1 request over TLS; resolves with the status line's code once the head is back.
       * From an address of its own: the page's login in the test before came from 127.0.0.1, and
       * nginx's login zone (10 a minute, burst 5) would still hold it if that test ran in under 6 s.
       */
      const raw = (head: string): { status: Promise<number>; socket: TLSSocket } => {
        const tcp = netConnect({ host: '127.0.0.1', port: httpsPort, localAddress: '127.0.0.9' });
        tcp.on('error', () => undefined);
        const socket = tlsConnect({ socket: tcp, servername: LIVE, ca });
        socket.on('error', () => undefined);
        let text = '';
        const status = new Promise<number>((resolve) => {
          socket.on('data', (d: Buffer) => {
            text += d.toString('latin1');
            const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
            if (m) resolve(Number(m[1]));
          });
          socket.on('close', () => resolve(0));
        });
        socket.once('secureConnect', () => socket.write(head));
        return { status, socket };
      };
      const login = JSON.stringify({ user: stack!.broadcaster.name, password: 'not-the-password' });
      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) {
        const r = raw(`POST /api/login HTTP/1.1\r\nHost: ${LIVE}:${httpsPort}\r\nContent-Type: application/json\r\nContent-Length: ${login.length}\r\nConnection: close\r\n\r\n${login}`);
        statuses.push(await r.status);
        r.socket.destroy();
      }
      // 1 + burst 5 reach the daemon (wrong password: 401), the rest nginx refuses
      assert.deepEqual(statuses.slice(0, 6), [401, 401, 401, 401, 401, 401], statuses.join());
      assert.deepEqual(statuses.slice(7), [429, 429], statuses.join());

      // 45 requests whose bodies never come, from one address: 40 are waited for, 5 refused at once
      const slow = Array.from({ length: 45 }, () => raw(`POST /api/info HTTP/1.1\r\nHost: ${LIVE}:${httpsPort}\r\nContent-Length: 100\r\n\r\n`));
      try {
        // -1: no answer yet
        const refused = await waitFor('5 refusals', async () => {
          const now = await Promise.all(slow.map((r) => Promise.race([r.status, Promise.resolve(-1)])));
          return now.filter((c) => c === 429).length >= 5 ? now : undefined;
        }, 5000);
        assert.equal(refused.filter((c) => c === 429).length, 5, refused.join());
        assert.equal(refused.filter((c) => c === -1).length, 40, 'the other 40 are still being waited for');
      } finally {
        for (const r of slow) r.socket.destroy();
      }
    });
  });
});
