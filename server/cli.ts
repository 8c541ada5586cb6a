// The command line (commander). No side effects of its own: every command calls a handler that
// main.ts supplies, so the parsing is testable and the wiring lives in one place.
import { Command, InvalidArgumentError, Option } from 'commander';

export interface ServeOptions {
  config?: string;
  listen?: { host: string; port: number };
  icecast?: string;
  ffmpeg?: string;
  logLevel?: string;
}

export interface DoctorCliOptions {
  config?: string;
}

export interface CliHandlers {
  serve(opts: ServeOptions): Promise<void>;
  checkConfig(file: string): Promise<void>;
  hashPassword(): Promise<void>;
  doctor(opts: DoctorCliOptions): Promise<void>;
}

/** "HOST:PORT", ":PORT", "PORT" or "[v6]:PORT". */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:8080');
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

function parseUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    if (u.username !== '' || u.password !== '') {
      throw new InvalidArgumentError('put no credentials in the URL; use icecast.sourcePasswordFile in the config');
    }
    return value;
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError('expected an http:// or https:// URL, e.g. http://127.0.0.1:8000');
  }
}

export function buildCli(h: CliHandlers, version: string): Command {
  const program = new Command('icewire')
    .description('Go live to an Icecast server from a web browser.')
    .version(version)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('serve', { isDefault: true })
    .description('run the daemon (passthrough mode against a local Icecast when there is no config file)')
    .option('-c, --config <file>', 'config file (default /etc/icewire/icewire.yaml when it exists)')
    .option('--listen <host:port>', 'address to listen on (overrides listen: in the config)', parseListen)
    .option('--icecast <url>', 'Icecast server to push to (overrides icecast.url)', parseUrl)
    .option('--ffmpeg <path>', 'ffmpeg binary (overrides ffmpegPath)')
    .addOption(new Option('--log-level <level>', 'log level (overrides log.level)').choices(['error', 'warn', 'info', 'debug']))
    .action(async (opts: ServeOptions) => h.serve(opts));

  program
    .command('check-config')
    .description('validate a config file and print it resolved, secrets redacted (exit 78 when invalid)')
    .argument('<file>', 'config file')
    .action(async (file: string) => h.checkConfig(file));

  program
    .command('hash-password')
    .description('read a password (prompted on a terminal, else from stdin) and print its hash for broadcasters[].passwordHash')
    .action(async () => h.hashPassword());

  program
    .command('doctor')
    .description('check this installation as the daemon would use it: config, ffmpeg and its encoders, Icecast and its source password, publicUrl (exit 1 when a check fails, 78 when the config is invalid)')
    .option('-c, --config <file>', 'config file (default /etc/icewire/icewire.yaml when it exists, else the passthrough defaults)')
    .action(async (opts: DoctorCliOptions) => h.doctor(opts));

  return program;
}
