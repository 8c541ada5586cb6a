// The broadcaster page (www/index.html): sign-in, devices, the studio, Go live / Stop. It only
// renders: the broadcast itself is a BroadcastSession (session.ts), the sound is the Studio's
// mixer (studio.ts, mixer.ts). The ids this file relies on are listed at the top of index.html.
import { LevelMeter } from './level-meter.js';
import {
  AUDIO_BITS_PER_SECOND, TIMESLICE_MS, VIDEO_BITS_PER_SECOND,
  buildConstraints, chooseMime, describeAudioSettings, describeVideoSettings, settingsWarnings, streamBytesPerSecond,
  type Preset,
} from './media-settings.js';
import {
  INFO_UNREACHABLE, NO_RECORDING_FORMAT, NO_VIDEO_FORMAT, browserProblem, mediaErrorSentence,
} from './messages.js';
import { ingestUrl, type Hello } from './webcast-client.js';
import { BroadcastSession, type SavedShow, type SessionDeps, type SessionSnapshot } from './session.js';
import { Studio } from './studio.js';
import { formatBytes, formatDuration } from './format.js';
import { STATION_MOUNT_RE } from './wire-contract.js';
import { RecordingsPanel, type Credentials } from './recordings.js';
import { GuestDesk } from './guest-desk.js';

interface MountInfo {
  id: string;
  name?: string;
  description?: string;
  renditions: { mount: string; format: string; contentType?: string; url?: string }[];
}
interface Info {
  authMode: 'accounts' | 'passthrough';
  mounts: MountInfo[];
  maxFrameBytes?: number;
  guests?: { enabled: boolean; maxGuests: number };
}

type UiState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'ended' | 'error';

/** A reloaded tab resumes a show saved at most this long ago (the daemon's grace is shorter by default). */
const RELOAD_RESUME_MAX_AGE_MS = 60_000;
const SAVED_SHOW_KEY = 'icewire.show';
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

const el = {
  body: document.body,
  status: $('status'),
  statusText: $('status-text'),
  statusDetail: $('status-detail'),
  summary: $('summary'),
  summaryText: $('summary-text'),
  signinFolded: $('signin-folded'),
  signinSummary: $('signin-summary'),
  error: $('error'),
  goLive: $<HTMLButtonElement>('go-live'),
  stop: $<HTMLButtonElement>('stop'),
  elapsed: $('elapsed'),
  listeners: $('listeners'),
  bytesSent: $('bytes-sent'),
  upload: $('upload'),
  renditionsBox: $('renditions-box'),
  renditions: $('renditions'),
  stationName: $('station-name'),
  listenLink: $<HTMLAnchorElement>('listen-link'),
  loading: $('loading'),
  login: $<HTMLFormElement>('login'),
  passthroughHelp: $('passthrough-help'),
  user: $<HTMLInputElement>('user'),
  userLabel: $('user-label'),
  password: $<HTMLInputElement>('password'),
  passwordLabel: $('password-label'),
  mountLabel: $('mount-label'),
  stationHeading: $('station-heading'),
  permissionBox: $('permission-box'),
  enableDevices: $<HTMLButtonElement>('enable-devices'),
  level: $('level'),
  mic: $<HTMLSelectElement>('mic'),
  presetMusic: $<HTMLInputElement>('preset-music'),
  presetVoice: $<HTMLInputElement>('preset-voice'),
  videoToggle: $<HTMLInputElement>('video-toggle'),
  videoNote: $('video-note'),
  cameraField: $('camera-field'),
  camera: $<HTMLSelectElement>('camera'),
  preview: $<HTMLVideoElement>('preview'),
  settings: $('settings'),
  warnings: $('warnings'),
  metaForm: $<HTMLFormElement>('meta-form'),
  metaTitle: $<HTMLInputElement>('meta-title'),
  metaArtist: $<HTMLInputElement>('meta-artist'),
  metaSend: $<HTMLButtonElement>('meta-send'),
  metaResult: $('meta-result'),
  recordingsCard: $('recordings-card'),
  recordingsShow: $<HTMLButtonElement>('recordings-show'),
  recordingsHelp: $('recordings-help'),
  recordingsError: $('recordings-error'),
  recordingsStatus: $('recordings-status'),
  recordingsList: $('recordings-list'),
};
// #mount is a <select> in accounts mode and replaced by an <input> in passthrough mode.
let mountEl: HTMLSelectElement | HTMLInputElement = $<HTMLSelectElement>('mount');

const meter = new LevelMeter(el.level);

const recordings = new RecordingsPanel({
  card: el.recordingsCard,
  show: el.recordingsShow,
  help: el.recordingsHelp,
  error: el.recordingsError,
  status: el.recordingsStatus,
  list: el.recordingsList,
}, {
  credentials: (): Credentials | { problem: string; field: HTMLElement } => {
    const user = el.user.value.trim();
    if (user === '') return { problem: 'Enter your name to see your recordings.', field: el.user };
    if (el.password.value === '') return { problem: 'Enter your password to see your recordings.', field: el.password };
    return { user, password: el.password.value };
  },
  stationName: (id) => {
    const m = info?.mounts.find((x) => x.id === id);
    return m?.name && m.name !== id ? m.name : id;
  },
  onAir: () => session !== undefined && !session.isOver,
});

// ---- small persistence (never credentials) ----
const store = {
  get(key: string): string | null {
    try { return localStorage.getItem(`icewire.${key}`); } catch { return null; }
  },
  set(key: string, value: string): void {
    try { localStorage.setItem(`icewire.${key}`, value); } catch { /* private mode: fine */ }
  },
};

// ---- page state ----
let info: Info | undefined;
let browserOk = false;
let uiState: UiState = 'idle';
let stream: MediaStream | undefined;
let streamKey = '';
let acquiring: Promise<MediaStream> | undefined;
let devicesAllowed = false;
let session: BroadcastSession | undefined;
let wakeLock: { release(): Promise<void> } | undefined;
let studio: Studio | undefined;
/** A show this tab was running before a reload, to resume (from sessionStorage). */
let savedShow: SavedShow | undefined;

// ---- status display ----
const STATE_TEXT: Record<UiState, string> = {
  idle: 'Off air',
  connecting: 'Connecting…',
  live: 'On air',
  reconnecting: 'Reconnecting…',
  ended: 'Off air',
  error: 'Not live',
};
const BUTTON_TEXT: Record<UiState, string> = {
  idle: 'Go live',
  connecting: 'Connecting…',
  live: 'On air',
  reconnecting: 'Reconnecting…',
  ended: 'Go live',
  error: 'Go live',
};

/** Who is reconnecting: this page to the daemon ("server"), or the daemon to Icecast. */
type Reconnecting = 'server' | 'icecast';

function busyNow(): boolean {
  return session !== undefined && !session.isOver;
}

function setState(next: UiState, sentence?: string, reconnecting?: Reconnecting): void {
  uiState = next;
  el.status.dataset['state'] = next;
  if (next === 'reconnecting' && reconnecting !== undefined) el.status.dataset['reconnecting'] = reconnecting;
  else delete el.status.dataset['reconnecting'];
  el.statusText.textContent = next === 'reconnecting' && reconnecting === 'icecast' ? 'Reconnecting to Icecast…' : STATE_TEXT[next];
  el.goLive.textContent = BUTTON_TEXT[next];
  el.goLive.dataset['state'] = next;
  const busy = next === 'connecting' || next === 'live' || next === 'reconnecting';
  el.goLive.disabled = busy || !browserOk || info === undefined;
  el.goLive.setAttribute('aria-disabled', String(el.goLive.disabled));
  el.stop.hidden = !busy;
  const stopping = session?.state.kind === 'stopping';
  el.stop.disabled = stopping;
  el.stop.textContent = stopping ? 'Stopping…' : 'Stop';
  el.metaSend.disabled = !(session?.snapshot().canSendMetadata ?? false);
  // The microphone and preset may change mid-show (the studio rewires its input); the station,
  // the account and the kind of stream (audio or video) can't.
  for (const input of [el.user, el.password, mountEl, el.videoToggle, el.camera]) input.disabled = busy;
  foldSignIn(busy);
  document.title = next === 'live' ? 'On air · icewire' : 'Go live · icewire';
  if (sentence !== undefined) showError(sentence);
  else if (next !== 'error') clearError();
}

/** While a broadcast runs the sign-in form (which can't change then) folds into one line. */
function foldSignIn(folded: boolean): void {
  if (info === undefined) return;
  const station = info.authMode === 'passthrough'
    ? `Icecast mount /${currentMount()}`
    : (info.mounts.find((m) => m.id === currentMount())?.name ?? currentMount());
  el.signinSummary.textContent = `${el.user.value.trim()} · ${station}`;
  el.signinFolded.hidden = !folded;
  el.login.hidden = folded;
  el.passthroughHelp.hidden = folded || info.authMode !== 'passthrough';
}

/** Draw the session's snapshot: status, figures, upload health, the listeners' truth. */
function render(): void {
  const sess = session;
  if (sess === undefined) return;
  const snap = sess.snapshot();
  const st = snap.state;
  let ui: UiState;
  let kind: Reconnecting | undefined;
  switch (st.kind) {
    case 'connecting': ui = 'connecting'; break;
    case 'live':
      if (snap.audience === 'none') { ui = 'reconnecting'; kind = 'icecast'; } else ui = 'live';
      break;
    case 'away': ui = 'reconnecting'; kind = 'server'; break;
    case 'stopping': ui = uiState; kind = el.status.dataset['reconnecting'] as Reconnecting | undefined; break;
    case 'ended': ui = st.end.sentence !== undefined ? 'error' : 'ended'; break;
  }
  if (ui !== uiState || kind !== el.status.dataset['reconnecting'] || st.kind === 'stopping' || st.kind === 'ended') {
    const sentence = st.kind === 'ended' ? st.end.sentence : el.error.hidden ? undefined : el.error.textContent ?? undefined;
    setState(ui, sentence, kind);
  } else {
    el.metaSend.disabled = !snap.canSendMetadata;
  }
  if (st.kind === 'ended') {
    finish(sess, snap);
    return;
  }
  if (snap.since !== undefined && (st.kind === 'live' || st.kind === 'away' || st.kind === 'stopping')) {
    el.elapsed.textContent = formatDuration(Math.max(0, Date.now() - Date.parse(snap.since)));
  }
  el.listeners.textContent = snap.listeners !== undefined ? String(snap.listeners) : '–';
  el.bytesSent.textContent = formatBytes(snap.bytesSent);
  el.bytesSent.dataset['bytes'] = String(snap.bytesSent);
  el.upload.dataset['health'] = snap.health;
  el.upload.textContent = {
    idle: '–',
    good: 'Good',
    slow: `Slow · ${snap.behindS.toFixed(0)} s behind`,
    stalled: st.kind === 'away' ? 'Reconnecting…' : `Stalled · ${snap.behindS.toFixed(0)} s behind`,
    held: snap.audience === 'none' ? 'Not reaching listeners' : 'Not reaching all listeners',
  }[snap.health];
  showAudience(snap);
  showRenditions(snap);
  if (snap.continuedAsNew && st.kind !== 'away') {
    showNotice('The server had lost your broadcast (it may have restarted), so the show continues as a new broadcast. Listeners may need to press play again.');
  }
  if (st.kind === 'live' && wakeLock === undefined) void requestWakeLock();
}

function showNotice(text: string): void {
  if (el.error.textContent !== text) showError(text);
  el.error.dataset['kind'] = 'notice';
}

/**
 * The status line tells the truth about listeners: when the daemon is reconnecting to Icecast
 * (all renditions, or some), the show is not reaching them, whatever the upload does.
 */
function showAudience(snap: SessionSnapshot | undefined): void {
  const on = snap !== undefined && snap.state.kind === 'live';
  const audience = on ? snap.audience : undefined;
  if (audience === undefined) delete el.status.dataset['audience'];
  else el.status.dataset['audience'] = audience;
  let detail = '';
  if (audience === 'none') {
    detail = 'Listeners can\'t hear the show right now: the station\'s Icecast server cannot be reached. icewire keeps trying and the show goes on by itself when it is back; what you send meanwhile does not reach listeners.';
  } else if (audience === 'some') {
    detail = `Some listeners can't hear the show right now: Icecast is reconnecting ${snap!.heldMounts.join(', ')}. The other streams are on air.`;
  }
  el.statusDetail.textContent = detail;
  el.statusDetail.hidden = detail === '';
}

function showRenditions(snap: SessionSnapshot): void {
  const items = snap.renditions.filter((r) => typeof r.url === 'string' && r.url !== '');
  el.renditions.replaceChildren(...items.map((r) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = r.url;
    a.textContent = r.url;
    a.target = '_blank';
    a.rel = 'noopener';
    const fmt = document.createElement('span');
    fmt.className = 'muted small';
    fmt.textContent = ` ${r.format}${typeof r.listeners === 'number' ? ` · ${r.listeners} listening` : ''}`;
    li.append(a, fmt);
    return li;
  }));
  el.renditionsBox.hidden = items.length === 0 || snap.state.kind !== 'live';
}

/** The session is over: summary, cleared figures, the recordings list refreshed. */
function finish(sess: BroadcastSession, snap: SessionSnapshot): void {
  if (session !== sess || snap.state.kind !== 'ended') return;
  const end = snap.state.end;
  session = undefined;
  void wakeLock?.release().catch(() => undefined);
  wakeLock = undefined;
  el.renditionsBox.hidden = true;
  delete el.error.dataset['kind'];
  showAudience(undefined);
  clearFigures();
  if (end.wentLive) {
    el.summary.dataset['durationMs'] = String(end.durationMs);
    el.summary.dataset['peakListeners'] = String(end.peakListeners);
    el.summary.dataset['bytes'] = String(end.bytes);
    el.summary.dataset['reason'] = end.reason;
    const listeners = end.peakListeners === 1 ? '1 listener at most' : `${end.peakListeners} listeners at most`;
    el.summaryText.textContent = `${formatDuration(end.durationMs)} on air · ${listeners} · ${formatBytes(end.bytes)} sent · ended because ${end.words}.`;
    el.summary.hidden = false;
    // The show just ended is in the broadcaster's recordings now, if the station records.
    if (info?.authMode === 'accounts' && end.reason !== 'connection-lost') recordings.afterBroadcast();
  }
  setState(end.sentence !== undefined ? 'error' : 'ended', end.sentence);
}

function clearFigures(): void {
  el.elapsed.textContent = '–';
  el.listeners.textContent = '–';
  el.bytesSent.textContent = '–';
  el.bytesSent.dataset['bytes'] = '0';
  el.upload.dataset['health'] = 'idle';
  el.upload.textContent = '–';
}

function showError(sentence: string): void {
  el.error.textContent = sentence;
  el.error.hidden = false;
}
function clearError(): void {
  el.error.textContent = '';
  el.error.hidden = true;
}

function showWarnings(lines: string[]): void {
  el.warnings.replaceChildren(...lines.map((l) => {
    const li = document.createElement('li');
    li.textContent = l;
    return li;
  }));
  el.warnings.hidden = lines.length === 0;
}

// ---- browser check ----
function checkBrowser(): boolean {
  const problem = browserProblem({
    secure: window.isSecureContext,
    hasGetUserMedia: typeof navigator.mediaDevices?.getUserMedia === 'function',
    hasMediaRecorder: typeof window.MediaRecorder === 'function',
    hasWebSocket: typeof window.WebSocket === 'function',
  });
  if (problem !== undefined) {
    setState('error', problem);
    el.permissionBox.hidden = true;
    return false;
  }
  if (chooseMime(false, (m) => MediaRecorder.isTypeSupported(m)) === undefined) {
    setState('error', NO_RECORDING_FORMAT);
    return false;
  }
  return true;
}

// ---- /api/info and the login form ----
async function loadInfo(): Promise<void> {
  let delay = 2000;
  for (;;) {
    try {
      const res = await fetch('/api/info', { headers: { accept: 'application/json' }, cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      info = (await res.json()) as Info;
      if (el.error.textContent === INFO_UNREACHABLE) clearError();
      setupForm(info);
      return;
    } catch {
      if (browserOk) showError(INFO_UNREACHABLE);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

function setupForm(i: Info): void {
  el.body.dataset['authMode'] = i.authMode;
  setupGuests(i);
  el.loading.hidden = true;
  el.login.hidden = false;
  if (i.authMode === 'passthrough') {
    const input = document.createElement('input');
    input.id = 'mount';
    input.placeholder = 'live.ogg';
    input.autocapitalize = 'none';
    input.spellcheck = false;
    input.required = true;
    input.setAttribute('aria-describedby', 'passthrough-help');
    input.value = store.get('mount') ?? '';
    mountEl.replaceWith(input);
    mountEl = input;
    el.passthroughHelp.hidden = false;
    el.userLabel.textContent = 'Icecast source user';
    el.passwordLabel.textContent = 'Icecast source password';
    el.mountLabel.textContent = 'Icecast mount';
    el.stationHeading.textContent = 'Icecast';
    el.user.value = store.get('user') ?? 'source';
  } else {
    const select = mountEl as HTMLSelectElement;
    select.replaceChildren(...i.mounts.map((m) => {
      const o = document.createElement('option');
      o.value = m.id;
      o.textContent = m.name && m.name !== m.id ? `${m.name} (${m.id})` : m.id;
      return o;
    }));
    const remembered = store.get('mount');
    if (remembered && i.mounts.some((m) => m.id === remembered)) select.value = remembered;
    if (i.mounts.length === 0) showError('This server has no stations to go live on yet. Ask the station manager to add one.');
    el.user.value = store.get('user') ?? '';
  }
  recordings.enable(i.authMode === 'accounts');
  mountEl.addEventListener('input', onMountChange);
  mountEl.addEventListener('change', onMountChange);
  onMountChange();
  // Refresh the buttons now that the form exists, keeping any sentence already shown.
  setState(uiState, el.error.hidden ? undefined : el.error.textContent ?? undefined);
}

function currentMount(): string {
  return mountEl.value.trim().replace(/^\/+/, '');
}

function onMountChange(): void {
  const mount = currentMount();
  const m = info?.mounts.find((x) => x.id === mount);
  el.stationName.textContent = m?.name ?? (info?.authMode === 'passthrough' ? 'Icecast passthrough' : '');
  el.listenLink.hidden = mount === '' || !STATION_MOUNT_RE.test(mount);
  el.listenLink.href = `/listen/${encodeURIComponent(mount)}`;
  updateVideoNote();
}

function updateVideoNote(): void {
  let note = '';
  if (el.videoToggle.checked && info) {
    const mount = currentMount();
    if (info.authMode === 'accounts') {
      const m = info.mounts.find((x) => x.id === mount);
      if (m && !m.renditions.some((r) => r.format === 'webm')) {
        note = 'This station has no video stream: listeners will get the sound only.';
      }
    } else if (/\.(ogg|opus|oga|mp3)$/i.test(mount)) {
      note = 'This mount name makes an audio-only stream. Use a name ending in .webm to send video.';
    }
  }
  el.videoNote.textContent = note;
  el.videoNote.hidden = note === '';
}

/** The form's values, or a sentence saying what is missing (and the field to fix). */
function readForm(): { user: string; password: string; mount: string } | { problem: string; field: HTMLElement } {
  const user = el.user.value.trim();
  const password = el.password.value;
  const mount = currentMount();
  const passthrough = info?.authMode === 'passthrough';
  if (passthrough) {
    if (!STATION_MOUNT_RE.test(mount)) {
      return { problem: 'Enter the Icecast mount to go live on, such as live.ogg (letters, digits, . _ - only).', field: mountEl };
    }
    if (user === '') return { problem: 'Enter the Icecast source user name (usually "source").', field: el.user };
    if (password === '') return { problem: 'Enter the Icecast source password for this mount.', field: el.password };
  } else {
    if (user === '') return { problem: 'Enter your name to go live.', field: el.user };
    if (password === '') return { problem: 'Enter your password to go live.', field: el.password };
    if (mount === '') return { problem: 'Pick the station to go live on.', field: mountEl };
  }
  return { user, password, mount };
}

// ---- guests ----
let guestDesk: GuestDesk | undefined;

/** The Guests card: accounts mode with guests on, once the studio is there to mix them. */
function setupGuests(i: Info): void {
  const card = document.getElementById('guests-card');
  if (card === null || studio === undefined || i.authMode !== 'accounts' || i.guests?.enabled !== true || guestDesk !== undefined) return;
  const st = studio;
  card.hidden = false;
  guestDesk = new GuestDesk({
    root: card,
    studio: st,
    login: () => {
      const form = readForm();
      if ('problem' in form) return { problem: form.problem.replace(/to go live\.$/, 'to invite guests.'), field: form.field };
      return { user: form.user, password: form.password, station: form.mount };
    },
    loginToken: async (user, password) => {
      await st.whenReady();
      await st.wake();
      return loginToken(user, password);
    },
  });
}

// ---- devices ----
function preset(): Preset {
  return el.presetVoice.checked ? 'voice' : 'music';
}

function wantedConstraints(): MediaStreamConstraints {
  return buildConstraints({
    preset: preset(),
    micId: el.mic.value || undefined,
    video: el.videoToggle.checked,
    cameraId: el.camera.value || undefined,
  });
}

function stopStream(): void {
  studio?.setMicStream(undefined);
  stream?.getTracks().forEach((t) => t.stop());
  stream = undefined;
  streamKey = '';
  el.preview.srcObject = null;
  el.preview.hidden = true;
}

/** Open (or reuse) the microphone/camera with the current choices. Throws getUserMedia errors. */
async function acquire(): Promise<MediaStream> {
  const constraints = wantedConstraints();
  const key = JSON.stringify(constraints);
  if (stream && key === streamKey && stream.getTracks().every((t) => t.readyState === 'live')) return stream;
  if (acquiring) {
    await acquiring.catch(() => undefined);
    return acquire();
  }
  acquiring = (async () => {
    stopStream();
    let s: MediaStream;
    try {
      s = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      // A remembered device that is gone: fall back to the default one rather than failing.
      const name = (err as { name?: string }).name;
      if ((name === 'OverconstrainedError' || name === 'NotFoundError') && (el.mic.value || el.camera.value)) {
        el.mic.value = '';
        el.camera.value = '';
        s = await navigator.mediaDevices.getUserMedia(wantedConstraints());
      } else {
        throw err;
      }
    }
    stream = s;
    devicesAllowed = true;
    el.permissionBox.hidden = true;
    for (const t of s.getTracks()) t.addEventListener('ended', () => onTrackEnded(t));
    studio?.setMicStream(s);
    const vt = s.getVideoTracks()[0];
    if (vt) {
      el.preview.srcObject = new MediaStream([vt]);
      el.preview.hidden = false;
      void el.preview.play().catch(() => undefined);
    }
    await listDevices();
    showReadback(s);
    // After the read-back the pickers name the devices in use: that is the stream's key.
    streamKey = JSON.stringify(wantedConstraints());
    return s;
  })();
  try {
    return await acquiring;
  } finally {
    acquiring = undefined;
  }
}

function showReadback(s: MediaStream): void {
  const at = s.getAudioTracks()[0];
  const vt = s.getVideoTracks()[0];
  const parts: string[] = [];
  let warnings: string[] = [];
  if (at) {
    const st = at.getSettings();
    parts.push(`${at.label || 'Microphone'}: ${describeAudioSettings(st) || 'settings not reported'}`);
    warnings = settingsWarnings(preset(), st);
    selectIfListed(el.mic, st.deviceId);
  }
  if (vt) {
    const st = vt.getSettings();
    parts.push(`${vt.label || 'Camera'}: ${describeVideoSettings(st) || 'settings not reported'}`);
    selectIfListed(el.camera, st.deviceId);
  }
  el.settings.textContent = parts.join(' — ');
  showWarnings(warnings);
}

function selectIfListed(select: HTMLSelectElement, id: string | undefined): void {
  if (id && Array.from(select.options).some((o) => o.value === id)) select.value = id;
}

async function listDevices(): Promise<void> {
  let devices: MediaDeviceInfo[];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return;
  }
  fillPicker(el.mic, devices.filter((d) => d.kind === 'audioinput'), 'Default microphone', 'Microphone');
  fillPicker(el.camera, devices.filter((d) => d.kind === 'videoinput'), 'Default camera', 'Camera');
}

function fillPicker(select: HTMLSelectElement, devices: MediaDeviceInfo[], defaultText: string, kind: string): void {
  const keep = select.value;
  const options = [new Option(defaultText, '')];
  devices.forEach((d, i) => {
    // Before permission ids and labels are empty: only the default entry makes sense.
    if (d.deviceId && d.deviceId !== 'default') options.push(new Option(d.label || `${kind} ${i + 1}`, d.deviceId));
  });
  select.replaceChildren(...options);
  select.value = options.some((o) => o.value === keep) ? keep : '';
}

async function onDeviceChoiceChanged(): Promise<void> {
  store.set('preset', preset());
  store.set('video', String(el.videoToggle.checked));
  el.cameraField.hidden = !el.videoToggle.checked;
  updateVideoNote();
  if (!devicesAllowed) return;
  if (busyNow()) {
    await switchMic();
    return;
  }
  try {
    clearError();
    await acquire();
  } catch (err) {
    showError(await mediaSentence(err));
  }
}

async function mediaSentence(err: unknown): Promise<string> {
  let missing: 'audio' | 'video' | undefined;
  if ((err as { name?: string }).name === 'NotFoundError') {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      if (!devices.some((d) => d.kind === 'audioinput')) missing = 'audio';
      else if (el.videoToggle.checked && !devices.some((d) => d.kind === 'videoinput')) missing = 'video';
    } catch { /* keep the general sentence */ }
  }
  return mediaErrorSentence(err, { video: el.videoToggle.checked, ...(missing ? { missing } : {}) });
}

function onTrackEnded(t: MediaStreamTrack): void {
  if (!stream || !stream.getTracks().includes(t)) return;
  if (busyNow()) {
    // The show goes on (decks, pads); only the microphone (or camera) is gone.
    showNotice('Your microphone or camera stopped (unplugged, or taken by another app). The show goes on without it: pick another microphone above.');
    return;
  }
  stopStream();
  el.settings.textContent = '';
  el.permissionBox.hidden = false;
}


/**
 * Mid-show: open the newly picked microphone (or preset) and rewire the studio's mic channel to
 * it. The recording is of the mixer's output, so it goes on without a break; a camera in use
 * stays as it is.
 */
async function switchMic(): Promise<void> {
  const old = stream;
  if (old === undefined) return;
  const c = wantedConstraints();
  let fresh: MediaStream;
  try {
    // Some devices can't be open twice: let go of the old microphone first.
    for (const t of old.getAudioTracks()) t.stop();
    fresh = await navigator.mediaDevices.getUserMedia({ audio: c.audio ?? true, video: false });
  } catch (err) {
    showNotice(await mediaSentence(err));
    return;
  }
  const at = fresh.getAudioTracks()[0];
  if (at === undefined) return;
  for (const t of old.getAudioTracks()) old.removeTrack(t);
  old.addTrack(at);
  at.addEventListener('ended', () => onTrackEnded(at));
  studio?.setMicStream(old);
  showReadback(old);
  streamKey = JSON.stringify(wantedConstraints());
  el.level.dataset['mic'] = at.label;
}

// ---- going live ----
function loginToken(user: string, password: string): Promise<string | undefined> {
  // A short-lived token lets a reloaded tab resume the show without keeping the password.
  return fetch('/api/login', {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ user, password }), cache: 'no-store',
  }).then(async (r) => (r.ok ? ((await r.json()) as { token?: string }).token : undefined)).catch(() => undefined);
}

function sessionDeps(recordStream: MediaStream, opts: MediaRecorderOptions, video: boolean, token: string | undefined): SessionDeps {
  return {
    openSocket: (url, protocol) => new WebSocket(url, protocol),
    createRecorder: () => new MediaRecorder(recordStream, opts),
    clock: {
      now: () => Date.now(),
      setTimeout: (fn, ms) => window.setTimeout(fn, ms),
      clearTimeout: (h) => window.clearTimeout(h as number),
    },
    bytesPerSecond: streamBytesPerSecond(video),
    timesliceMs: TIMESLICE_MS,
    onChange: () => render(),
    persist: (show) => {
      try {
        if (show === undefined) sessionStorage.removeItem(SAVED_SHOW_KEY);
        else sessionStorage.setItem(SAVED_SHOW_KEY, JSON.stringify(show));
      } catch { /* storage off: a reload then cannot resume */ }
    },
    loginToken: token,
  };
}

/** What the recorder records: the studio's master, plus the camera when sending video. */
async function recording(video: boolean): Promise<{ stream: MediaStream; opts: MediaRecorderOptions; mime: string } | { problem: string }> {
  const st = studio!;
  await st.whenReady();
  await st.wake();
  const s = await acquire();
  const withVideo = video && s.getVideoTracks().length > 0;
  const mime = chooseMime(withVideo, (m) => MediaRecorder.isTypeSupported(m));
  if (!mime) return { problem: withVideo ? NO_VIDEO_FORMAT : NO_RECORDING_FORMAT };
  const opts: MediaRecorderOptions & { videoKeyFrameIntervalDuration?: number } = { mimeType: mime, audioBitsPerSecond: AUDIO_BITS_PER_SECOND };
  if (withVideo) {
    opts.videoBitsPerSecond = VIDEO_BITS_PER_SECOND;
    // Chromium otherwise makes a VP8 keyframe only every ~5 s; late listeners wait for one.
    opts.videoKeyFrameIntervalDuration = 1000;
  }
  const stream = new MediaStream([...st.masterStream.getAudioTracks(), ...(withVideo ? s.getVideoTracks() : [])]);
  return { stream, opts, mime };
}

async function goLive(): Promise<void> {
  if (busyNow() || !info || !browserOk || studio === undefined) return;
  const form = readForm();
  if ('problem' in form) {
    setState(uiState === 'ended' ? 'ended' : 'idle', form.problem);
    form.field.focus();
    return;
  }
  store.set('user', form.user);
  store.set('mount', form.mount);
  el.summary.hidden = true;
  el.elapsed.textContent = '0:00:00';
  el.listeners.textContent = '–';
  setState('connecting');

  let rec: Awaited<ReturnType<typeof recording>>;
  try {
    rec = await recording(el.videoToggle.checked);
  } catch (err) {
    setState('error', await mediaSentence(err));
    return;
  }
  if ('problem' in rec) {
    setState('error', rec.problem);
    return;
  }
  const video = rec.stream.getVideoTracks().length > 0;
  const token = info.authMode === 'accounts' ? await loginToken(form.user, form.password) : undefined;
  const hello: Hello = { mime: rec.mime, user: form.user, password: form.password };
  // A show this tab was running before a reload, whose token a password could not present
  // (passthrough): going live again continues it.
  if (savedShow !== undefined && savedShow.url === ingestUrl(location, form.mount) && Date.now() - savedShow.savedAt < RELOAD_RESUME_MAX_AGE_MS) {
    hello.resume = savedShow.resume;
  }
  savedShow = undefined;
  try {
    session = BroadcastSession.start(sessionDeps(rec.stream, rec.opts, video, token), { url: ingestUrl(location, form.mount), hello, video });
  } catch {
    setState('error', video ? NO_VIDEO_FORMAT : NO_RECORDING_FORMAT);
    return;
  }
  render();
}

/** After a reload: pick up the show this tab was running (accounts mode: with the login token). */
async function resumeSavedShow(): Promise<void> {
  const saved = savedShow;
  if (saved === undefined || studio === undefined || info === undefined) return;
  if (saved.hello.token === undefined) {
    // Passthrough: no account to log in with. The form is filled in; the password is needed.
    showNotice('This tab was on air before it reloaded. Type the Icecast password and press Go live within a few seconds to continue the same show.');
    return;
  }
  savedShow = undefined;
  el.summary.hidden = true;
  setState('reconnecting', undefined, 'server');
  let rec: Awaited<ReturnType<typeof recording>>;
  try {
    rec = await recording(saved.video);
  } catch (err) {
    setState('error', await mediaSentence(err));
    return;
  }
  if ('problem' in rec) {
    setState('error', rec.problem);
    return;
  }
  const hello: Hello = { ...saved.hello, mime: rec.mime };
  session = BroadcastSession.resume(sessionDeps(rec.stream, rec.opts, saved.video, saved.hello.token), { ...saved, hello });
  render();
  if (studio.ctx.state !== 'running') {
    showNotice('The show resumed after the reload. Click or press a key anywhere on the page to bring the studio\'s sound back.');
  }
}

function readSavedShow(): SavedShow | undefined {
  try {
    const raw = sessionStorage.getItem(SAVED_SHOW_KEY);
    if (raw === null) return undefined;
    const s = JSON.parse(raw) as SavedShow;
    if (typeof s.resume !== 'string' || typeof s.url !== 'string' || Date.now() - s.savedAt > RELOAD_RESUME_MAX_AGE_MS) {
      sessionStorage.removeItem(SAVED_SHOW_KEY);
      return undefined;
    }
    return s;
  } catch {
    return undefined;
  }
}

async function stopBroadcast(): Promise<void> {
  await session?.stop();
}

async function requestWakeLock(): Promise<void> {
  // Keep a phone's screen (and so its microphone) awake while on air.
  const wl = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<{ release(): Promise<void> }> } }).wakeLock;
  if (!wl || wakeLock !== undefined) return;
  wakeLock = { release: async () => undefined }; // taken: no second request meanwhile
  try {
    const lock = await wl.request('screen');
    if (busyNow()) wakeLock = lock;
    else void lock.release().catch(() => undefined);
  } catch { /* not allowed (hidden tab, low battery): fine */ }
}

// ---- now playing ----
function sendNowPlaying(title: string, artist: string, auto: boolean): boolean {
  if (!session || !session.sendMetadata(title, artist)) {
    el.metaResult.textContent = session?.state.kind === 'away'
      ? 'Reconnecting: send it again once the page shows On air.'
      : 'Go live first, then update what is playing.';
    return false;
  }
  const what = [title, artist].filter((x) => x !== '').join(' — ') || '(cleared)';
  el.metaResult.textContent = `${auto ? 'Sent from the deck' : 'Sent'}: ${what}`;
  el.metaResult.dataset['sent'] = what;
  return true;
}

function sendMetadata(ev: Event): void {
  ev.preventDefault();
  sendNowPlaying(el.metaTitle.value.trim(), el.metaArtist.value.trim(), false);
}

// ---- wiring ----
function init(): void {
  const p = store.get('preset');
  if (p === 'voice') el.presetVoice.checked = true;
  el.videoToggle.checked = store.get('video') === 'true';
  el.cameraField.hidden = !el.videoToggle.checked;

  browserOk = checkBrowser();
  setState(browserOk ? 'idle' : 'error', browserOk ? undefined : el.error.textContent ?? undefined);

  el.goLive.addEventListener('click', () => void goLive());
  el.stop.addEventListener('click', () => void stopBroadcast());
  el.login.addEventListener('submit', (e) => { e.preventDefault(); void goLive(); });
  el.metaForm.addEventListener('submit', sendMetadata);
  // Another name or password: the recordings login (and the list shown) may be someone else's.
  for (const input of [el.user, el.password]) input.addEventListener('input', () => recordings.forget());
  el.enableDevices.addEventListener('click', () => {
    clearError();
    void studio?.wake();
    acquire().catch(async (err: unknown) => showError(await mediaSentence(err)));
  });
  for (const c of [el.mic, el.camera, el.videoToggle, el.presetMusic, el.presetVoice]) {
    c.addEventListener('change', () => void onDeviceChoiceChanged());
  }
  window.addEventListener('beforeunload', (e) => {
    if (busyNow()) e.preventDefault();
  });
  // A reload or a closed tab is a drop, not a stop: close with a code the daemon treats as one
  // (the browser's own 1001 means the same to a current daemon), so a reloaded tab can resume.
  window.addEventListener('pagehide', () => {
    if (busyNow()) session?.abandon();
  });

  savedShow = browserOk ? readSavedShow() : undefined;
  // The sign-in form and the stations load whatever the browser can do (on plain http the
  // person still sees where they are and why capture needs https).
  const infoLoaded = loadInfo();
  if (!browserOk) return;
  const studioEl = document.getElementById('studio');
  if (studioEl !== null) {
    studio = new Studio(studioEl, meter, {
      onNowPlaying: (title, artist) => { if (busyNow()) sendNowPlaying(title, artist, true); },
      onPageAction: (a) => {
        if (a === 'goLive') void goLive();
        else if (a === 'stop') void stopBroadcast();
      },
    });
  }
  navigator.mediaDevices.addEventListener('devicechange', () => {
    void listDevices().then(() => {
      // The device in use vanished while off air: switch to what is there now.
      if (!busyNow() && stream && stream.getTracks().some((t) => t.readyState === 'ended')) void onDeviceChoiceChanged();
    });
  });
  void listDevices();
  if (savedShow !== undefined) {
    void infoLoaded.then(() => resumeSavedShow());
    return;
  }
  // With permission already granted, start the microphone at once; otherwise wait for a click.
  void navigator.permissions?.query({ name: 'microphone' as PermissionName }).then((st) => {
    if (st.state === 'granted' && !stream && !busyNow()) {
      acquire().catch(async (err: unknown) => showError(await mediaSentence(err)));
    }
  }).catch(() => undefined);
}

init();
