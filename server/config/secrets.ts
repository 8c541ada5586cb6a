// Secrets in the config: from ICEWIRE_* environment variables, inline values or `*File` keys (read
// bounded, a trailing newline dropped). Messages name keys and files, never what was read.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { ConfigIssue } from './issues.js';

/** A secret file bigger than this is surely the wrong file (and must not be slurped whole). */
const MAX_SECRET_FILE_BYTES = 4096;

/** A secret file's contents, trailing newline(s) removed; or an issue message (`missing`: it does not exist). */
function readSecretFile(file: string, baseDir: string): { value: string } | { error: string; missing?: string } {
  const abs = resolvePath(baseDir, file);
  let fd: number;
  try {
    fd = openSync(abs, 'r');
  } catch (err) {
    return { error: `cannot read ${abs}: ${fsReason(err)}`, ...((err as NodeJS.ErrnoException).code === 'ENOENT' ? { missing: abs } : {}) };
  }
  try {
    // fstat + bounded read: a path pointing at /dev/zero or a log file must not hang or eat memory
    const st = fstatSync(fd);
    if (st.isDirectory()) return { error: `${abs} is a directory, not a file` };
    const buf = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len > MAX_SECRET_FILE_BYTES) return { error: `${abs} is larger than ${MAX_SECRET_FILE_BYTES} bytes; is it the right file?` };
    }
    const value = buf.subarray(0, len).toString('utf8').replace(/(\r?\n)+$/, '');
    if (value.length === 0) return { error: `${abs} is empty; put the password on the first line` };
    return { value };
  } catch (err) {
    return { error: `cannot read ${abs}: ${fsReason(err)}`, ...((err as NodeJS.ErrnoException).code === 'ENOENT' ? { missing: abs } : {}) };
  } finally {
    closeSync(fd);
  }
}

export function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES':
    case 'EPERM': return 'permission denied (the daemon\'s user must be able to read it)';
    case 'EISDIR': return 'it is a directory, not a file';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    default: return code ?? (err instanceof Error ? err.message : String(err));
  }
}

interface SecretSpec {
  /** Config key of the inline value, e.g. `sourcePassword`; the file key is this + `File`. */
  key: 'sourcePassword' | 'adminPassword' | 'token' | 'secret';
  /** The ICEWIRE_* variable that overrides it, if any. */
  envName?: string;
}

/** How to make a missing secret file: a command to paste (run as root; config.sample.yaml says the same). */
function createSecretHint(key: SecretSpec['key'], abs: string, envName: string | undefined): string {
  const file = /^[\w./-]+$/.test(abs) ? abs : `'${abs.replace(/'/g, "'\\''")}'`;
  if (key === 'secret') return `Create it with coturn's static-auth-secret on its first line (the same value as in /etc/turnserver.conf), e.g. openssl rand -hex 32 | install -D -m 0600 /dev/stdin ${file}`;
  if (key === 'token') return `Create it with a random token: openssl rand -hex 24 | install -D -m 0600 /dev/stdin ${file} (or set ${envName})`;
  const tag = key === 'sourcePassword' ? 'source-password' : 'admin-password';
  return `Create it with Icecast's <${tag}> on its first line, e.g. from Icecast's own config: sed -n 's|.*<${tag}>\\(.*\\)</${tag}>.*|\\1|p' /etc/icecast2/icecast.xml | install -D -m 0600 /dev/stdin ${file} (or set ${envName})`;
}

/**
 * Precedence: env var (if set and non-empty) > inline value > file. The env var wins so that a
 * deployment (systemd `Environment=`, a container) can override a packaged config without editing
 * it; when it is set the file is not read at all, so the file may be absent.
 */
export function resolveSecret(
  section: Readonly<Record<string, unknown>>, spec: SecretSpec, env: NodeJS.ProcessEnv, baseDir: string, issues: ConfigIssue[],
  sectionName = 'icecast',
): { value: string | undefined; failed: boolean } {
  const fromEnv = spec.envName === undefined ? undefined : env[spec.envName];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, failed: false };
  const inline = section[spec.key];
  if (typeof inline === 'string') return { value: inline, failed: false };
  const fileKey = `${spec.key}File`;
  const file = section[fileKey];
  if (typeof file !== 'string') return { value: undefined, failed: false };
  const got = readSecretFile(file, baseDir);
  if ('error' in got) {
    const hint = got.missing !== undefined ? `. ${createSecretHint(spec.key, got.missing, spec.envName)}` : '';
    issues.push({ path: `${sectionName}.${fileKey}`, message: `${got.error}${hint}` });
    return { value: undefined, failed: true };
  }
  return { value: got.value, failed: false };
}
