// The studio's shelf: the files on the decks and the cart pads, kept in this browser (IndexedDB)
// so that a reloaded or re-opened tab finds its music where the host left it. The files never
// leave the host's machine. What is kept per place: the files in order (a deck's current track,
// then its queue; a pad's one file) and a pad's loop switch. Writes happen only when the list of
// files changes, so a Blob is copied into storage once, not on every transport event.

export interface ShelfEntry {
  readonly files: readonly File[];
  readonly loop?: boolean;
}

const DB_NAME = 'icewire-studio';
const STORE = 'shelf';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('storage request failed'));
  });
}

export class Shelf {
  /** What was last written per place, so unchanged lists are not written again. */
  private readonly written = new Map<string, string>();

  private constructor(private readonly db: IDBDatabase) {}

  /** The shelf, or undefined where the browser keeps no storage for the page (private windows, policy). */
  static async open(): Promise<Shelf | undefined> {
    if (typeof indexedDB === 'undefined') return undefined;
    try {
      const r = indexedDB.open(DB_NAME, 1);
      r.onupgradeneeded = () => { r.result.createObjectStore(STORE); };
      return new Shelf(await request(r));
    } catch {
      return undefined;
    }
  }

  /** Everything kept, by place ('deck-0', 'pad-3', …). */
  async all(): Promise<Map<string, ShelfEntry>> {
    const tx = this.db.transaction(STORE, 'readonly');
    const store = tx.objectStore(STORE);
    const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
    const out = new Map<string, ShelfEntry>();
    keys.forEach((k, i) => {
      const v = values[i] as ShelfEntry | undefined;
      if (typeof k === 'string' && v !== undefined && Array.isArray(v.files)) {
        out.set(k, v);
        this.written.set(k, signature(v));
      }
    });
    return out;
  }

  /** Keep (or, with no files, forget) what is at one place. Rejects when storage is full. */
  async put(place: string, entry: ShelfEntry): Promise<void> {
    const sig = signature(entry);
    if (this.written.get(place) === sig) return;
    this.written.set(place, sig);
    const tx = this.db.transaction(STORE, 'readwrite');
    const store = tx.objectStore(STORE);
    if (entry.files.length === 0) store.delete(place);
    else store.put({ files: [...entry.files], loop: entry.loop ?? false }, place);
    try {
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error ?? new Error('storage write failed'));
        tx.onabort = () => reject(tx.error ?? new Error('storage write aborted'));
      });
    } catch (err) {
      this.written.delete(place); // try again on the next change
      throw err;
    }
  }
}

/** The same files in the same order with the same switch: nothing to write. */
function signature(e: ShelfEntry): string {
  return JSON.stringify([e.loop ?? false, ...e.files.map((f) => [f.name, f.size, f.lastModified])]);
}
