// A private PulseAudio server with one null sink, for Firefox: headless Firefox on a machine with
// no sound device keeps its AudioContext suspended and cannot play media, so a page that mixes
// with Web Audio records silence (or nothing). Firefox gets it through PULSE_SERVER; nothing
// else on the machine sees it. Needs the `pulseaudio` package.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PulseSink {
  /** Environment for the browser process. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startPulseSink(): Promise<PulseSink> {
  const dir = mkdtempSync(join(tmpdir(), 'icewire-pulse-'));
  const socket = join(dir, 'native');
  const child: ChildProcess = spawn('pulseaudio', [
    '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no', '-n', '--log-target=stderr', '--log-level=error',
    '--load=module-null-sink sink_name=icewire_test',
    `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
  ], { env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pulseaudio did not start (is the pulseaudio package installed?): ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    env: { PULSE_SERVER: `unix:${socket}` },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A sink for this describe block: started in a before hook (declare it before the browser's). */
export function usePulseSink(): { readonly env: Record<string, string> } {
  let sink: PulseSink | undefined;
  before(async () => { sink = await startPulseSink(); });
  after(async () => { await sink?.stop(); sink = undefined; });
  return {
    get env(): Record<string, string> {
      if (sink === undefined) throw new Error('the PulseAudio sink is only there inside the suite');
      return sink.env;
    },
  };
}
