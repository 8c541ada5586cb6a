// "My recordings" on the broadcaster page (accounts mode): log in over HTTP with the same name
// and password as for broadcasting, list the broadcaster's own recordings and download them
// (docs/recordings.md). The login token is kept in this module's memory only: never in storage,
// never in a URL. Downloads need the token in a header, so a file is fetched as a blob and saved
// through an object URL.
import { formatBytes, formatDuration } from './format.js';
import { recordingsSentence, type RecordingsStep } from './messages.js';

export interface Recording {
  /** null: a stretch of a show that could not be recorded at all (no file). */
  name: string | null;
  stationMount: string;
  startedAt: string;
  endedAt: string | null;
  bytes: number;
  format: string;
  url?: string | null;
  /** The recording stopped before the show did: why, in a sentence for the broadcaster. */
  failed?: { reason: string; message: string } | null;
}

export interface Credentials {
  user: string;
  password: string;
}

export interface RecordingsElements {
  card: HTMLElement;
  show: HTMLButtonElement;
  help: HTMLElement;
  error: HTMLElement;
  status: HTMLElement;
  list: HTMLElement;
}

export interface RecordingsOptions {
  /** The name and password in the form, or a sentence saying what is missing (and the field to fix). */
  credentials(): Credentials | { problem: string; field: HTMLElement };
  /** A station mount's display name. */
  stationName(id: string): string;
  /** A broadcast is running (an unfinished recording is then expected, not polled for). */
  onAir(): boolean;
}

/** An HTTP answer that was not 2xx (status 0: no answer at all). */
class HttpFailure extends Error {
  constructor(readonly step: RecordingsStep, readonly status: number) {
    super(`${step}: HTTP ${status}`);
  }
}

const NAME_RE = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ(-\d+)?\.(ogg|webm)$/;
const STATION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** After a broadcast ends, how often (and how many times) to look again for its finished sidecar. */
const SETTLE_DELAYS_MS = [500, 1000, 2000, 4000];

/** "21 Nov 2026, 14:30" in the browser's own language and time zone. */
function formatWhen(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export class RecordingsPanel {
  private token: string | undefined;
  private tokenUser: string | undefined;
  /** Bumped on every load and on forget(): an answer for an older one is dropped. */
  private seq = 0;
  private settleTimer = 0;
  /** Looks left for a just-ended show's sidecar (see afterBroadcast). */
  private settleLeft = 0;
  private opened = false;

  constructor(private readonly el: RecordingsElements, private readonly opts: RecordingsOptions) {
    el.show.addEventListener('click', () => void this.open());
    el.list.addEventListener('click', (ev) => {
      const button = (ev.target as HTMLElement | null)?.closest<HTMLButtonElement>('button.recording-download');
      if (button) void this.download(button);
    });
  }

  /** Accounts mode has recordings; passthrough mode has none. */
  enable(on: boolean): void {
    this.el.card.hidden = !on;
  }

  /** The name or password in the form changed: the token (and the list) may be someone else's. */
  forget(): void {
    if (this.token === undefined && !this.opened) return;
    const old = this.token;
    this.token = undefined;
    this.tokenUser = undefined;
    this.opened = false;
    this.seq++;
    this.settleLeft = 0;
    window.clearTimeout(this.settleTimer);
    if (old !== undefined) void this.logout(old);
    this.el.list.replaceChildren();
    this.el.list.hidden = true;
    this.el.status.textContent = '';
    this.el.help.hidden = false;
    this.el.show.textContent = 'Show my recordings';
    this.el.show.disabled = false;
    this.clearError();
    this.setState('idle');
  }

  /** "Show my recordings" (or "Refresh") pressed: log in with the form's name and password, then list. */
  async open(): Promise<void> {
    const creds = this.opts.credentials();
    if ('problem' in creds) {
      this.showError(creds.problem.replace(/ to go live\.$/, ' to see your recordings.'));
      creds.field.focus();
      return;
    }
    await this.load(creds);
  }

  /**
   * A broadcast that went live has ended: if the list is open, show it again with the show just
   * recorded. The recording's sidecar is finished a moment after the broadcast ends, so look
   * again (a few times) until no entry is still open. Nothing is asked of the server when the
   * person never opened the list.
   */
  afterBroadcast(): void {
    if (this.el.card.hidden || !this.opened || this.token === undefined) return;
    window.clearTimeout(this.settleTimer);
    this.settleLeft = SETTLE_DELAYS_MS.length;
    void this.load(undefined, true);
  }

  /** A list with a show still open while nothing is on air: its sidecar is about to be finished. */
  private settleLater(list: Recording[]): void {
    window.clearTimeout(this.settleTimer);
    if (this.settleLeft <= 0 || this.opts.onAir() || !list.some((r) => r.endedAt === null)) return;
    const delay = SETTLE_DELAYS_MS[SETTLE_DELAYS_MS.length - this.settleLeft] ?? 1000;
    this.settleLeft--;
    this.settleTimer = window.setTimeout(() => {
      if (!this.opts.onAir() && this.token !== undefined) void this.load(undefined, true);
    }, delay);
  }

  // ---- HTTP ----

  private async login(creds: Credentials): Promise<string> {
    let res: Response;
    try {
      res = await fetch('/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ user: creds.user, password: creds.password }),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw new HttpFailure('login', 0);
    }
    if (!res.ok) throw new HttpFailure('login', res.status);
    const body = (await res.json().catch(() => ({}))) as { token?: unknown };
    if (typeof body.token !== 'string' || body.token === '') throw new HttpFailure('login', 500);
    if (this.token !== undefined && this.token !== body.token) void this.logout(this.token);
    this.token = body.token;
    this.tokenUser = creds.user;
    return body.token;
  }

  private async logout(token: string): Promise<void> {
    try {
      await fetch('/api/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` }, credentials: 'omit' });
    } catch { /* the session expires by itself */ }
  }

  /** A token for `creds` (logging in when there is none, or it belongs to another name). */
  private async tokenFor(creds: Credentials): Promise<string> {
    if (this.token !== undefined && this.tokenUser === creds.user) return this.token;
    return this.login(creds);
  }

  /**
   * GET with the token; a 401 (the session expired, or the daemon restarted) logs in once more
   * with `creds` and tries again.
   */
  private async authorizedGet(step: RecordingsStep, path: string, creds: Credentials | undefined): Promise<Response> {
    for (let round = 0; ; round++) {
      const token = creds !== undefined ? await this.tokenFor(creds) : this.token;
      if (token === undefined) throw new HttpFailure(step, 401);
      let res: Response;
      try {
        res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store', credentials: 'omit' });
      } catch {
        throw new HttpFailure(step, 0);
      }
      if (res.status === 401 && round === 0 && creds !== undefined) {
        if (this.token === token) this.token = undefined;
        continue;
      }
      if (!res.ok) throw new HttpFailure(step, res.status);
      return res;
    }
  }

  // ---- the list ----

  /** Log in with `creds` if need be (without: use the token there is), then fetch and show the list. */
  private async load(creds: Credentials | undefined, quiet = false): Promise<Recording[] | undefined> {
    const seq = ++this.seq;
    this.clearError();
    this.el.show.disabled = true;
    if (!quiet || !this.opened) {
      this.setState('loading');
      this.el.status.textContent = this.token === undefined ? 'Logging in…' : 'Loading your recordings…';
    }
    try {
      const res = await this.authorizedGet('list', '/api/recordings', creds);
      const body = (await res.json()) as { recordings?: Recording[] };
      if (seq !== this.seq) return undefined;
      const list = (body.recordings ?? []).filter((r) => (typeof r.name === 'string' || r.name === null) && typeof r.stationMount === 'string');
      this.opened = true;
      this.render(list);
      this.settleLater(list);
      return list;
    } catch (err) {
      if (seq !== this.seq) return undefined;
      const f = err instanceof HttpFailure ? err : new HttpFailure('list', 0);
      if (f.step === 'login') {
        this.token = undefined;
        this.tokenUser = undefined;
      }
      this.el.status.textContent = '';
      this.setState('error');
      this.showError(recordingsSentence(f.step, f.status));
      return undefined;
    } finally {
      if (seq === this.seq) this.el.show.disabled = false;
    }
  }

  private render(list: Recording[]): void {
    this.el.help.hidden = true;
    this.el.show.textContent = 'Refresh';
    this.el.list.replaceChildren(...list.map((r) => this.item(r)));
    this.el.list.hidden = list.length === 0;
    this.el.status.textContent = list.length === 0
      ? 'No recordings yet. Shows on stations that record appear here once they have started.'
      : `${list.length} recording${list.length === 1 ? '' : 's'}, newest first.`;
    this.setState('loaded');
  }

  private item(r: Recording): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'recording';
    if (r.name !== null) li.dataset['name'] = r.name;
    li.dataset['station'] = r.stationMount;
    li.dataset['state'] = r.failed ? 'failed' : r.endedAt === null ? 'recording' : 'done';

    const main = document.createElement('div');
    main.className = 'recording-main';
    const when = document.createElement('time');
    when.className = 'recording-date';
    when.dateTime = r.startedAt;
    when.textContent = formatWhen(r.startedAt);
    const meta = document.createElement('span');
    meta.className = 'recording-meta muted small';
    const start = Date.parse(r.startedAt);
    const end = r.endedAt === null ? Date.now() : Date.parse(r.endedAt);
    const duration = Number.isFinite(start) && Number.isFinite(end) ? formatDuration(end - start) : '–';
    const kind = r.format === 'webm' ? 'video' : 'audio';
    meta.textContent = [
      this.opts.stationName(r.stationMount),
      r.endedAt === null ? `${duration} so far${r.failed ? '' : ' (still recording)'}` : duration,
      r.name === null ? 'not recorded' : formatBytes(r.bytes),
      kind,
    ].join(' · ');
    main.append(when, meta);
    if (r.failed) {
      const problem = document.createElement('span');
      problem.className = 'recording-problem small';
      problem.textContent = r.failed.message;
      main.append(problem);
    }
    // a stretch that could not be recorded has no file to download
    if (r.name === null) {
      li.append(main);
      return li;
    }

    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'btn btn-small btn-outline recording-download';
    button.textContent = 'Download';
    button.dataset['station'] = r.stationMount;
    button.dataset['name'] = r.name;
    button.setAttribute('aria-label', `Download the recording of ${formatWhen(r.startedAt)}`);
    li.append(main, button);
    return li;
  }

  // ---- downloads ----

  private async download(button: HTMLButtonElement): Promise<void> {
    const station = button.dataset['station'] ?? '';
    const name = button.dataset['name'] ?? '';
    // Only ever send the token to this server's recordings API, for a name it could have listed.
    if (!STATION_RE.test(station) || !NAME_RE.test(name)) {
      this.showError(recordingsSentence('download', 400));
      return;
    }
    const creds = this.opts.credentials();
    this.clearError();
    button.disabled = true;
    button.textContent = 'Downloading…';
    try {
      const res = await this.authorizedGet('download', `/api/recordings/${encodeURIComponent(station)}/${encodeURIComponent(name)}`,
        'problem' in creds ? undefined : creds);
      let blob: Blob;
      try {
        blob = await res.blob();
      } catch {
        throw new HttpFailure('download', 0);
      }
      saveBlob(blob, `${station}-${name}`);
    } catch (err) {
      const f = err instanceof HttpFailure ? err : new HttpFailure('download', 0);
      this.showError(recordingsSentence(f.step, f.status));
    } finally {
      button.disabled = false;
      button.textContent = 'Download';
    }
  }

  // ---- display ----

  private setState(state: 'idle' | 'loading' | 'loaded' | 'error'): void {
    this.el.card.dataset['state'] = state;
  }

  private showError(sentence: string): void {
    this.el.error.textContent = sentence;
    this.el.error.hidden = false;
  }

  private clearError(): void {
    this.el.error.textContent = '';
    this.el.error.hidden = true;
  }
}

/** Hand a blob to the browser's downloads, under `filename`. */
function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own copy once it started; give slow browsers a generous minute.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
