// A private nginx (Debian's nginx-light) for the ops and cluster tests: its own prefix in a temp
// directory with an nginx.conf that includes one site file, a self-signed certificate, `nginx -t`,
// and the master process started in the foreground, waited for, stopped and reaped.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../helpers/listener.js';

const run = promisify(execFile);

export class NginxDir {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly conf: string;
  readonly site: string;
  readonly webroot: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stderr = '';

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'icewire-nginx-'));
    // nginx's workers run as an unprivileged user (nobody / www-data) and must reach the temp
    // paths and the webroot; the private key stays 0600 (only the root master reads it).
    chmodSync(this.dir, 0o755);
    this.cert = join(this.dir, 'fullchain.pem');
    this.key = join(this.dir, 'privkey.pem');
    this.conf = join(this.dir, 'nginx.conf');
    this.site = join(this.dir, 'icewire.conf');
    this.webroot = join(this.dir, 'www');
    mkdirSync(this.webroot, { mode: 0o755 });
    for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(this.dir, t));
    writeFileSync(this.conf, `# The distribution's nginx.conf minus what would touch the system: everything in ${this.dir}.
pid ${this.dir}/nginx.pid;
error_log ${this.dir}/error.log;
events { worker_connections 512; }
http {
    access_log ${this.dir}/access.log;
    client_body_temp_path ${this.dir}/client_body;
    proxy_temp_path ${this.dir}/proxy;
    fastcgi_temp_path ${this.dir}/fastcgi;
    uwsgi_temp_path ${this.dir}/uwsgi;
    scgi_temp_path ${this.dir}/scgi;
    include ${this.site};
}
`);
  }

  /** A self-signed certificate for `names` (the first is the subject). */
  async makeCertificate(names: string[]): Promise<void> {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${names[0]}`,
      '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', this.key, '-out', this.cert]);
    chmodSync(this.key, 0o600);
  }

  /** `site` with every Let's Encrypt certificate path pointed at ours. */
  withCert(site: string): string {
    return site.replace(/\/etc\/letsencrypt\/live\/[^/\s]+\/fullchain\.pem/g, this.cert).replace(/\/etc\/letsencrypt\/live\/[^/\s]+\/privkey\.pem/g, this.key);
  }

  /** `nginx -t` on this prefix: exit code and what it printed. */
  async test(): Promise<{ code: number; out: string }> {
    try {
      const { stdout, stderr } = await run('nginx', ['-t', '-c', this.conf, '-p', `${this.dir}/`, '-e', `${this.dir}/error.log`]);
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  /** What nginx said on stderr and in its error log. */
  errors(): string {
    let log = '';
    try { log = readFileSync(join(this.dir, 'error.log'), 'utf8'); } catch { /* not written yet */ }
    return `${this.stderr}${log}`;
  }

  /** Start the master in the foreground; resolves when every one of `ports` accepts connections. */
  async start(ports: number[]): Promise<void> {
    const child = spawn('nginx', ['-c', this.conf, '-p', `${this.dir}/`, '-e', `${this.dir}/error.log`, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    for (const port of ports) {
      await waitFor(`nginx to listen on ${port}`, async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}): ${this.errors()}`);
        return new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => { s.destroy(); resolve(true); });
          s.once('error', () => resolve(false));
        });
      }, 10000);
    }
  }

  /** SIGTERM (nginx's fast shutdown: the master stops its workers), SIGKILL after 5 s; reaped. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function assertNginxTestOk(r: { code: number; out: string }, conf: string): void {
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`the configuration file ${conf} syntax is ok`));
  assert.match(r.out, new RegExp(`configuration file ${conf} test is successful`));
}
