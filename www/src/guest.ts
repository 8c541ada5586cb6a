// The guest page (www/guest.html, /guest/<station>#<invitation>): no account, the link is the
// ticket. The guest types their name, picks a microphone (the meter shows it works), joins; the
// daemon checks the invitation on the guests' signalling socket and introduces the page to the
// host's studio, which calls it over WebRTC (guest-call.ts). The guest hears the show without
// their own voice (#guest-return) and sees whether they are waiting or on air. A reload or a
// network blink brings them back into the same place (the rejoin secret is kept in this tab's
// sessionStorage, never the address). Every failure is a sentence.
import { LevelMeter } from './level-meter.js';
import { mediaErrorSentence } from './messages.js';
import { SignalSocket } from './signal-socket.js';
import { GuestCall } from './guest-call.js';
import {
  CALL_FAILED, CONNECTION_GAVE_UP, GUEST_DETAIL, GUEST_NOT_SECURE, GUEST_STATUS, NEED_NAME, NO_INVITATION, NO_STATION,
  NO_WEBRTC, SERVER_UNREACHABLE, YOU_LEFT, type GuestStatus,
} from './guest-messages.js';
import {
  GUEST_PAGE_PREFIX, GUEST_WS_PATH_PREFIX, GUEST_WS_SUBPROTOCOL, STATION_MOUNT_RE,
  type CueData, type GuestClientFrame, type GuestServerFrame,
} from './wire-contract.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`#${id} is missing from the page`);
  return e as T;
};

const el = {
  status: $('guest-status'), statusText: $('guest-status-text'), detail: $('guest-detail'), error: $('guest-error'),
  form: $<HTMLFormElement>('guest-form'), name: $<HTMLInputElement>('guest-name'), mic: $<HTMLSelectElement>('guest-mic'),
  join: $<HTMLButtonElement>('guest-join'), leave: $<HTMLButtonElement>('guest-leave'), ret: $<HTMLAudioElement>('guest-return'),
  station: $('guest-station'), headphones: $<HTMLInputElement>('guest-headphones'),
};

const station = decodeURIComponent(location.pathname.slice(GUEST_PAGE_PREFIX.length).replace(/\/+$/, ''));
const invitation = location.hash.slice(1);
/** This page load: a reload is a new instance (the host makes a new connection for it). */
const instance = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b.toString(16).padStart(2, '0')).join('');
const REJOIN_KEY = `icewire.guest.${station}`;
const NAME_KEY = 'icewire.guest.name';
const HEADPHONES_KEY = 'icewire.guest.headphones';

const meter = new LevelMeter($('guest-level'));
let mic: MediaStream | undefined;
let socket: SignalSocket<GuestServerFrame, GuestClientFrame> | undefined;
let call: GuestCall | undefined;
let hostPresent = false;
let cue: CueData = { onAir: false, muted: false };
let rejoin: string | undefined = readRejoin();
let status: GuestStatus = 'idle';

function readRejoin(): string | undefined {
  try {
    const raw = sessionStorage.getItem(REJOIN_KEY);
    if (raw === null) return undefined;
    const saved = JSON.parse(raw) as { invitation?: string; rejoin?: string };
    // the secret belongs to one invitation: another link in this tab starts afresh
    return saved.invitation === invitation ? saved.rejoin : undefined;
  } catch {
    return undefined;
  }
}

function keepRejoin(secret: string | undefined): void {
  rejoin = secret;
  try {
    if (secret === undefined) sessionStorage.removeItem(REJOIN_KEY);
    else sessionStorage.setItem(REJOIN_KEY, JSON.stringify({ invitation, rejoin: secret }));
  } catch { /* storage off: a reload then cannot rejoin */ }
}

function setStatus(s: GuestStatus): void {
  status = s;
  el.status.dataset['state'] = s;
  el.statusText.textContent = GUEST_STATUS[s];
  const detail = GUEST_DETAIL[s];
  if (detail !== undefined) el.detail.textContent = detail;
  const inShow = !['idle', 'left', 'error'].includes(s);
  el.join.hidden = inShow;
  el.leave.hidden = !inShow;
  el.name.disabled = inShow;
}

function showError(text: string, code?: string): void {
  el.error.textContent = text;
  el.error.hidden = text === '';
  if (code !== undefined) el.error.dataset['code'] = code;
  else delete el.error.dataset['code'];
}

/** Waiting, on air or muted: what the host's switches say, once the call is up. */
function showCue(): void {
  if (!hostPresent) { setStatus('host-away'); return; }
  if (call === undefined || call.state === 'connecting') { setStatus('connecting'); return; }
  if (call.state === 'reconnecting') { setStatus('reconnecting'); return; }
  setStatus(!cue.onAir ? 'waiting' : cue.muted ? 'muted' : 'on-air');
}

async function openMic(): Promise<MediaStream> {
  const deviceId = el.mic.value;
  // A voice over a call: without headphones the browser's echo cancellation keeps the show coming
  // back out of the guest's speakers from reaching the host (and noise reduction and automatic
  // gain come with it); with headphones the voice goes as it is.
  const processing = !el.headphones.checked;
  const s = await navigator.mediaDevices.getUserMedia({
    audio: { ...(deviceId !== '' ? { deviceId: { exact: deviceId } } : {}), echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing },
    video: false,
  });
  meter.attach(s);
  void listMics();
  return s;
}

async function listMics(): Promise<void> {
  try {
    const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audioinput' && d.deviceId !== '');
    const current = el.mic.value;
    el.mic.replaceChildren(new Option('Default microphone', ''), ...devices.map((d, i) => new Option(d.label || `Microphone ${i + 1}`, d.deviceId)));
    el.mic.value = devices.some((d) => d.deviceId === current) ? current : '';
  } catch { /* the picker keeps the default */ }
}

function newCall(): void {
  call?.close();
  const track = mic?.getAudioTracks()[0];
  if (track === undefined || socket === undefined) return;
  const ice = iceNow;
  call = new GuestCall({
    createPeer: (c) => new RTCPeerConnection(c),
    send: (signal) => socket?.send({ type: 'signal', data: signal }) === true,
    onReturn: (stream) => {
      el.ret.srcObject = stream;
      void el.ret.play().catch(() => undefined);
    },
    onState: (s) => {
      if (s === 'connected') showError('');
      showCue();
    },
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (t) => window.clearTimeout(t as number),
  }, ice, track);
  failWatch();
}

/** A call that never comes up: say what may be wrong (the page keeps trying). */
let failTimer: number | undefined;
function failWatch(): void {
  window.clearTimeout(failTimer);
  failTimer = window.setTimeout(() => {
    if (call !== undefined && call.state !== 'connected' && hostPresent) showError(CALL_FAILED);
  }, 20_000);
}

let iceNow: ConstructorParameters<typeof GuestCall>[1] = { iceServers: [], iceTransportPolicy: 'all' };

function onFrame(f: GuestServerFrame): void {
  switch (f.type) {
    case 'welcome': {
      keepRejoin(f.data.rejoin);
      el.station.textContent = f.data.station.name;
      document.title = `${f.data.station.name} · Join the show`;
      iceNow = f.data.ice;
      cue = f.data.cue;
      hostPresent = f.data.host;
      showError('');
      // A new page, or one coming back: the host's studio makes a new connection or restarts ICE.
      if (call === undefined || call.state === 'closed') newCall();
      else call.askRestart();
      showCue();
      return;
    }
    case 'host':
      hostPresent = f.data.present;
      // the host's studio (re)opened: it calls afresh
      if (f.data.present) newCall();
      else { call?.close(); call = undefined; }
      showCue();
      return;
    case 'signal':
      void call?.signal(f.data);
      return;
    case 'cue':
      cue = f.data;
      showCue();
      return;
    case 'ice':
      iceNow = f.data;
      call?.setIce(f.data);
      return;
    case 'error':
      return;
  }
}

function end(refusal: { code: string; message: string } | undefined, left: boolean): void {
  call?.close();
  call = undefined;
  el.ret.srcObject = null;
  socket = undefined;
  for (const t of mic?.getTracks() ?? []) t.stop();
  mic = undefined;
  window.clearTimeout(failTimer);
  if (left) {
    keepRejoin(undefined);
    setStatus('left');
    el.detail.textContent = YOU_LEFT;
    el.join.hidden = true;
    return;
  }
  if (refusal !== undefined && refusal.code !== 'IW_ERR_SHUTTING_DOWN') keepRejoin(undefined);
  setStatus('error');
  showError(refusal?.message || CONNECTION_GAVE_UP, refusal?.code);
  el.join.hidden = true;
}

async function join(): Promise<void> {
  showError('');
  const name = el.name.value.trim();
  if (name === '') {
    showError(NEED_NAME);
    el.name.focus();
    return;
  }
  try { localStorage.setItem(NAME_KEY, name); localStorage.setItem(HEADPHONES_KEY, String(el.headphones.checked)); } catch { /* fine */ }
  setStatus('joining');
  try {
    mic ??= await openMic();
  } catch (err) {
    setStatus('idle');
    showError(mediaErrorSentence(err, { video: false }));
    return;
  }
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${GUEST_WS_PATH_PREFIX}${encodeURIComponent(station)}`;
  let leaving = false;
  socket = new SignalSocket<GuestServerFrame, GuestClientFrame>({
    url, protocol: GUEST_WS_SUBPROTOCOL,
    hello: () => ({ type: 'hello', data: { role: 'guest', invitation, name, instance, ...(rejoin !== undefined ? { rejoin } : {}) } }),
    openSocket: (u, p) => new WebSocket(u, p),
    timers: { setTimeout: (fn, ms) => window.setTimeout(fn, ms), clearTimeout: (t) => window.clearTimeout(t as number) },
    now: () => Date.now(),
    giveUpMs: 60_000,
  }, {
    onFrame,
    onState: (s) => {
      if (s === 'retrying') { setStatus('reconnecting'); showError(SERVER_UNREACHABLE); }
    },
    onEnd: (refusal) => end(refusal, leaving),
  });
  el.leave.onclick = () => {
    leaving = true;
    socket?.send({ type: 'leave', data: {} });
    socket?.close(1000);
  };
}

function init(): void {
  if (!window.isSecureContext) { end(undefined, false); showError(GUEST_NOT_SECURE); return; }
  if (typeof RTCPeerConnection !== 'function' || navigator.mediaDevices?.getUserMedia === undefined) { end(undefined, false); showError(NO_WEBRTC); return; }
  if (!STATION_MOUNT_RE.test(station)) { end(undefined, false); showError(NO_STATION); return; }
  if (invitation === '') { end(undefined, false); showError(NO_INVITATION); return; }
  // The name and the headphones choice come back with a reload (a rejoin sounds the same).
  try { el.name.value = localStorage.getItem(NAME_KEY) ?? ''; el.headphones.checked = localStorage.getItem(HEADPHONES_KEY) === 'true'; } catch { /* fine */ }
  el.form.addEventListener('submit', (e) => { e.preventDefault(); if (status === 'idle') void join(); });
  el.headphones.addEventListener('change', () => el.mic.dispatchEvent(new Event('change')));
  el.mic.addEventListener('change', () => {
    // Another microphone: swapped in place, also during the show.
    const old = mic;
    mic = undefined;
    for (const t of old?.getTracks() ?? []) t.stop();
    openMic().then((s) => {
      mic = s;
      const t = s.getAudioTracks()[0];
      if (t !== undefined) void call?.setMic(t);
    }).catch((err: unknown) => showError(mediaErrorSentence(err, { video: false })));
  });
  // A closed tab is a drop (the place is kept a while for a reload), not a goodbye.
  window.addEventListener('pagehide', () => socket?.close(4000));
  // With permission already there, the meter runs at once; a reload within the grace rejoins.
  void navigator.permissions?.query({ name: 'microphone' as PermissionName }).then((st) => {
    if (st.state !== 'granted') return;
    if (rejoin !== undefined && el.name.value !== '') void join();
    else if (mic === undefined) openMic().then((s) => { mic ??= s; }).catch(() => undefined);
  }).catch(() => undefined);
  setStatus('idle');
}

init();
