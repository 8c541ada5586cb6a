// The listen page (www/listen.html) for /listen/<station-mount>: shows on air / off air, and plays
// the first rendition this browser can play (or the one the listener picked) as soon as the
// broadcast is on air; shows an embed snippet for the selected rendition. It never reloads
// itself; after a stream ends it waits for the status to say on air again (a drop during the
// same broadcast is retried with a growing delay, so a dead stream cannot cause a request loop).
// While the daemon says the broadcast is reconnecting (the broadcaster's connection, or the
// daemon's connection to Icecast), the page says so and waits instead of reporting a dead stream.
// Which rendition a browser can play is its own answer to canPlayType(): Safari before 18.4 has
// no Ogg/Opus, so there the MP3 rendition plays (docs/notes/browsers.md).

interface Rendition {
  mount: string;
  format: string;
  contentType?: string;
  url?: string;
  listeners?: number;
  /** While a broadcast runs: `live`, or `connecting`/`reconnecting` while Icecast is not (yet) serving it. */
  state?: string;
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
  streamChoice: byId<HTMLElement>('stream-choice'),
  rendition: byId<HTMLSelectElement>('rendition'),
  embedBox: byId<HTMLElement>('embed-box'),
  embed: byId<HTMLTextAreaElement>('embed'),
  embedCopy: byId<HTMLButtonElement>('embed-copy'),
  embedResult: byId<HTMLElement>('embed-result'),
  stations: byId<HTMLUListElement>('stations'),
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
/** The rendition (Icecast mount) the listener picked in #rendition, if any. */
let chosen: string | undefined;
/** What #rendition's options were built from, to rebuild them only when that changes. */
let choicesKey = '';

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
      showOff();
      if (active) stopPlayer();
      await showStations();
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
  showChoices(st.renditions ?? []);
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
  if (active) {
    if (reconnecting) say(RECONNECTING_PLAYING);
    else if (ui.message.textContent === RECONNECTING_PLAYING) say(st.title ? '' : 'Playing.');
    return;
  }
  const r = pick(st.renditions ?? []);
  // Icecast is not serving the stream right now (the daemon is reconnecting to it, or has not
  // been accepted yet): opening it would only fail. The status poll starts it when it is back.
  if (!st.onAir || (r !== undefined && r.state !== undefined && r.state !== 'live')) {
    say(reconnecting || r?.state === 'reconnecting' ? RECONNECTING : 'The broadcast is starting. This page starts playing by itself in a moment.');
    return;
  }
  const broadcast = st.since ?? 'on-air';
  if (broadcast !== startedFor) {
    attempts = 0;
    nextTryAt = 0;
  }
  if (Date.now() >= nextTryAt) start(st, broadcast);
  else say(reconnecting ? RECONNECTING : 'The stream dropped. Trying again in a moment…');
}

const RECONNECTING = 'The broadcast is reconnecting. This page starts playing again by itself in a moment.';
const RECONNECTING_PLAYING = 'The broadcast is reconnecting: you may hear silence for a moment.';

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
const probeElement = document.createElement('video');

/** The type to ask canPlayType about: with the codec where the format says it. */
function probeType(r: Rendition): string {
  const ct = r.contentType ?? '';
  switch (r.format) {
    case 'ogg-opus': return 'audio/ogg; codecs="opus"';
    case 'ogg-vorbis': return 'audio/ogg; codecs="vorbis"';
    case 'mp3': return 'audio/mpeg';
    default: return ct;
  }
}

/** The browser's own answer: '' (cannot), 'maybe' or 'probably'. */
function canPlay(r: Rendition): CanPlayTypeResult {
  return r.url && r.contentType ? probeElement.canPlayType(probeType(r)) : '';
}

function playable(r: Rendition): boolean {
  return canPlay(r) !== '';
}

/**
 * The rendition to play: the listener's choice if this browser can play it, else the first the
 * browser says it "probably" plays, else the first it "maybe" plays (the station's order breaks
 * ties: list the one most listeners should get first).
 */
function pick(renditions: Rendition[]): Rendition | undefined {
  const mine = chosen !== undefined ? renditions.find((r) => r.mount === chosen && playable(r)) : undefined;
  return mine ?? renditions.find((r) => canPlay(r) === 'probably') ?? renditions.find(playable);
}

function formatLabel(r: Rendition): string {
  switch (r.format) {
    case 'ogg-opus': return 'Opus (Ogg)';
    case 'ogg-vorbis': return 'Vorbis (Ogg)';
    case 'mp3': return 'MP3';
    case 'webm': return r.contentType?.startsWith('video/') ? 'Video (WebM)' : 'Opus (WebM)';
    default: return r.format;
  }
}

// ---- stream choice and embed snippet ----
function showChoices(renditions: Rendition[]): void {
  const listed = renditions.filter((r) => typeof r.url === 'string' && r.url !== '');
  const key = JSON.stringify(listed.map((r) => [r.mount, r.format, r.contentType, r.url]));
  if (key !== choicesKey) {
    choicesKey = key;
    ui.rendition.replaceChildren(...listed.map((r) => {
      const ok = playable(r);
      const o = new Option(`${formatLabel(r)} · ${r.mount}${ok ? '' : ' (not playable in this browser)'}`, r.mount);
      o.disabled = !ok;
      return o;
    }));
  }
  ui.streamChoice.hidden = listed.length < 2;
  const selected = (active ? listed.find((r) => r.mount === player.dataset['rendition']) : undefined) ?? pick(listed) ?? listed[0];
  if (selected !== undefined && ui.rendition.value !== selected.mount) ui.rendition.value = selected.mount;
  showEmbed(selected);
}

function escapeAttr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The HTML a site owner pastes to play this rendition. */
function embedSnippet(r: Rendition): string {
  const src = escapeAttr(r.url ?? '');
  return r.contentType?.startsWith('video/')
    ? `<video controls playsinline preload="none" src="${src}"></video>`
    : `<audio controls preload="none" src="${src}"></audio>`;
}

function showEmbed(r: Rendition | undefined): void {
  const text = r?.url ? embedSnippet(r) : '';
  if (ui.embed.value !== text) {
    ui.embed.value = text;
    ui.embedResult.textContent = '';
  }
  ui.embedBox.hidden = text === '';
}

async function copyEmbed(): Promise<void> {
  const text = ui.embed.value;
  if (text === '') return;
  try {
    await navigator.clipboard.writeText(text);
    ui.embedResult.textContent = 'Copied. Paste it into your page.';
  } catch {
    // No clipboard access (an insecure page, or the browser said no): leave it selected.
    ui.embed.focus();
    ui.embed.select();
    ui.embedResult.textContent = 'Selected: press Ctrl+C (⌘C on a Mac) to copy it.';
  }
}

/** The listener picked another stream: remember it, and switch to it at once if playing. */
function onChoice(): void {
  const renditions = lastStatus?.renditions ?? [];
  const r = renditions.find((x) => x.mount === ui.rendition.value);
  if (r === undefined) return;
  chosen = r.mount;
  showEmbed(r);
  if (!active || !playable(r) || player.dataset['rendition'] === r.mount) return;
  const p = ensurePlayer(r.contentType?.startsWith('video/') ? 'video' : 'audio');
  p.dataset['rendition'] = r.mount;
  p.src = r.url as string;
  say('Switching stream…');
  begin(p);
}

function ensurePlayer(kind: 'audio' | 'video'): HTMLMediaElement {
  if (player.localName === kind) return player;
  // The old element lets go of its stream before the new one takes its place.
  player.pause();
  player.removeAttribute('src');
  delete player.dataset['rendition'];
  player.load();
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
    const listed = st.renditions ?? [];
    say(listed.length === 0
      ? 'This station has no stream to play.'
      : `This browser cannot play this station's streams (${listed.map(formatLabel).join(', ')}). Open this page in another browser, such as a current Firefox, Chrome or Safari, or play ${listed.length === 1 ? 'the stream' : 'a stream'} in a media player such as VLC: ${listed.map((x) => x.url).filter(Boolean).join(' ')}`);
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
  showChoices(st.renditions ?? []);
  begin(p);
}

/** Start playback of the player's new source. */
function begin(p: HTMLMediaElement): void {
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
  // the status poll says whether the broadcast ended or is reconnecting
  say(lastStatus?.state === 'reconnecting' ? RECONNECTING : 'Checking whether the broadcast goes on…');
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

/** An unknown station: say so, and list the ones this server has (accounts mode). */
async function showStations(): Promise<void> {
  let stations: { id: string; name?: string }[] = [];
  let passthrough = false;
  try {
    const res = await fetch('/api/info', { cache: 'no-store' });
    if (res.ok) {
      const info = (await res.json()) as { authMode?: string; mounts?: { id: string; name?: string }[] };
      stations = info.mounts ?? [];
      passthrough = info.authMode === 'passthrough';
    }
  } catch { /* no list then: the sentence still says what is wrong */ }
  ui.station.textContent = 'No such station';
  document.title = 'No such station · Listen';
  // nothing to play or count here
  player.hidden = true;
  if (ui.listeners.parentElement !== null) ui.listeners.parentElement.hidden = true;
  const unknown = mount === '' ? 'This address names no station.' : `There is no station called “${mount}” here.`;
  if (stations.length > 0) {
    say(`${unknown} ${stations.length === 1 ? 'This is the station' : 'These are the stations'} you can listen to:`);
    ui.stations.replaceChildren(...stations.map((st) => {
      const a = document.createElement('a');
      a.href = `/listen/${encodeURIComponent(st.id)}`;
      a.textContent = st.name && st.name !== st.id ? `${st.name} (${st.id})` : st.id;
      const li = document.createElement('li');
      li.append(a);
      return li;
    }));
    ui.stations.hidden = false;
  } else {
    say(passthrough
      ? `${unknown} Station names here are Icecast mount names, such as /listen/live.ogg: check the address you were given.`
      : `${unknown} This server has no stations set up yet.`);
    ui.stations.hidden = true;
  }
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
  ui.rendition.addEventListener('change', onChoice);
  ui.embedCopy.addEventListener('click', () => void copyEmbed());
  ui.play.addEventListener('click', () => {
    player.play().then(() => { ui.play.hidden = true; }).catch(() => {
      say('The browser would not start playing. Use the player controls to start it.');
    });
  });
  if (mount === '') {
    void showStations();
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
