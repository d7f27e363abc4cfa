/**
 * The history of a single process, in memory: per stream a window of the last messages, all
 * streams together bounded in bytes, the oldest message evicted first.
 * @module
 */
import type { Clock } from "../rate_limiter.ts";
import type { Publication } from "../publication.ts";
import type {
  AppendOptions,
  HistoryEntry,
  HistoryStore,
  Recovery,
  StreamPosition,
} from "./history_store.ts";

/**
 * Memory one kept message costs beyond its payload: the entry object, its slots in the stream's
 * and the global queue. An estimate, counted so that --history-max-bytes bounds what is held.
 */
export const ENTRY_OVERHEAD_BYTES = 160;

/** Options of {@linkcode MemoryHistory}. */
export interface MemoryHistoryOptions {
  /** Messages kept per stream (--history-size); at least 1. */
  readonly maxEntries: number;
  /** Seconds a message is kept, and a stream nobody subscribes to any more (--history-ttl). */
  readonly ttlSeconds: number;
  /** Bytes all kept messages may hold together, payload and overhead (--history-max-bytes). */
  readonly maxBytes: number;
  /** @default Date.now */
  readonly clock?: Clock;
  /** Makes a new stream's epoch. @default a random prefix of this store and a counter */
  readonly newEpoch?: () => string;
}

/** One kept message with what eviction needs. */
interface Kept extends HistoryEntry {
  readonly stream: Stream;
  readonly bytes: number;
  readonly expiresAt: number;
  /** Pushed with a ttl while its uid had no connection: handed to the next one. */
  readonly mailbox: boolean;
  removed: boolean;
}

interface Stream {
  readonly name: string;
  readonly epoch: string;
  offset: number;
  /** Kept messages, oldest first, from index `head` on. */
  entries: Kept[];
  head: number;
  subscribers: number;
  /** When the last subscriber left (or the stream was made without one). */
  idleSince: number;
  /** Mailbox messages up to this offset were handed out already. */
  mailboxTaken: number;
}

/** A {@linkcode HistoryStore} in this process's memory. */
export class MemoryHistory implements HistoryStore {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #maxBytes: number;
  readonly #clock: Clock;
  readonly #newEpoch: () => string;
  readonly #streams = new Map<string, Stream>();
  /** Streams without subscribers: the ones a sweep may delete. */
  readonly #idle = new Set<Stream>();
  /** Every kept message in append order, from `#head` on; removed ones are skipped lazily. */
  #all: Kept[] = [];
  #head = 0;
  #count = 0;
  #bytes = 0;

  constructor(options: MemoryHistoryOptions) {
    for (const key of ["maxEntries", "ttlSeconds", "maxBytes"] as const) {
      if (!(Number.isInteger(options[key]) && options[key] >= 1)) {
        throw new RangeError(
          `Cannot create MemoryHistory: ${key} must be an integer >= 1: current value is ${
            options[key]
          }`,
        );
      }
    }
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#maxBytes = options.maxBytes;
    this.#clock = options.clock ?? Date.now;
    if (options.newEpoch !== undefined) {
      this.#newEpoch = options.newEpoch;
    } else {
      const prefix = crypto.randomUUID().slice(0, 8);
      let next = 0;
      this.#newEpoch = () => `${prefix}${(++next).toString(36)}`;
    }
  }

  /** Streams held. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Messages kept over all streams. */
  get entryCount(): number {
    return this.#count;
  }

  /** Bytes the kept messages count for, payload and overhead. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Answers at once, without a promise. */
  append(
    name: string,
    publication: Publication,
    options?: AppendOptions,
  ): StreamPosition | undefined {
    const ttlSeconds = options?.ttlSeconds;
    let stream = this.#streams.get(name);
    if (stream === undefined && ttlSeconds === undefined) return undefined;
    const now = this.#clock();
    if (stream === undefined) {
      stream = this.#create(name, now);
    } else if (
      ttlSeconds === undefined && stream.subscribers === 0 && now - stream.idleSince >= this.#ttlMs
    ) {
      return undefined; // Nobody subscribed within the ttl: nobody will resume from it.
    }
    this.#trimExpired(stream, now);
    // Characters, not UTF-8 bytes: what V8 holds for most payloads, and no encoding pass per push.
    const bytes = publication.payload.length + ENTRY_OVERHEAD_BYTES;
    const kept: Kept = {
      offset: ++stream.offset,
      publication,
      stream,
      bytes,
      expiresAt: now + Math.max(this.#ttlMs, (ttlSeconds ?? 0) * 1000),
      mailbox: ttlSeconds !== undefined,
      removed: false,
    };
    stream.entries.push(kept);
    this.#all.push(kept);
    this.#count++;
    this.#bytes += bytes;
    if (stream.entries.length - stream.head > this.#maxEntries) this.#removeFront(stream);
    while (this.#bytes > this.#maxBytes) this.#evictOldest();
    if (this.#all.length > 2 * this.#count + 1024) this.#compact();
    return { epoch: stream.epoch, offset: stream.offset };
  }

  subscribe(name: string): Promise<StreamPosition> {
    return Promise.resolve(this.subscribeNow(name));
  }

  /** {@linkcode subscribe} without the promise. */
  subscribeNow(name: string): StreamPosition {
    const stream = this.#streams.get(name) ?? this.#create(name, this.#clock());
    if (stream.subscribers++ === 0) this.#idle.delete(stream);
    return { epoch: stream.epoch, offset: stream.offset };
  }

  unsubscribe(name: string): void {
    const stream = this.#streams.get(name);
    if (stream === undefined || stream.subscribers === 0) return;
    if (--stream.subscribers === 0) {
      stream.idleSince = this.#clock();
      this.#idle.add(stream);
    }
  }

  since(name: string, since: StreamPosition): Promise<Recovery> {
    const stream = this.#streams.get(name) ?? this.#create(name, this.#clock());
    this.#trimExpired(stream, this.#clock());
    const position = { epoch: stream.epoch, offset: stream.offset };
    const first = stream.entries[stream.head]?.offset ?? stream.offset + 1;
    if (since.epoch !== stream.epoch || since.offset > stream.offset || since.offset + 1 < first) {
      return Promise.resolve({ recovered: false, entries: [], position });
    }
    const entries = stream.entries.slice(stream.head + (since.offset + 1 - first));
    return Promise.resolve({ recovered: true, entries, position });
  }

  takeMailbox(name: string): Promise<readonly HistoryEntry[]> {
    const stream = this.#streams.get(name);
    if (stream === undefined) return Promise.resolve([]);
    const now = this.#clock();
    this.#trimExpired(stream, now);
    const taken: HistoryEntry[] = [];
    for (let i = stream.head; i < stream.entries.length; i++) {
      const kept = stream.entries[i]!;
      if (kept.mailbox && kept.offset > stream.mailboxTaken && kept.expiresAt > now) {
        taken.push(kept);
      }
    }
    stream.mailboxTaken = stream.offset;
    return Promise.resolve(taken);
  }

  /**
   * Drops expired messages and deletes streams with nothing left and nobody subscribed for the
   * ttl. Appends and reads expire lazily; this bounds what an idle process keeps.
   */
  sweep(): void {
    const now = this.#clock();
    while (this.#head < this.#all.length) {
      const kept = this.#all[this.#head]!;
      if (!kept.removed) {
        // The oldest of all is its stream's front (both are in append order); a message with a
        // longer ttl holds back younger ones here, which expire on their stream's next read.
        if (kept.expiresAt > now) break;
        this.#removeFront(kept.stream);
      }
      this.#head++;
    }
    this.#compact();
    for (const stream of this.#idle) {
      if (now - stream.idleSince < this.#ttlMs) continue;
      this.#trimExpired(stream, now);
      if (stream.head === stream.entries.length) {
        this.#idle.delete(stream);
        this.#streams.delete(stream.name);
      }
    }
  }

  #create(name: string, now: number): Stream {
    const stream: Stream = {
      name,
      epoch: this.#newEpoch(),
      offset: 0,
      entries: [],
      head: 0,
      subscribers: 0,
      idleSince: now,
      mailboxTaken: 0,
    };
    this.#streams.set(name, stream);
    this.#idle.add(stream);
    return stream;
  }

  #trimExpired(stream: Stream, now: number): void {
    while (stream.head < stream.entries.length && stream.entries[stream.head]!.expiresAt <= now) {
      this.#removeFront(stream);
    }
  }

  #removeFront(stream: Stream): void {
    const kept = stream.entries[stream.head];
    if (kept === undefined) return;
    kept.removed = true;
    this.#count--;
    this.#bytes -= kept.bytes;
    stream.head++;
    if (stream.head === stream.entries.length) {
      stream.entries = [];
      stream.head = 0;
    } else if (stream.head >= 32 && stream.head * 2 >= stream.entries.length) {
      stream.entries = stream.entries.slice(stream.head);
      stream.head = 0;
    }
  }

  /** Removes the oldest message of all streams (over --history-max-bytes). */
  #evictOldest(): void {
    while (this.#head < this.#all.length) {
      const kept = this.#all[this.#head++]!;
      if (kept.removed) continue;
      // Appends are in time order, so the oldest message overall is its stream's oldest.
      this.#removeFront(kept.stream);
      break;
    }
  }

  /** Keeps the global queue within twice the messages kept (it also holds removed ones). */
  #compact(): void {
    const held = this.#all.length - this.#head;
    if (this.#head >= 1024 && this.#head * 2 >= this.#all.length) {
      this.#all = this.#all.slice(this.#head);
      this.#head = 0;
    } else if (held > 2 * this.#count + 1024) {
      this.#all = this.#all.filter((kept, i) => i >= this.#head && !kept.removed);
      this.#head = 0;
    }
  }
}
