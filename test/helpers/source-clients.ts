// Real desktop source clients from Debian packages, pointed at the daemon as they would be at
// Icecast: ezstream (libshout), Liquidsoap's output.icecast, and ffmpeg's icecast:// output. Each
// runs as a child process that the test stops (or kills, for fault tests); teardown.ts checks none
// is left. Configs carry passwords, so they are written to a private temp directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClientProcess {
  readonly proc: ChildProcess;
  /** What it printed (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal) when it exits. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after a second; resolves when it is gone. */
  stop(): Promise<void>;
  /** SIGKILL: the TCP connection dies with the process (a crash, a pulled cable). */
  kill(): Promise<void>;
}

/** `dir`: the client's private config directory, removed when it exits. */
function run(cmd: string, args: string[], dir?: string): ClientProcess {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => { out = (out + d.toString('utf8')).slice(-20000); };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    resolve(code ?? signal ?? -1);
  }));
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(sig);
    const t = setTimeout(() => proc.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(t);
  };
  return { proc, output: () => out, exited, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}

function privateDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  return dir;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface EzstreamOptions {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly mount: string;
  readonly format: 'MP3' | 'Ogg';
  readonly file: string;
  /** Metadata as artist and title (a script ezstream asks for each). */
  readonly artist?: string;
  readonly title?: string;
}

/** ezstream streaming one file once (stream_once), as a station's automation would. */
export function ezstream(o: EzstreamOptions): ClientProcess {
  const dir = privateDir('icewire-ezstream-');
  let metadata = '';
  if (o.title !== undefined) {
    const script = join(dir, 'meta.sh');
    const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
    writeFileSync(script, `#!/bin/sh\ncase "$1" in\n  artist) printf '%s\\n' ${quote(o.artist ?? '')} ;;\n  title) printf '%s\\n' ${quote(o.title)} ;;\n  *) printf '%s\\n' ${quote(o.title)} ;;\nesac\n`);
    chmodSync(script, 0o700);
    metadata = `<metadata><program>${xmlEscape(script)}</program><format_str>@a@ - @t@</format_str></metadata>`;
  }
  const config = join(dir, 'ezstream.xml');
  writeFileSync(config, `<?xml version="1.0" encoding="UTF-8"?>
<ezstream>
  <servers><server><protocol>HTTP</protocol><hostname>127.0.0.1</hostname><port>${o.port}</port>
    <user>${xmlEscape(o.user)}</user><password>${xmlEscape(o.password)}</password></server></servers>
  <streams><stream><mountpoint>${xmlEscape(o.mount)}</mountpoint><format>${o.format}</format><stream_name>Automation</stream_name></stream></streams>
  <intakes><intake><type>file</type><filename>${xmlEscape(o.file)}</filename><stream_once>yes</stream_once></intake></intakes>
  ${metadata}
</ezstream>
`, { mode: 0o600 });
  return run('ezstream', ['-c', config], dir);
}

export interface LiquidsoapOutput {
  /** A Liquidsoap encoder, e.g. `%opus` or `%mp3(bitrate=128)`. */
  readonly encoder: string;
  readonly user: string;
  readonly password: string;
  readonly mount: string;
  /** A test tone's frequency. */
  readonly frequency: number;
}

/** One Liquidsoap process with an output.icecast (HTTP PUT) per output. */
export function liquidsoap(port: number, outputs: readonly LiquidsoapOutput[]): ClientProcess {
  const dir = privateDir('icewire-liquidsoap-');
  const script = join(dir, 'source.liq');
  const str = (s: string): string => JSON.stringify(s);
  writeFileSync(script, [
    // the tests may run as root (containers); Liquidsoap refuses that unless told
    'settings.init.allow_root.set(true)',
    'settings.log.stdout.set(true)',
    'settings.log.file.set(false)',
    ...outputs.map((o, i) => `output.icecast(${o.encoder}, id=${str(`out${i}`)}, host="127.0.0.1", port=${port}, method="put", user=${str(o.user)}, password=${str(o.password)}, mount=${str(o.mount)}, name="Liquidsoap show", sine(${o.frequency.toFixed(1)}))`),
  ].join('\n'), { mode: 0o600 });
  return run('liquidsoap', [script], dir);
}

export interface FfmpegSourceOptions {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly mount: string;
  readonly file: string;
  /** ffmpeg's muxer for the stream, and the Content-Type it announces. */
  readonly muxer: 'mp3' | 'adts' | 'ogg';
  readonly contentType: string;
  /** The legacy SOURCE method (Icecast < 2.4) instead of PUT. */
  readonly legacy?: boolean;
  /** Loop the file (for faults that need a long show). */
  readonly loop?: boolean;
}

/** ffmpeg sending a file in real time to an icecast:// URL. */
export function ffmpegSource(o: FfmpegSourceOptions): ClientProcess {
  const auth = `${encodeURIComponent(o.user)}:${encodeURIComponent(o.password)}`;
  return run('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'warning', '-re', ...(o.loop === true ? ['-stream_loop', '-1'] : []), '-i', o.file,
    '-c', 'copy', '-content_type', o.contentType, '-ice_name', 'ffmpeg show', ...(o.legacy === true ? ['-legacy_icecast', '1'] : []),
    '-f', o.muxer, `icecast://${auth}@127.0.0.1:${o.port}${o.mount}`,
  ]);
}

/**
 * A bare source request and whatever the server answers until it closes the connection (or 5 s
 * pass); `body` is sent right after the head, as clients that do not wait for the answer do.
 */
export function rawSource(port: number, mount: string, creds: { user: string; password: string } | undefined, type: string | undefined, opts: { method?: string; body?: Buffer } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      const auth = creds !== undefined ? `Authorization: Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}\r\n` : '';
      const ctype = type !== undefined ? `Content-Type: ${type}\r\n` : '';
      s.write(`${opts.method ?? 'PUT'} ${mount} HTTP/1.1\r\nHost: x\r\n${auth}${ctype}\r\n`);
      if (opts.body !== undefined) s.write(opts.body);
    });
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString('utf8'); });
    s.on('close', () => resolve(got));
    s.on('error', reject);
    setTimeout(() => s.destroy(), 5000).unref();
  });
}
