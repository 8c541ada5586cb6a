// The password checks of the whole daemon, through one bounded queue. scrypt is meant to be
// expensive (~16 MiB and ~100 ms each, on libuv's thread pool): unbounded, a flood of guesses
// takes every pool thread (the recordings' file writes wait behind it) and a legitimate login
// waits behind hundreds of checks.
//
// At most `maxRunning` checks run at once and `maxWaiting` wait. Waiting checks are served
// fairly: first those of a known (account, address) pair (known-logins.ts), then the others one
// client address at a time, round robin, so a flooding address gets no more turns than a
// broadcaster's. When the queue is full, a newcomer takes the place of the newest check of the
// address with the most waiting (when that address has more waiting than the newcomer's), or is
// refused: IW_ERR_AUTH_BUSY, at once, and the check never runs.
import { IcewireError } from '../errors.js';

/** Checks running at once: half the thread pool (4 threads by default) stays free for files and DNS. */
export const MAX_RUNNING_CHECKS = 2;
/** Checks waiting at most (a few seconds of work). */
export const MAX_WAITING_CHECKS = 64;

interface Job {
  readonly lane: string;
  readonly run: () => void;
  readonly refuse: (err: IcewireError) => void;
}

export class CheckQueue {
  private running = 0;
  private waitingCount = 0;
  /** Checks of known pairs, first come first served. */
  private readonly first: Job[] = [];
  /** The others, per client address; the map's order is the round robin's. */
  private readonly lanes = new Map<string, Job[]>();

  constructor(private readonly maxRunning = MAX_RUNNING_CHECKS, private readonly maxWaiting = MAX_WAITING_CHECKS) {}

  get waiting(): number {
    return this.waitingCount;
  }

  get active(): number {
    return this.running;
  }

  /**
   * Run `check` when its turn comes. `addr`: whose check it is; `known`: a known pair's (served
   * first). Rejects with IW_ERR_AUTH_BUSY when there is no room, without running it.
   */
  run<T>(addr: string, known: boolean, check: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        lane: addr,
        run: () => {
          this.running++;
          check().then(resolve, reject).finally(() => {
            this.running--;
            this.next();
          });
        },
        refuse: reject,
      };
      if (this.running < this.maxRunning && this.waitingCount === 0) {
        job.run();
        return;
      }
      if (this.waitingCount >= this.maxWaiting && !this.makeRoomFor(job, known)) {
        reject(busy());
        return;
      }
      this.waitingCount++;
      if (known) this.first.push(job);
      else this.lanes.set(addr, [...(this.lanes.get(addr) ?? []), job]);
    });
  }

  /** Evict the newest check of the longest lane if the newcomer has a better claim to the room. */
  private makeRoomFor(job: Job, known: boolean): boolean {
    let longest: Job[] | undefined;
    let longestAddr = '';
    for (const [addr, jobs] of this.lanes) {
      if (longest === undefined || jobs.length > longest.length) {
        longest = jobs;
        longestAddr = addr;
      }
    }
    if (longest === undefined) return false;
    // a known pair's check may take the place of any other; an address's only of a longer lane's
    const own = known ? -1 : this.lanes.get(job.lane)?.length ?? 0;
    if (longest.length <= own + 1) return false;
    const evicted = longest.pop()!;
    if (longest.length === 0) this.lanes.delete(longestAddr);
    this.waitingCount--;
    evicted.refuse(busy());
    return true;
  }

  private next(): void {
    while (this.running < this.maxRunning && this.waitingCount > 0) {
      const job = this.first.shift() ?? this.takeFair();
      if (job === undefined) return;
      this.waitingCount--;
      job.run();
    }
  }

  /** The next address's oldest check; that address goes to the back of the round. */
  private takeFair(): Job | undefined {
    const entry = this.lanes.entries().next();
    if (entry.done === true) return undefined;
    const [addr, jobs] = entry.value;
    const job = jobs.shift();
    this.lanes.delete(addr);
    if (jobs.length > 0) this.lanes.set(addr, jobs);
    return job;
  }
}

function busy(): IcewireError {
  return new IcewireError('IW_ERR_AUTH_BUSY', { detail: 'the password check queue is full' });
}
