// Every studio action and its key: one table, so the page binds and shows the same thing (the
// key hints on the buttons and the Keys list come from here). Physical keys (KeyboardEvent.code),
// so they sit in the same place on any keyboard layout. Pure.

export type StudioAction =
  | 'mic' | 'talk' | 'cough' | 'ducking' | 'monitor'
  | 'deckA' | 'deckB' | 'nextA' | 'nextB' | 'backA' | 'fwdA' | 'backB' | 'fwdB'
  | 'xfadeLeft' | 'xfadeRight' | 'xfadeA' | 'xfadeB'
  | `pad${number}` | 'padsStop'
  | 'goLive' | 'stop' | 'video' | 'help';

export interface KeyBinding {
  action: StudioAction;
  code: string;
  shift?: boolean;
  ctrl?: boolean;
  /** Held: the action lasts while the key is down (push-to-talk, cough). */
  hold?: boolean;
  /** How the key is shown. */
  label: string;
  does: string;
}

const PAD_CODES = ['Digit1', 'Digit2', 'Digit3', 'Digit4', 'Digit5', 'Digit6', 'Digit7', 'Digit8', 'Digit9', 'Digit0', 'Minus', 'Equal'];
const PAD_LABELS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '='];

export const KEYS: readonly KeyBinding[] = [
  { action: 'mic', code: 'KeyM', label: 'M', does: 'Microphone on / off' },
  { action: 'talk', code: 'KeyT', hold: true, label: 'T (hold)', does: 'Push to talk: the microphone is on while held' },
  { action: 'cough', code: 'KeyC', hold: true, label: 'C (hold)', does: 'Cough: the microphone is silent while held' },
  { action: 'ducking', code: 'KeyD', label: 'D', does: 'Talk-over ducking on / off' },
  { action: 'deckA', code: 'KeyZ', label: 'Z', does: 'Deck A play / pause' },
  { action: 'deckB', code: 'KeyX', label: 'X', does: 'Deck B play / pause' },
  { action: 'nextA', code: 'KeyZ', shift: true, label: 'Shift+Z', does: 'Deck A next track' },
  { action: 'nextB', code: 'KeyX', shift: true, label: 'Shift+X', does: 'Deck B next track' },
  { action: 'backA', code: 'KeyA', label: 'A', does: 'Deck A back 5 s' },
  { action: 'fwdA', code: 'KeyS', label: 'S', does: 'Deck A forward 5 s' },
  { action: 'backB', code: 'KeyK', label: 'K', does: 'Deck B back 5 s' },
  { action: 'fwdB', code: 'KeyL', label: 'L', does: 'Deck B forward 5 s' },
  { action: 'xfadeLeft', code: 'ArrowLeft', label: '←', does: 'Crossfader towards A' },
  { action: 'xfadeRight', code: 'ArrowRight', label: '→', does: 'Crossfader towards B' },
  { action: 'xfadeA', code: 'ArrowLeft', shift: true, label: 'Shift+←', does: 'Crossfader all A' },
  { action: 'xfadeB', code: 'ArrowRight', shift: true, label: 'Shift+→', does: 'Crossfader all B' },
  ...PAD_CODES.map((code, i): KeyBinding => ({ action: `pad${i}`, code, label: PAD_LABELS[i]!, does: `Cart pad ${i + 1}: play / stop` })),
  { action: 'padsStop', code: 'Escape', label: 'Esc', does: 'Stop every cart pad' },
  { action: 'monitor', code: 'KeyH', label: 'H', does: 'Hear the master in the headphones on / off' },
  { action: 'video', code: 'KeyV', label: 'V', does: 'Camera picture on / off (while sending video)' },
  { action: 'goLive', code: 'Enter', ctrl: true, label: 'Ctrl+Enter', does: 'Go live' },
  { action: 'stop', code: 'Enter', ctrl: true, shift: true, label: 'Ctrl+Shift+Enter', does: 'Stop the broadcast' },
  { action: 'help', code: 'Slash', shift: true, label: '?', does: 'Show these keys' },
];

export interface KeyLike { code: string; shiftKey: boolean; ctrlKey: boolean; metaKey: boolean; altKey: boolean }

/** The binding a key press means, if any (Ctrl and ⌘ count the same; Alt never matches). */
export function bindingFor(ev: KeyLike): KeyBinding | undefined {
  if (ev.altKey) return undefined;
  const ctrl = ev.ctrlKey || ev.metaKey;
  return KEYS.find((k) => k.code === ev.code && (k.shift ?? false) === ev.shiftKey && (k.ctrl ?? false) === ctrl);
}

export function keyLabel(action: StudioAction): string {
  return KEYS.find((k) => k.action === action)?.label ?? '';
}
