// Which deck is "on air" for the now-playing title: pure, so the rule is unit-tested.

export interface DeckOnAir {
  id: string;
  playing: boolean;
  /** The deck's gain on the master (fader x crossfader), dB; -Infinity when closed. */
  gainDb: number;
  title: string;
  artist: string;
}

/** Quieter than this on the master and a deck is not what listeners hear. */
export const ON_AIR_FLOOR_DB = -20;

/** The playing deck loudest on the master (above the floor), or undefined. Ties go to the first. */
export function deckOnAir(decks: readonly DeckOnAir[]): DeckOnAir | undefined {
  let best: DeckOnAir | undefined;
  for (const d of decks) {
    if (!d.playing || d.gainDb < ON_AIR_FLOOR_DB || (d.title === '' && d.artist === '')) continue;
    if (best === undefined || d.gainDb > best.gainDb + 0.5) best = d;
  }
  return best;
}
