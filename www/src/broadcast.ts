// The broadcaster page (www/index.html): login, devices, level meter, Go live / Stop.
// The ids this file relies on are listed at the top of index.html.
import { LevelMeter } from './level-meter.js';
import {
  AUDIO_BITS_PER_SECOND, TIMESLICE_MS, VIDEO_BITS_PER_SECOND,
  buildConstraints, chooseMime, describeAudioSettings, describeVideoSettings, settingsWarnings, streamBytesPerSecond,
  type Preset,
} from './media-settings.js';
import {
  DEVICE_LOST, INFO_UNREACHABLE, NO_RECORDING_FORMAT, NO_VIDEO_FORMAT, RECORDER_FAILED, SERVER_SILENT, UPLOAD_TOO_SLOW,
  browserProblem, closeSentence, endReasonSentence, mediaErrorSentence,
} from './messages.js';
import { WebcastClient, ingestUrl, type CloseInfo, type StatusData } from './webcast-client.js';
import { formatBytes, formatDuration } from './format.js';

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
}

type UiState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'ended' | 'error';

const STATION_MOUNT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** No word from the daemon for this long while connecting: give up with a sentence. */
const CONNECT_SILENCE_MS = 10_000;
const CONNECT_MAX_MS = 30_000;
/** Upload health thresholds, in seconds of recorded media not yet on the wire. */
const SLOW_BACKLOG_S = 2;
const STALLED_BACKLOG_S = 15;
const STALLED_NO_PROGRESS_MS = 5_000;
const GIVE_UP_BACKLOG_S = 60;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

const el = {
  body: document.body,
  status: $('status'),
  statusText: $('status-text'),
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
};
// #mount is a <select> in accounts mode and replaced by an <input> in passthrough mode.
let mountEl: HTMLSelectElement | HTMLInputElement = $<HTMLSelectElement>('mount');

const meter = new LevelMeter(el.level);

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

interface Session {
  client: WebcastClient;
  recorder: MediaRecorder | undefined;
  video: boolean;
  since: string | undefined;
  errorFrame: string | undefined;
  endReason: string | undefined;
  /** A local failure (upload, recorder, device) that ended the broadcast. */
  localError: string | undefined;
  stopping: boolean;
  openedAt: number;
  lastMessageAt: number;
  lastSent: number;
  lastProgressAt: number;
  timer: number;
  wakeLock: { release(): Promise<void> } | undefined;
}
let session: Session | undefined;

// ---- status display ----
const STATE_TEXT: Record<UiState, string> = {
  idle: 'Off air',
  connecting: 'Connecting…',
  live: 'On air',
  reconnecting: 'Reconnecting to Icecast…',
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

function setState(next: UiState, sentence?: string): void {
  uiState = next;
  el.status.dataset['state'] = next;
  el.statusText.textContent = STATE_TEXT[next];
  el.goLive.textContent = BUTTON_TEXT[next];
  el.goLive.dataset['state'] = next;
  const busy = next === 'connecting' || next === 'live' || next === 'reconnecting';
  el.goLive.disabled = busy || !browserOk || info === undefined;
  el.goLive.setAttribute('aria-disabled', String(el.goLive.disabled));
  el.stop.hidden = !busy;
  el.stop.disabled = session?.stopping ?? false;
  el.stop.textContent = session?.stopping ? 'Stopping…' : 'Stop';
  el.metaSend.disabled = !(next === 'live' || next === 'reconnecting');
  for (const input of [el.user, el.password, mountEl, el.mic, el.camera, el.videoToggle, el.presetMusic, el.presetVoice]) {
    input.disabled = busy;
  }
  el.enableDevices.disabled = busy;
  document.title = next === 'live' ? 'On air · icewire' : 'Go live · icewire';
  if (sentence !== undefined) showError(sentence);
  else if (next !== 'error') clearError();
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
    if (i.mounts.length === 0) showError('This station has no mounts to go live on yet. Ask the station to add one.');
    el.user.value = store.get('user') ?? '';
  }
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
        note = 'This station mount has no video stream: listeners will get the sound only.';
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
    if (mount === '') return { problem: 'Pick the station mount to go live on.', field: mountEl };
  }
  return { user, password, mount };
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
  meter.detach();
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
    meter.attach(s);
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
  if (!devicesAllowed || session) return;
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
  if (session && !session.stopping) {
    session.localError = DEVICE_LOST;
    void stopBroadcast();
    return;
  }
  stopStream();
  el.settings.textContent = '';
  el.permissionBox.hidden = false;
}

// ---- going live ----
async function goLive(): Promise<void> {
  if (session || !info || !browserOk) return;
  const form = readForm();
  if ('problem' in form) {
    setState(uiState === 'ended' ? 'ended' : 'idle', form.problem);
    form.field.focus();
    return;
  }
  store.set('user', form.user);
  store.set('mount', form.mount);
  setState('connecting');

  let s: MediaStream;
  try {
    s = await acquire();
  } catch (err) {
    setState('error', await mediaSentence(err));
    return;
  }
  const video = el.videoToggle.checked && s.getVideoTracks().length > 0;
  const mime = chooseMime(video, (m) => MediaRecorder.isTypeSupported(m));
  if (!mime) {
    setState('error', video ? NO_VIDEO_FORMAT : NO_RECORDING_FORMAT);
    return;
  }
  let recorder: MediaRecorder;
  try {
    const opts: MediaRecorderOptions & { videoKeyFrameIntervalDuration?: number } = {
      mimeType: mime,
      audioBitsPerSecond: AUDIO_BITS_PER_SECOND,
    };
    if (video) {
      opts.videoBitsPerSecond = VIDEO_BITS_PER_SECOND;
      // Chromium otherwise makes a VP8 keyframe only every ~5 s; late listeners wait for one.
      opts.videoKeyFrameIntervalDuration = 1000;
    }
    recorder = new MediaRecorder(s, opts);
  } catch {
    setState('error', video ? NO_VIDEO_FORMAT : NO_RECORDING_FORMAT);
    return;
  }

  const now = Date.now();
  const sess: Session = {
    client: undefined as unknown as WebcastClient,
    recorder,
    video,
    since: undefined,
    errorFrame: undefined,
    endReason: undefined,
    localError: undefined,
    stopping: false,
    openedAt: now,
    lastMessageAt: now,
    lastSent: 0,
    lastProgressAt: now,
    timer: 0,
    wakeLock: undefined,
  };
  session = sess;
  recorder.addEventListener('dataavailable', (e) => sess.client.sendChunk(e.data));
  recorder.addEventListener('error', () => {
    if (sess.stopping) return;
    sess.localError = RECORDER_FAILED;
    void stopBroadcast();
  });

  sess.client = new WebcastClient(ingestUrl(location, form.mount), { mime, user: form.user, password: form.password }, {
    onOpen: () => {
      sess.openedAt = Date.now();
      sess.lastMessageAt = sess.openedAt;
      if (recorder.state === 'inactive' && !sess.stopping) recorder.start(TIMESLICE_MS);
    },
    onStatus: (st) => onStatus(sess, st),
    onErrorFrame: (_code, message) => { sess.errorFrame = message || undefined; },
    onClose: (c) => onClose(sess, c),
  });
  sess.timer = window.setInterval(() => tick(sess), 500);
  tick(sess);
}

function onStatus(sess: Session, st: StatusData): void {
  if (session !== sess) return;
  sess.lastMessageAt = Date.now();
  if (typeof st.listeners === 'number') el.listeners.textContent = String(st.listeners);
  if (typeof st.since === 'string') sess.since = st.since;
  if (st.renditions) showRenditions(st);
  switch (st.state) {
    case 'live':
      if (uiState !== 'live') {
        setState('live');
        void requestWakeLock(sess);
      }
      break;
    case 'reconnecting':
      if (uiState !== 'reconnecting') setState('reconnecting');
      break;
    case 'ended':
      sess.endReason = st.reason ?? 'stopped';
      // Nothing more will go out; stop recording (the socket close follows from the daemon).
      if (sess.recorder && sess.recorder.state !== 'inactive') sess.recorder.stop();
      break;
    default:
      break;
  }
}

function showRenditions(st: StatusData): void {
  const items = (st.renditions ?? []).filter((r) => typeof r.url === 'string' && r.url !== '');
  el.renditions.replaceChildren(...items.map((r) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = r.url as string;
    a.textContent = r.url as string;
    a.target = '_blank';
    a.rel = 'noopener';
    const fmt = document.createElement('span');
    fmt.className = 'muted small';
    fmt.textContent = ` ${r.format}${typeof r.listeners === 'number' ? ` · ${r.listeners} listening` : ''}`;
    li.append(a, fmt);
    return li;
  }));
  el.renditionsBox.hidden = items.length === 0 || !(st.state === 'live' || st.state === 'reconnecting');
}

function tick(sess: Session): void {
  if (session !== sess) return;
  const now = Date.now();
  const c = sess.client;
  // Elapsed time counts from the daemon's `since`, so it survives a page's reconnect; clamp
  // against clock skew between the two machines.
  if (sess.since && (uiState === 'live' || uiState === 'reconnecting')) {
    el.elapsed.textContent = formatDuration(Math.max(0, now - Date.parse(sess.since)));
  }
  const sent = c.bytesSent;
  el.bytesSent.textContent = formatBytes(sent);
  el.bytesSent.dataset['bytes'] = String(sent);

  const backlog = c.backlog;
  if (sent > sess.lastSent || backlog === 0) sess.lastProgressAt = now;
  sess.lastSent = sent;
  const behindS = backlog / streamBytesPerSecond(sess.video);
  let health: 'good' | 'slow' | 'stalled' = 'good';
  if (behindS >= STALLED_BACKLOG_S || (backlog > 0 && now - sess.lastProgressAt >= STALLED_NO_PROGRESS_MS)) health = 'stalled';
  else if (behindS >= SLOW_BACKLOG_S) health = 'slow';
  if (c.isOpen) {
    el.upload.dataset['health'] = health;
    el.upload.textContent = health === 'good' ? 'Good' : `${health === 'slow' ? 'Slow' : 'Stalled'} · ${behindS.toFixed(0)} s behind`;
  }

  if (sess.stopping) return;
  if (behindS >= GIVE_UP_BACKLOG_S) {
    // Never drop media silently; after a minute behind, stop and say so.
    sess.localError = UPLOAD_TOO_SLOW;
    sess.client.abort(1000);
    return;
  }
  // While connecting the daemon sends a status at least every 2 s; silence (or a socket that
  // never opens) means something between here and there is broken.
  if (uiState === 'connecting' &&
      ((c.isOpen && now - sess.lastMessageAt > CONNECT_SILENCE_MS) || now - sess.openedAt > CONNECT_MAX_MS)) {
    sess.localError = SERVER_SILENT;
    sess.client.abort(1000);
  }
}

async function stopBroadcast(): Promise<void> {
  const sess = session;
  if (!sess || sess.stopping) return;
  sess.stopping = true;
  setState(uiState);
  const rec = sess.recorder;
  if (rec && rec.state !== 'inactive') {
    // The last dataavailable fires before 'stop'; its chunk is queued before finish() drains.
    await new Promise<void>((resolve) => {
      rec.addEventListener('stop', () => resolve(), { once: true });
      try { rec.stop(); } catch { resolve(); }
    });
  }
  await sess.client.finish();
  // If the close event never came (timeout), end the session here.
  if (session === sess) endSession(sess, { code: 1000, reason: '', opened: true, byUs: true });
}

function onClose(sess: Session, c: CloseInfo): void {
  if (session !== sess) return;
  endSession(sess, c);
}

function endSession(sess: Session, c: CloseInfo): void {
  session = undefined;
  window.clearInterval(sess.timer);
  if (sess.recorder && sess.recorder.state !== 'inactive') {
    try { sess.recorder.stop(); } catch { /* already stopping */ }
  }
  void sess.wakeLock?.release().catch(() => undefined);
  el.upload.dataset['health'] = 'idle';
  el.upload.textContent = '–';
  el.renditionsBox.hidden = true;
  const reasonSentence = endReasonSentence(sess.endReason);
  if (sess.errorFrame) setState('error', sess.errorFrame);
  else if (sess.localError) setState('error', sess.localError);
  else if (c.byUs) setState('ended');
  else if (sess.endReason !== undefined) setState(reasonSentence ? 'error' : 'ended', reasonSentence);
  else setState('error', closeSentence(c.code, c.opened));
  el.bytesSent.dataset['bytes'] = String(sess.client.bytesSent);
}

async function requestWakeLock(sess: Session): Promise<void> {
  // Keep a phone's screen (and so its microphone) awake while on air.
  const wl = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<{ release(): Promise<void> }> } }).wakeLock;
  if (!wl) return;
  try {
    sess.wakeLock = await wl.request('screen');
  } catch { /* not allowed (hidden tab, low battery): fine */ }
}

// ---- now playing ----
function sendMetadata(ev: Event): void {
  ev.preventDefault();
  const title = el.metaTitle.value.trim();
  const artist = el.metaArtist.value.trim();
  if (!session || !session.client.sendMetadata(title, artist)) {
    el.metaResult.textContent = 'Go live first, then update what is playing.';
    return;
  }
  const what = [title, artist].filter((x) => x !== '').join(' — ') || '(cleared)';
  el.metaResult.textContent = `Sent: ${what}`;
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
  el.enableDevices.addEventListener('click', () => {
    clearError();
    acquire().catch(async (err: unknown) => showError(await mediaSentence(err)));
  });
  for (const c of [el.mic, el.camera, el.videoToggle, el.presetMusic, el.presetVoice]) {
    c.addEventListener('change', () => void onDeviceChoiceChanged());
  }
  window.addEventListener('beforeunload', (e) => {
    if (session) e.preventDefault();
  });

  if (!browserOk) return;
  navigator.mediaDevices.addEventListener('devicechange', () => {
    void listDevices().then(() => {
      // The device in use vanished while off air: switch to what is there now.
      if (!session && stream && stream.getTracks().some((t) => t.readyState === 'ended')) void onDeviceChoiceChanged();
    });
  });
  void listDevices();
  // With permission already granted, start the meter at once; otherwise wait for a click.
  void navigator.permissions?.query({ name: 'microphone' as PermissionName }).then((st) => {
    if (st.state === 'granted' && !stream && !session) {
      acquire().catch(async (err: unknown) => showError(await mediaSentence(err)));
    }
  }).catch(() => undefined);
  void loadInfo();
}

init();
