// The listen page (www/listen.html) for /listen/<station-mount>: shows on air / off air, and plays
// the first rendition this browser can play as soon as the broadcast is on air. It never reloads
// itself; after a stream ends it waits for the status to say on air again (a drop during the
// same broadcast is retried with a growing delay, so a dead stream cannot cause a request loop).

interface Rendition {
  mount: string;
  format: string;
  contentType?: string;
  url?: string;
  listeners?: number;
}
interface Status {
  id?: string;
  onAir: boolean;
  state?: string;
  since?: string | null;
  listeners?: number;
  title?: string | null;
  renditions?: Rendition[];
}

const POLL_MS = 3000;
const MAX_POLL_MS = 30_000;
/** Delays before re-opening a stream that ended while its broadcast is still on air. */
const RETRY_MS = [0, 5000, 10_000, 20_000, 40_000, 60_000];
/** Playback that lasted this long counts as healthy: the next drop is retried at once. */
const HEALTHY_PLAY_MS = 15_000;

const byId = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the page`);
  return e as T;
};
const ui = {
  onair: byId<HTMLElement>('onair'),
  station: byId<HTMLElement>('station'),
  description: byId<HTMLElement>('description'),
  title: byId<HTMLElement>('title'),
  listeners: byId<HTMLElement>('listeners'),
  play: byId<HTMLButtonElement>('play'),
  message: byId<HTMLElement>('message'),
};
let player = byId<HTMLMediaElement>('player');

const mount = (() => {
  const rest = location.pathname.replace(/^\/listen\/?/, '').replace(/\/+$/, '');
  try { return decodeURIComponent(rest); } catch { return rest; }
})();

// ---- playback state ----
/** The player has a source and has not ended or failed. */
let active = false;
/** `since` of the broadcast the player was last started for. */
let startedFor: string | undefined;
let attempts = 0;
let nextTryAt = 0;
let playingSince = 0;
let lastStatus: Status | undefined;

// ---- polling ----
let pollTimer = 0;
let delay = POLL_MS;
let polling = false;

function schedule(ms: number): void {
  window.clearTimeout(pollTimer);
  pollTimer = window.setTimeout(() => void poll(), ms);
}

async function poll(): Promise<void> {
  if (polling) return;
  polling = true;
  window.clearTimeout(pollTimer);
  try {
    const res = await fetch(`/api/status/${encodeURIComponent(mount)}`, { cache: 'no-store', headers: { accept: 'application/json' } });
    if (res.status === 404) {
      const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      showOff();
      say(body.error?.message ?? `There is no station called “${mount}”. Check the address.`);
      delay = MAX_POLL_MS;
    } else if (!res.ok) {
      throw new Error(`HTTP ${res.status}`);
    } else {
      delay = POLL_MS;
      apply((await res.json()) as Status);
    }
  } catch {
    delay = Math.min(delay * 2, MAX_POLL_MS);
    if (!active) say('Cannot reach the station right now. This page keeps trying by itself.');
  } finally {
    polling = false;
    schedule(delay);
  }
}

function apply(st: Status): void {
  lastStatus = st;
  ui.listeners.textContent = typeof st.listeners === 'number' ? String(st.listeners) : '–';
  ui.title.textContent = st.title ?? '';
  updateMediaSession(st);
  // `reconnecting`: the broadcaster (or the daemon's Icecast connection) is coming back. The
  // broadcast goes on (listeners hear silence meanwhile), so a playing stream keeps playing.
  const reconnecting = st.state === 'reconnecting';
  if (!st.onAir && !reconnecting) {
    showOff();
    if (active) stopPlayer();
    // The next on-air is a new start: no back-off carried over.
    startedFor = undefined;
    attempts = 0;
    say('Off air right now. This page starts playing by itself when the broadcast begins.');
    return;
  }
  showOn();
  if (active) return;
  if (!st.onAir) {
    // Not playing yet: start once the broadcast is live again (the mount may be away meanwhile).
    say('The broadcast is reconnecting. This page starts playing by itself in a moment.');
    return;
  }
  const broadcast = st.since ?? 'on-air';
  if (broadcast !== startedFor) {
    attempts = 0;
    nextTryAt = 0;
  }
  if (Date.now() >= nextTryAt) start(st, broadcast);
  else say('The stream dropped. Trying again in a moment…');
}

function showOn(): void {
  ui.onair.dataset['state'] = 'on';
  ui.onair.textContent = 'On air';
}
function showOff(): void {
  ui.onair.dataset['state'] = 'off';
  ui.onair.textContent = 'Off air';
  ui.play.hidden = true;
}
function say(sentence: string): void {
  if (ui.message.textContent !== sentence) ui.message.textContent = sentence;
}

// ---- the media element ----
function pick(renditions: Rendition[]): Rendition | undefined {
  const probe = document.createElement('video');
  return renditions.find((r) => r.url && r.contentType && probe.canPlayType(r.contentType) !== '');
}

function ensurePlayer(kind: 'audio' | 'video'): HTMLMediaElement {
  if (player.localName === kind) return player;
  const next = document.createElement(kind);
  next.id = 'player';
  next.controls = true;
  if (next instanceof HTMLVideoElement) next.playsInline = true;
  next.preload = 'none';
  wire(next);
  player.replaceWith(next);
  player = next;
  return next;
}

function start(st: Status, broadcast: string): void {
  const r = pick(st.renditions ?? []);
  if (!r || !r.url || !r.contentType) {
    const formats = (st.renditions ?? []).map((x) => x.format).join(', ') || 'none';
    say(`This browser cannot play any of this station's streams (${formats}). Try another browser.`);
    return;
  }
  const p = ensurePlayer(r.contentType.startsWith('video/') ? 'video' : 'audio');
  startedFor = broadcast;
  attempts++;
  nextTryAt = Date.now() + (RETRY_MS[Math.min(attempts, RETRY_MS.length - 1)] ?? MAX_POLL_MS);
  active = true;
  p.dataset['rendition'] = r.mount;
  p.src = r.url;
  say('Connecting to the stream…');
  p.play().then(() => {
    ui.play.hidden = true;
  }).catch((err: unknown) => {
    if ((err as { name?: string }).name === 'NotAllowedError' && active) {
      // Autoplay refused: one click on Play is all it takes.
      ui.play.hidden = false;
      say('The broadcast is on. Press Play to listen.');
    }
    // Other failures arrive as 'error' events on the element.
  });
}

function stopPlayer(): void {
  active = false;
  ui.play.hidden = true;
  player.pause();
  player.removeAttribute('src');
  delete player.dataset['rendition'];
  player.load(); // drops the connection to Icecast
}

function onSourceGone(): void {
  if (!active) return;
  if (playingSince > 0 && Date.now() - playingSince >= HEALTHY_PLAY_MS) {
    attempts = 0;
    nextTryAt = 0;
  }
  playingSince = 0;
  stopPlayer();
  showOff();
  say('The stream stopped. Waiting for the broadcast…');
  void poll();
}

function wire(p: HTMLMediaElement): void {
  p.addEventListener('playing', () => {
    if (p !== player) return;
    playingSince = Date.now();
    ui.play.hidden = true;
    say(lastStatus?.title ? '' : 'Playing.');
  });
  p.addEventListener('ended', () => { if (p === player) onSourceGone(); });
  p.addEventListener('error', () => { if (p === player && p.getAttribute('src')) onSourceGone(); });
  // Chromium: waiting, stalled, then ended when the source disappears. A stall may also be a
  // network hiccup, so ask the daemon first instead of tearing down at once.
  p.addEventListener('stalled', () => { if (p === player && active) void poll(); });
}

function updateMediaSession(st: Status): void {
  if (!('mediaSession' in navigator) || typeof MediaMetadata === 'undefined') return;
  navigator.mediaSession.metadata = new MediaMetadata({
    title: st.title || ui.station.textContent || mount,
    artist: ui.station.textContent ?? '',
  });
}

async function loadStationName(): Promise<void> {
  ui.station.textContent = mount;
  document.title = `${mount} · Listen`;
  try {
    const res = await fetch('/api/info', { cache: 'no-store' });
    if (!res.ok) return;
    const info = (await res.json()) as { mounts?: { id: string; name?: string; description?: string }[] };
    const m = info.mounts?.find((x) => x.id === mount);
    if (m?.name) {
      ui.station.textContent = m.name;
      document.title = `${m.name} · Listen`;
    }
    if (m?.description) {
      ui.description.textContent = m.description;
      ui.description.hidden = false;
    }
  } catch { /* the name is a nicety; the status poll reports real trouble */ }
}

function init(): void {
  wire(player);
  ui.play.addEventListener('click', () => {
    player.play().then(() => { ui.play.hidden = true; }).catch(() => {
      say('The browser would not start playing. Use the player controls to start it.');
    });
  });
  if (mount === '') {
    ui.station.textContent = 'No station';
    say('This address names no station. Open /listen/<station>, for example /listen/live.');
    return;
  }
  void loadStationName();
  void poll();
  // Back in a background tab: check at once rather than waiting out a long back-off.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && delay > POLL_MS) { delay = POLL_MS; void poll(); }
  });
}

init();
