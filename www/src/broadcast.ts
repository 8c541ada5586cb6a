// The broadcaster page (www/index.html): login, devices, level meter, Go live / Stop.
// The ids this file relies on are listed at the top of index.html.
import { LevelMeter } from './level-meter.js';
import {
  AUDIO_BITS_PER_SECOND, TIMESLICE_MS, VIDEO_BITS_PER_SECOND,
  buildConstraints, chooseMime, describeAudioSettings, describeVideoSettings, settingsWarnings, streamBytesPerSecond,
  type Preset,
} from './media-settings.js';
import {
  DEVICE_LOST, INFO_UNREACHABLE, NO_RECORDING_FORMAT, NO_VIDEO_FORMAT, RECORDER_FAILED, RESUME_FAILED, SERVER_SILENT,
  UPLOAD_TOO_SLOW, browserProblem, closeSentence, endReasonSentence, mediaErrorSentence,
} from './messages.js';
import {
  WebcastClient, closeIsResumable, ingestUrl, resumeDelayMs, type CloseInfo, type Hello, type StatusData,
} from './webcast-client.js';
import { formatBytes, formatDuration } from './format.js';
import { STATION_MOUNT_RE } from './wire-contract.js';
import { RecordingsPanel, type Credentials } from './recordings.js';

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

/** No word from the daemon for this long while connecting: give up with a sentence. */
const CONNECT_SILENCE_MS = 10_000;
const CONNECT_MAX_MS = 30_000;
/** Upload health thresholds, in seconds of recorded media not yet on the wire. */
const SLOW_BACKLOG_S = 2;
const STALLED_BACKLOG_S = 15;
const STALLED_NO_PROGRESS_MS = 5_000;
const GIVE_UP_BACKLOG_S = 60;
/**
 * Resuming after a lost connection (docs/protocol.md, "Resuming after a drop"): no status frame for this long
 * while on air means the connection is dead even if the socket still looks open (the daemon
 * sends one every second or two).
 */
const HEARTBEAT_GAP_MS = 5_000;
/** One resume attempt: the socket must open and the daemon answer within this. */
const RESUME_ATTEMPT_MS = 5_000;
/** Give up resuming this long after the connection was lost. */
const RESUME_GIVE_UP_MS = 30_000;
/** Stop pressed while reconnecting: how long to try telling the daemon before just ending. */
const STOP_WHILE_AWAY_MS = 3_000;
/** Close code for a connection we give up on in order to resume (not 1000: that would end the show). */
const CLOSE_FOR_RESUME = 4000;

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
  onAir: () => session !== undefined,
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

interface Session {
  /** The current connection: the live one, or the resume attempt in flight (undefined between attempts). */
  client: WebcastClient | undefined;
  /** The daemon answered the current connection's hello (a status frame came). */
  accepted: boolean;
  /** The recorder whose chunks go to `client`; a new one for every connection. */
  recorder: MediaRecorder | undefined;
  /** Made (and so checked) before connecting; started when the first connection opens. */
  firstRecorder: MediaRecorder | undefined;
  media: MediaStream;
  recorderOptions: MediaRecorderOptions;
  url: string;
  hello: Hello;
  /** From the daemon's status frames: present it to continue this broadcast after a drop. */
  resumeToken: string | undefined;
  video: boolean;
  since: string | undefined;
  errorFrame: string | undefined;
  endReason: string | undefined;
  /** A local failure (upload, recorder, device, lost connection) that ended the broadcast. */
  localError: string | undefined;
  stopping: boolean;
  openedAt: number;
  lastMessageAt: number;
  /** Bytes sent on earlier connections of this broadcast. */
  bytesBefore: number;
  lastSent: number;
  lastProgressAt: number;
  timer: number;
  wakeLock: { release(): Promise<void> } | undefined;
  /** Set while the connection is lost and the page is resuming. */
  away: Away | undefined;
  /** The daemon said live at least once (so a show may have been recorded). */
  wentLive: boolean;
}
interface Away {
  since: number;
  attempts: number;
  retryTimer: number | undefined;
  attemptStartedAt: number | undefined;
}
let session: Session | undefined;

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

let reconnectingKind: Reconnecting = 'server';

function setState(next: UiState, sentence?: string, reconnecting: Reconnecting = reconnectingKind): void {
  uiState = next;
  reconnectingKind = reconnecting;
  el.status.dataset['state'] = next;
  if (next === 'reconnecting') el.status.dataset['reconnecting'] = reconnecting;
  else delete el.status.dataset['reconnecting'];
  el.statusText.textContent = next === 'reconnecting' && reconnecting === 'icecast' ? 'Reconnecting to Icecast…' : STATE_TEXT[next];
  el.goLive.textContent = BUTTON_TEXT[next];
  el.goLive.dataset['state'] = next;
  const busy = next === 'connecting' || next === 'live' || next === 'reconnecting';
  el.goLive.disabled = busy || !browserOk || info === undefined;
  el.goLive.setAttribute('aria-disabled', String(el.goLive.disabled));
  el.stop.hidden = !busy;
  el.stop.disabled = session?.stopping ?? false;
  el.stop.textContent = session?.stopping ? 'Stopping…' : 'Stop';
  // Now playing needs a connection that the daemon has taken (not while this page is resuming).
  el.metaSend.disabled = !((next === 'live' || next === 'reconnecting') && session !== undefined && session.away === undefined);
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
  const opts: MediaRecorderOptions & { videoKeyFrameIntervalDuration?: number } = {
    mimeType: mime,
    audioBitsPerSecond: AUDIO_BITS_PER_SECOND,
  };
  if (video) {
    opts.videoBitsPerSecond = VIDEO_BITS_PER_SECOND;
    // Chromium otherwise makes a VP8 keyframe only every ~5 s; late listeners wait for one.
    opts.videoKeyFrameIntervalDuration = 1000;
  }
  let recorder: MediaRecorder;
  try {
    recorder = new MediaRecorder(s, opts);
  } catch {
    setState('error', video ? NO_VIDEO_FORMAT : NO_RECORDING_FORMAT);
    return;
  }

  const now = Date.now();
  const sess: Session = {
    client: undefined,
    accepted: false,
    recorder: undefined,
    firstRecorder: recorder,
    media: s,
    recorderOptions: opts,
    url: ingestUrl(location, form.mount),
    hello: { mime, user: form.user, password: form.password },
    resumeToken: undefined,
    video,
    since: undefined,
    errorFrame: undefined,
    endReason: undefined,
    localError: undefined,
    stopping: false,
    openedAt: now,
    lastMessageAt: now,
    bytesBefore: 0,
    lastSent: 0,
    lastProgressAt: now,
    timer: 0,
    wakeLock: undefined,
    away: undefined,
    wentLive: false,
  };
  session = sess;
  connect(sess, false);
  sess.timer = window.setInterval(() => tick(sess), 500);
  tick(sess);
}

/**
 * Open a connection for `sess` and make it the current one. A fresh go-live starts recording as
 * soon as the socket opens; a resume (hello with the token) waits for the daemon's answer, then
 * starts a new recording (a new WebM header: the daemon reads each connection's stream from its
 * own start). Events of a connection that is no longer the current one are ignored.
 */
function connect(sess: Session, resume: boolean): WebcastClient {
  const hello: Hello = resume && sess.resumeToken !== undefined ? { ...sess.hello, resume: sess.resumeToken } : sess.hello;
  const client: WebcastClient = new WebcastClient(sess.url, hello, {
    onOpen: () => {
      if (sess.client !== client || session !== sess) return;
      sess.lastMessageAt = Date.now();
      if (resume) return;
      sess.openedAt = sess.lastMessageAt;
      const first = sess.firstRecorder;
      sess.firstRecorder = undefined;
      if (first !== undefined && !sess.stopping) startRecording(sess, first);
    },
    onStatus: (st) => {
      if (sess.client === client) onStatus(sess, st);
    },
    onErrorFrame: (_code, message) => {
      if (sess.client === client) sess.errorFrame = message || undefined;
    },
    onClose: (c) => {
      if (sess.client === client) onClose(sess, c);
    },
  });
  sess.client = client;
  sess.accepted = false;
  return client;
}

/** Record into the current connection, with a new MediaRecorder unless one is given. */
function startRecording(sess: Session, given?: MediaRecorder): void {
  const client = sess.client;
  if (client === undefined) return;
  let rec: MediaRecorder;
  try {
    rec = given ?? new MediaRecorder(sess.media, sess.recorderOptions);
  } catch {
    sess.localError = RECORDER_FAILED;
    void stopBroadcast();
    return;
  }
  // A recorder's chunks belong to the connection it started on: never carry them to another.
  rec.addEventListener('dataavailable', (e) => {
    if (sess.recorder === rec && sess.client === client) client.sendChunk(e.data);
  });
  rec.addEventListener('error', () => {
    if (sess.recorder !== rec || sess.stopping || session !== sess) return;
    sess.localError = RECORDER_FAILED;
    void stopBroadcast();
  });
  sess.recorder = rec;
  try {
    rec.start(TIMESLICE_MS);
  } catch {
    sess.recorder = undefined;
    sess.localError = RECORDER_FAILED;
    void stopBroadcast();
  }
}

/** Stop the current recorder and throw away whatever it still hands over. */
function discardRecorder(sess: Session): void {
  const rec = sess.recorder;
  sess.recorder = undefined;
  if (rec && rec.state !== 'inactive') {
    try { rec.stop(); } catch { /* already stopping */ }
  }
}

function onStatus(sess: Session, st: StatusData): void {
  if (session !== sess) return;
  sess.lastMessageAt = Date.now();
  if (typeof st.resume === 'string' && st.resume !== '') sess.resumeToken = st.resume;
  if (!sess.accepted) {
    sess.accepted = true;
    if (sess.away !== undefined && !sess.stopping) {
      // The daemon took the resume (or, with an expired token, started afresh): record again.
      window.clearTimeout(sess.away.retryTimer);
      sess.away = undefined;
      sess.lastProgressAt = sess.lastMessageAt;
      sess.lastSent = sess.bytesBefore;
      startRecording(sess);
    }
  }
  if (typeof st.listeners === 'number') el.listeners.textContent = String(st.listeners);
  if (typeof st.since === 'string') sess.since = st.since;
  if (st.renditions) showRenditions(st);
  if (sess.stopping) {
    if (st.state === 'ended') sess.endReason = st.reason ?? 'stopped';
    return;
  }
  switch (st.state) {
    case 'live':
      sess.wentLive = true;
      if (uiState !== 'live') {
        setState('live');
        if (sess.wakeLock === undefined) void requestWakeLock(sess);
      }
      break;
    case 'reconnecting':
      // The daemon is reconnecting to Icecast; this page stays connected and keeps sending.
      if (uiState !== 'reconnecting' || reconnectingKind !== 'icecast') setState('reconnecting', undefined, 'icecast');
      break;
    case 'connecting':
      // A resume the daemon could not match (the broadcast had already ended) starts a new one.
      if (uiState !== 'connecting') {
        sess.since = undefined;
        sess.openedAt = Date.now();
        setState('connecting');
      }
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
  // Elapsed time counts from the daemon's `since`, which a resumed broadcast keeps; clamp
  // against clock skew between the two machines.
  if (sess.since && (uiState === 'live' || uiState === 'reconnecting')) {
    el.elapsed.textContent = formatDuration(Math.max(0, now - Date.parse(sess.since)));
  }
  const sent = sess.bytesBefore + (c !== undefined && sess.away === undefined ? c.bytesSent : 0);
  el.bytesSent.textContent = formatBytes(sent);
  el.bytesSent.dataset['bytes'] = String(sent);

  if (sess.away !== undefined) {
    el.upload.dataset['health'] = 'stalled';
    el.upload.textContent = 'Reconnecting…';
    if (sess.stopping) return;
    // A resume attempt that neither opened nor got an answer in time: drop it, try the next.
    const a = sess.away;
    if (c !== undefined && !sess.accepted && a.attemptStartedAt !== undefined && now - a.attemptStartedAt > RESUME_ATTEMPT_MS) {
      sess.client = undefined;
      c.abort(CLOSE_FOR_RESUME);
      scheduleResume(sess);
    }
    return;
  }
  if (c === undefined) return;

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
    c.abort(1000);
    return;
  }
  // While connecting the daemon sends a status at least every 2 s; silence (or a socket that
  // never opens) means something between here and there is broken.
  if (uiState === 'connecting' &&
      ((c.isOpen && now - sess.lastMessageAt > CONNECT_SILENCE_MS) || now - sess.openedAt > CONNECT_MAX_MS)) {
    sess.localError = SERVER_SILENT;
    c.abort(1000);
    return;
  }
  // On air, a status frame comes every second or two: a long gap is a dead connection (a
  // network that vanished without closing anything). Resume on a new one.
  if ((uiState === 'live' || uiState === 'reconnecting') && sess.accepted && c.isOpen &&
      now - sess.lastMessageAt > HEARTBEAT_GAP_MS && canResume(sess)) {
    beginAway(sess);
  }
}

function canResume(sess: Session): boolean {
  return sess.resumeToken !== undefined && sess.since !== undefined && !sess.stopping;
}

/**
 * The connection is lost while on air: the daemon keeps the broadcast going (listeners hear
 * silence) for a grace period. Stop recording into the dead connection and resume on a new one.
 */
function beginAway(sess: Session): void {
  const old = sess.client;
  sess.client = undefined;
  sess.accepted = false;
  discardRecorder(sess);
  if (old !== undefined) {
    sess.bytesBefore += old.bytesSent;
    // Still open (a heartbeat gap): close it, but not with 1000, which would end the broadcast.
    old.abort(CLOSE_FOR_RESUME);
  }
  sess.away = { since: Date.now(), attempts: 0, retryTimer: undefined, attemptStartedAt: undefined };
  setState('reconnecting', undefined, 'server');
  scheduleResume(sess);
}

function scheduleResume(sess: Session): void {
  const away = sess.away;
  if (away === undefined || session !== sess || sess.stopping) return;
  const left = away.since + RESUME_GIVE_UP_MS - Date.now();
  if (left <= 0) {
    sess.localError = RESUME_FAILED;
    endSession(sess, { code: 1006, reason: '', opened: true, byUs: false });
    return;
  }
  const delay = Math.min(resumeDelayMs(away.attempts), left);
  away.attempts++;
  away.attemptStartedAt = undefined;
  window.clearTimeout(away.retryTimer);
  away.retryTimer = window.setTimeout(() => {
    if (session !== sess || sess.stopping || sess.away !== away) return;
    away.attemptStartedAt = Date.now();
    connect(sess, true);
  }, delay);
}

async function stopBroadcast(): Promise<void> {
  const sess = session;
  if (!sess || sess.stopping) return;
  sess.stopping = true;
  setState(uiState);
  if (sess.away !== undefined) {
    await stopWhileAway(sess);
    if (session === sess) endSession(sess, { code: 1000, reason: '', opened: true, byUs: true });
    return;
  }
  const rec = sess.recorder;
  if (rec && rec.state !== 'inactive') {
    // The last dataavailable fires before 'stop'; its chunk is queued before finish() drains.
    await new Promise<void>((resolve) => {
      rec.addEventListener('stop', () => resolve(), { once: true });
      try { rec.stop(); } catch { resolve(); }
    });
  }
  await sess.client?.finish();
  // If the close event never came (timeout), end the session here.
  if (session === sess) endSession(sess, { code: 1000, reason: '', opened: true, byUs: true });
}

/**
 * Stop pressed while the page is resuming: no more attempts. The daemon would end the broadcast
 * by itself when its grace period runs out; telling it now takes the mount off air at once, so
 * present the token once more (no media) and close normally as soon as the daemon has taken it.
 */
async function stopWhileAway(sess: Session): Promise<void> {
  const away = sess.away;
  if (away === undefined) return;
  window.clearTimeout(away.retryTimer);
  away.retryTimer = undefined;
  let c = sess.client;
  if (c === undefined || c.isClosed || c.isClosedByUs) {
    if (sess.resumeToken === undefined) return;
    c = connect(sess, true);
  }
  const taken = await c.waitForStatus(STOP_WHILE_AWAY_MS);
  if (taken) await c.finish(STOP_WHILE_AWAY_MS);
  else c.abort(1000);
}

function onClose(sess: Session, c: CloseInfo): void {
  if (session !== sess) return;
  const unanswered = !c.byUs && !sess.stopping && sess.errorFrame === undefined &&
    sess.endReason === undefined && sess.localError === undefined;
  if (unanswered && sess.away !== undefined && (closeIsResumable(c.code) || !c.opened)) {
    // This resume attempt failed (server unreachable, connection cut again): try the next.
    sess.client = undefined;
    scheduleResume(sess);
    return;
  }
  if (unanswered && sess.away === undefined && sess.accepted && closeIsResumable(c.code) && canResume(sess)) {
    beginAway(sess);
    return;
  }
  // Stop was pressed: however this connection ended (even refused, while reconnecting), it is a stop.
  endSession(sess, sess.stopping ? { ...c, byUs: true } : c);
}

function endSession(sess: Session, c: CloseInfo): void {
  session = undefined;
  window.clearInterval(sess.timer);
  if (sess.away !== undefined) window.clearTimeout(sess.away.retryTimer);
  sess.away = undefined;
  if (sess.recorder && sess.recorder.state !== 'inactive') {
    try { sess.recorder.stop(); } catch { /* already stopping */ }
  }
  const client = sess.client;
  // A resume attempt still in flight: nothing is to come of it.
  if (client !== undefined && !client.isClosed) client.abort(1000);
  void sess.wakeLock?.release().catch(() => undefined);
  sess.wakeLock = undefined;
  el.upload.dataset['health'] = 'idle';
  el.upload.textContent = '–';
  el.renditionsBox.hidden = true;
  const reasonSentence = endReasonSentence(sess.endReason);
  if (sess.errorFrame) setState('error', sess.errorFrame);
  else if (sess.localError) setState('error', sess.localError);
  else if (c.byUs) setState('ended');
  else if (sess.endReason !== undefined) setState(reasonSentence ? 'error' : 'ended', reasonSentence);
  else setState('error', closeSentence(c.code, c.opened));
  el.bytesSent.dataset['bytes'] = String(sess.bytesBefore + (client?.bytesSent ?? 0));
  // The show just ended is in the broadcaster's recordings now, if the station records: refresh
  // the list when it is open (not when the server was just found unreachable).
  if (sess.wentLive && info?.authMode === 'accounts' && sess.localError !== RESUME_FAILED) recordings.afterBroadcast();
}

async function requestWakeLock(sess: Session): Promise<void> {
  // Keep a phone's screen (and so its microphone) awake while on air.
  const wl = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<{ release(): Promise<void> }> } }).wakeLock;
  if (!wl) return;
  try {
    const lock = await wl.request('screen');
    if (session === sess && sess.wakeLock === undefined) sess.wakeLock = lock;
    else void lock.release().catch(() => undefined);
  } catch { /* not allowed (hidden tab, low battery): fine */ }
}

// ---- now playing ----
function sendMetadata(ev: Event): void {
  ev.preventDefault();
  const title = el.metaTitle.value.trim();
  const artist = el.metaArtist.value.trim();
  if (!session || session.away !== undefined || !session.client?.sendMetadata(title, artist)) {
    el.metaResult.textContent = session?.away !== undefined
      ? 'Reconnecting: send it again once the page shows On air.'
      : 'Go live first, then update what is playing.';
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
  // Another name or password: the recordings login (and the list shown) may be someone else's.
  for (const input of [el.user, el.password]) input.addEventListener('input', () => recordings.forget());
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
