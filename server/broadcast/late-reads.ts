// Audio the daemon itself reads late, and what to drop when it stays late. Past saturation (the
// machine's cores all busy, the daemon's thread waiting for one), the broadcasters' audio can wait
// in the daemon's sockets for seconds before it is read; every listener then hears it that much
// later, and a player never catches up by itself: it plays everything it gets. The encoders' own
// lag (encoder-lag.ts) does not see this: the audio is late before it is handed to them.
//
// How late a packet is read: the time since the broadcast began, less the audio received until
// then (media-pace.ts counts both, over every connection). A client that records in real time
// keeps this steady: its own steady lateness (network, its chunk interval, the time from hello to
// its first chunk) is the broadcast's floor, the lowest lateness seen. Only lateness above that
// floor is the daemon's (or the network's) doing, and only the freshest audio of a read tells:
// a read after a one-off stall starts seconds late and ends on time (the whole backlog was
// waiting, and is read in one go), a client that sends a cluster a second (Firefox) starts a
// second late and ends on time. So:
//
//   - a packet read more than LATE_ABOVE_MS above the floor starts a late stretch; any packet read
//     within LATE_ABOVE_MS of it ends the stretch (a read that catches up, a cluster's last packet);
//   - a late stretch that lasts LATE_FOR_MS (the daemon has read nothing on time for that long)
//     begins shedding: every packet read more than ON_TIME_BELOW_MS above the floor is dropped,
//     for every rendition at once (the packets never reach the Ogg streams, so copy mounts stay
//     bit-exact for what is kept and granules count only what is written), and the encoders are
//     spared the work, which lets the daemon catch up;
//   - the first packet read within ON_TIME_BELOW_MS of the floor ends the episode: the listeners
//     had a gap and now get fresh audio, at the broadcast's usual delay;
//   - an episode that does not catch up within MAX_SHED_MS takes its lateness as the new floor
//     (listeners get late audio rather than none, and Icecast's mounts get something to send
//     before its source-timeout), and a new episode needs a new late stretch.
//
// A new connection (a resumed page, which may send what it recorded while away, or less) starts
// a new floor: its catch-up is read ever less late, never late for long. A stalled upload that
// flows again on the same connection keeps its floor: TCP delivers its whole backlog, and the gap
// filler drops as much of it as it wrote silence for before anything is judged here, so what is
// judged is on time again unless the daemon reads it late (past saturation the daemon's own slow
// reads make such fills too, and a new floor at each would hide the lateness). The floor also
// rises by FLOOR_RISE of the time passed, so that a client's audio clock running slow against the
// system's (tens of ppm) does not read as lateness after hours.
//
// Pure: the reading's time and lateness in, keep or drop out; no timer, no allocation per packet.

/** A packet read this much later than the broadcast's floor is read late (ms; above a Firefox cluster's second). */
export const LATE_ABOVE_MS = 1500;
/** Read late for this long without one packet on time: shed (ms; longer than a one-off stall's catch-up read). */
export const LATE_FOR_MS = 3000;
/** While shedding, a packet read within this of the floor is on time: the episode ends (ms). */
export const ON_TIME_BELOW_MS = 500;
/**
 * An episode that has not caught up after this long accepts its lateness (ms): half Icecast's
 * default source-timeout, which drops a source (and its listeners) that sends nothing for 10 s.
 */
export const MAX_SHED_MS = 5000;
/** The floor rises by this share of the time passed (audio clocks drift by far less). */
export const FLOOR_RISE = 0.001;

/** What LateReads tells its broadcast. */
export interface LateReadsSink {
  /** A packet of this many ms was dropped. */
  dropped(ms: number): void;
  /** An episode began (`on`) or ended; `lateMs`: the lateness above the floor then; `shedMs`: dropped in the episode. */
  episode(on: boolean, info: { lateMs: number; shedMs: number; caughtUp: boolean }): void;
}

export class LateReads {
  /** The broadcast's steady lateness (ms), undefined until the first packet of a connection. */
  private floor: number | undefined;
  private floorAt = 0;
  /** Since when every packet was read late (undefined: the last one was not). */
  private lateSince: number | undefined;
  /** When the current episode began (undefined: not shedding). */
  private shedSince: number | undefined;
  private episodeShedMs = 0;
  /** Dropped so far, ms. */
  shedMs = 0;
  /** The most a packet was read above the floor, and the longest late stretch (ms; for the log). */
  maxAboveMs = 0;
  maxStretchMs = 0;

  constructor(private readonly sink: LateReadsSink) {}

  get shedding(): boolean {
    return this.shedSince !== undefined;
  }

  /**
   * A packet of `ms` was read at `now`, `lateMs` after the audio it completes should have come
   * (the time since the broadcast began, less the audio received). Returns whether it is kept.
   */
  admit(now: number, lateMs: number, ms: number): boolean {
    if (this.floor === undefined || lateMs < this.floor + FLOOR_RISE * (now - this.floorAt)) {
      this.floor = lateMs;
      this.floorAt = now;
    }
    const above = lateMs - this.floor - FLOOR_RISE * (now - this.floorAt);
    if (above > this.maxAboveMs) this.maxAboveMs = above;
    if (this.lateSince !== undefined && now - this.lateSince > this.maxStretchMs) this.maxStretchMs = now - this.lateSince;
    if (this.shedSince !== undefined) {
      if (above <= ON_TIME_BELOW_MS) {
        this.end(above, true);
        return true;
      }
      if (now - this.shedSince >= MAX_SHED_MS) {
        // not caught up: this lateness is the broadcast's now, and the audio is kept
        this.floor = lateMs;
        this.floorAt = now;
        this.end(above, false);
        return true;
      }
      this.shedMs += ms;
      this.episodeShedMs += ms;
      this.sink.dropped(ms);
      return false;
    }
    if (above <= LATE_ABOVE_MS) {
      this.lateSince = undefined;
      return true;
    }
    this.lateSince ??= now;
    if (now - this.lateSince < LATE_FOR_MS) return true;
    this.shedSince = now;
    this.episodeShedMs = 0;
    this.sink.episode(true, { lateMs: above, shedMs: 0, caughtUp: false });
    this.shedMs += ms;
    this.episodeShedMs += ms;
    this.sink.dropped(ms);
    return false;
  }

  /** A new connection's stream: a new floor, nothing late yet. */
  reset(): void {
    if (this.shedSince !== undefined) this.end(0, true);
    this.floor = undefined;
    this.lateSince = undefined;
  }

  private end(lateMs: number, caughtUp: boolean): void {
    this.shedSince = undefined;
    this.lateSince = undefined;
    this.sink.episode(false, { lateMs, shedMs: this.episodeShedMs, caughtUp });
  }
}
