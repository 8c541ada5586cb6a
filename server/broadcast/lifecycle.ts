// A broadcast's one state and the transitions it may make:
//
//   connecting ──> live <──> reconnecting
//        │          │            │
//        └──────────┴─────┬──────┘
//                         v
//                      ending ──> ended(reason)
//
// connecting -> reconnecting: Icecast accepted every rendition, but the broadcaster had dropped
// meanwhile (or a rendition was already reconnecting). Any other move is a bug: to() refuses it
// with IW_ERR_INTERNAL instead of leaving the broadcast in a state nothing expects. `ending` is the
// teardown (end pages written, Icecast sources closed); a client already sees `ended` then.
import { IcewireError } from '../errors.js';
import type { BroadcastState, EndReason } from '../../www/src/wire-contract.js';

export type LifecycleState = 'connecting' | 'live' | 'reconnecting' | 'ending' | 'ended';

/** Every transition a broadcast may make. */
export const TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  connecting: ['live', 'reconnecting', 'ending'],
  live: ['reconnecting', 'ending'],
  reconnecting: ['live', 'ending'],
  ending: ['ended'],
  ended: [],
};

export class Lifecycle {
  private current: LifecycleState = 'connecting';
  private why: EndReason | undefined;

  get state(): LifecycleState {
    return this.current;
  }

  /** Why it ended (set when ending starts). */
  get reason(): EndReason | undefined {
    return this.why;
  }

  /** What a client sees (the wire contract has no `ending`: the broadcast is over for them). */
  get wireState(): BroadcastState {
    return this.current === 'ending' ? 'ended' : this.current;
  }

  /** Ending or ended: nothing may start, attach or write any more. */
  get isOver(): boolean {
    return this.current === 'ending' || this.current === 'ended';
  }

  /**
   * Move to `next` (`reason` is required for, and only for, `ending`). Returns the state left;
   * throws IW_ERR_INTERNAL for a move the table does not allow.
   */
  to(next: LifecycleState, reason?: EndReason): LifecycleState {
    const from = this.current;
    if (!TRANSITIONS[from].includes(next) || (next === 'ending') !== (reason !== undefined)) {
      throw new IcewireError('IW_ERR_INTERNAL', { detail: `impossible broadcast transition ${from} -> ${next}${reason !== undefined ? ` (${reason})` : ''}` });
    }
    this.current = next;
    if (reason !== undefined) this.why = reason;
    return from;
  }
}
