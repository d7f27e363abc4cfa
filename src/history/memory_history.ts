/**
 * The history of a single process, in memory: per stream a window of the last messages, all
 * streams together bounded in bytes, the oldest message evicted first.
 * @module
 */
import type { Clock } from "../rate_limiter.ts";
import type { Publication } from "../publication.ts";
import {
  type AppendOptions,
  checkHistoryLimits,
  epochSource,
  type HistoryEntry,
  type HistoryLimits,
  type HistoryStore,
  type Recovery,
  type StreamPosition,
} from "./history_store.ts";

/**
 * Memory one kept message costs beyond its payload: its slots in the stream's arrays and in the
 * global append order. An estimate, counted so that --history-max-bytes bounds what is held.
 */
export const ENTRY_OVERHEAD_BYTES = 64;

/** Options of {@linkcode MemoryHistory}. */
export interface MemoryHistoryOptions extends HistoryLimits {
  /** @default Date.now */
  readonly clock?: Clock;
  /** Makes a new stream's epoch. @default a random prefix of this store and a counter */
  readonly newEpoch?: () => string;
}

/**
 * One stream. Its kept messages sit in parallel arrays from index `head` on, the one at `head`
 * having offset `first`: no object per message, since a full history holds hundreds of
 * thousands and each would cost the garbage collector on every push.
 */
interface Stream {
  readonly name: string;
  readonly epoch: string;
  /** Offset of the last message appended (0 before the first). */
  offset: number;
  /** Offset of the oldest message kept (`offset + 1` when none is). */
  first: number;
  publications: (Publication | undefined)[];
  expiresAt: number[];
  head: number;
  /** Offsets of kept messages pushed with a ttl for an offline uid. */
  mailbox: Set<number> | undefined;
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
  /**
   * Every kept message in append order as (stream, offset), from `#head` on; those their stream
   * dropped already (offset below its `first`) are skipped lazily.
   */
  #allStreams: Stream[] = [];
  #allOffsets: number[] = [];
  #head = 0;
  #count = 0;
  #bytes = 0;

  constructor(options: MemoryHistoryOptions) {
    checkHistoryLimits("MemoryHistory", options);
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#maxBytes = options.maxBytes;
    this.#clock = options.clock ?? Date.now;
    this.#newEpoch = options.newEpoch ?? epochSource();
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
    const offset = ++stream.offset;
    stream.publications.push(publication);
    stream.expiresAt.push(now + Math.max(this.#ttlMs, (ttlSeconds ?? 0) * 1000));
    if (ttlSeconds !== undefined) (stream.mailbox ??= new Set()).add(offset);
    this.#allStreams.push(stream);
    this.#allOffsets.push(offset);
    this.#count++;
    this.#bytes += bytesOf(publication);
    if (stream.publications.length - stream.head > this.#maxEntries) this.#removeFront(stream);
    while (this.#bytes > this.#maxBytes) this.#evictOldest();
    const held = this.#allStreams.length - this.#head;
    if (held > 2 * this.#count + 1024 || this.#head > held + 1024) this.#compact();
    return { epoch: stream.epoch, offset: stream.offset };
  }

  subscribe(name: string): Promise<StreamPosition> {
    const stream = this.#streams.get(name) ?? this.#create(name, this.#clock());
    if (stream.subscribers++ === 0) this.#idle.delete(stream);
    return Promise.resolve({ epoch: stream.epoch, offset: stream.offset });
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
    const first = stream.first;
    if (since.epoch !== stream.epoch || since.offset > stream.offset || since.offset + 1 < first) {
      return Promise.resolve({ recovered: false, entries: [], position });
    }
    const entries: HistoryEntry[] = [];
    for (let offset = since.offset + 1; offset <= stream.offset; offset++) {
      entries.push({ offset, publication: stream.publications[stream.head + offset - first]! });
    }
    return Promise.resolve({ recovered: true, entries, position });
  }

  takeMailbox(name: string): readonly HistoryEntry[] {
    const stream = this.#streams.get(name);
    if (stream === undefined) return NO_ENTRIES;
    const now = this.#clock();
    this.#trimExpired(stream, now);
    const taken: HistoryEntry[] = [];
    for (const offset of stream.mailbox ?? []) {
      const index = stream.head + offset - stream.first;
      if (offset > stream.mailboxTaken && stream.expiresAt[index]! > now) {
        taken.push({ offset, publication: stream.publications[index]! });
      }
    }
    stream.mailboxTaken = stream.offset;
    return taken;
  }

  /**
   * Drops expired messages and deletes streams with nothing left and nobody subscribed for the
   * ttl. Appends and reads expire lazily; this bounds what an idle process keeps.
   */
  sweep(): void {
    const now = this.#clock();
    while (this.#head < this.#allStreams.length) {
      const stream = this.#allStreams[this.#head]!;
      if (this.#allOffsets[this.#head]! >= stream.first) {
        // The oldest of all is its stream's front (both are in append order); a message with a
        // longer ttl holds back younger ones here, which expire on their stream's next read.
        if (stream.expiresAt[stream.head]! > now) break;
        this.#removeFront(stream);
      }
      this.#head++;
    }
    const held = this.#allStreams.length - this.#head;
    if (held > 2 * this.#count + 1024 || this.#head > held) this.#compact();
    for (const stream of this.#idle) {
      if (now - stream.idleSince < this.#ttlMs) continue;
      this.#trimExpired(stream, now);
      if (stream.first > stream.offset) {
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
      first: 1,
      publications: [],
      expiresAt: [],
      head: 0,
      mailbox: undefined,
      subscribers: 0,
      idleSince: now,
      mailboxTaken: 0,
    };
    this.#streams.set(name, stream);
    this.#idle.add(stream);
    return stream;
  }

  #trimExpired(stream: Stream, now: number): void {
    while (stream.first <= stream.offset && stream.expiresAt[stream.head]! <= now) {
      this.#removeFront(stream);
    }
  }

  #removeFront(stream: Stream): void {
    if (stream.first > stream.offset) return;
    this.#count--;
    this.#bytes -= bytesOf(stream.publications[stream.head]!);
    stream.publications[stream.head] = undefined;
    stream.mailbox?.delete(stream.first);
    if (stream.mailbox?.size === 0) stream.mailbox = undefined;
    stream.head++;
    stream.first++;
    if (stream.first > stream.offset) {
      stream.publications = [];
      stream.expiresAt = [];
      stream.head = 0;
    } else if (stream.head >= 32 && stream.head * 2 >= stream.publications.length) {
      stream.publications = stream.publications.slice(stream.head);
      stream.expiresAt = stream.expiresAt.slice(stream.head);
      stream.head = 0;
    }
  }

  /** Removes the oldest message of all streams (over --history-max-bytes). */
  #evictOldest(): void {
    while (this.#head < this.#allStreams.length) {
      const stream = this.#allStreams[this.#head]!;
      const offset = this.#allOffsets[this.#head++]!;
      if (offset < stream.first) continue;
      // Appends are in time order, so the oldest message overall is its stream's oldest.
      this.#removeFront(stream);
      break;
    }
  }

  /** Keeps the global order within twice the messages kept (it also holds dropped ones). */
  #compact(): void {
    const streams: Stream[] = [];
    const offsets: number[] = [];
    for (let i = this.#head; i < this.#allStreams.length; i++) {
      const stream = this.#allStreams[i]!;
      const offset = this.#allOffsets[i]!;
      if (offset >= stream.first) {
        streams.push(stream);
        offsets.push(offset);
      }
    }
    this.#allStreams = streams;
    this.#allOffsets = offsets;
    this.#head = 0;
  }
}

/** What one kept message counts for: payload characters (what V8 holds for most) and overhead. */
function bytesOf(publication: Publication): number {
  return publication.payload.length + ENTRY_OVERHEAD_BYTES;
}

const NO_ENTRIES: readonly HistoryEntry[] = Object.freeze([]);
