// What the daemon knows about recordings that the disk could not be told: stretches of a show
// that could not be recorded at all (the disk was full when a file was due, so there is no file),
// and files whose sidecar could not be finished. The recordings list merges it with what is on
// disk, so a broadcaster sees the failure instead of a silent gap. In memory and bounded: after a
// restart only the log (and the files' own sidecars) remain.
import type { RecordingFailure, RecordingFormat, RecordingMeta } from './recording-names.js';

/** Entries of each kind kept; the oldest go first. */
export const MAX_LEDGER_ENTRIES = 1000;

/** A stretch of a show with no file. `endedAt` null: still going (the show is live, nothing records). */
export interface UnrecordedStretch {
  readonly user: string;
  readonly stationMount: string;
  readonly format: RecordingFormat;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly failed: RecordingFailure;
}

export interface OpenStretch {
  /** Recording resumed, or the show ended, at `at`. */
  close(at: Date): void;
  /** Forget it (the broadcast never went live: there was no show to record). */
  drop(): void;
}

export class RecordingLedger {
  private readonly stretches = new Map<number, UnrecordedStretch>();
  private readonly sidecars = new Map<string, RecordingMeta>();
  private next = 0;

  /** A stretch with no file starts now. */
  openStretch(s: Omit<UnrecordedStretch, 'endedAt'>): OpenStretch {
    const id = this.next++;
    this.stretches.set(id, { ...s, endedAt: null });
    bound(this.stretches);
    return {
      close: (at) => {
        const cur = this.stretches.get(id);
        if (cur !== undefined && cur.endedAt === null) this.stretches.set(id, { ...cur, endedAt: at.toISOString() });
      },
      drop: () => { this.stretches.delete(id); },
    };
  }

  /** The user's stretches with no file. */
  stretchesOf(user: string): UnrecordedStretch[] {
    return [...this.stretches.values()].filter((s) => s.user === user);
  }

  /** The sidecar of `<stationMount>/<name>` could not be written: this is what it should say. */
  setSidecar(stationMount: string, name: string, meta: RecordingMeta): void {
    this.sidecars.set(`${stationMount}/${name}`, meta);
    bound(this.sidecars);
  }

  clearSidecar(stationMount: string, name: string): void {
    this.sidecars.delete(`${stationMount}/${name}`);
  }

  /** What the sidecar should say when the one on disk is out of date, else undefined. */
  sidecarOf(stationMount: string, name: string): RecordingMeta | undefined {
    return this.sidecars.get(`${stationMount}/${name}`);
  }
}

function bound<K, V>(m: Map<K, V>): void {
  for (const k of m.keys()) {
    if (m.size <= MAX_LEDGER_ENTRIES) break;
    m.delete(k);
  }
}
