/**
 * History streams: the last messages of every channel that a `herald.v1` client may resume from,
 * and the offline mailbox of pushes sent with a `ttl`. Kept behind {@linkcode HistoryStore} so a
 * store shared between nodes (Redis streams) can replace the in-memory one without changing the
 * Broker or the gateway; every method therefore answers with a promise.
 * @module
 */
import type { Awaitable } from "../awaitable.ts";
import type { Publication } from "../publication.ts";

/** Where a stream stands: its epoch and the offset of its last message (0 before the first). */
export interface StreamPosition {
  /** Random; a new epoch means continuity with older positions cannot be promised. */
  readonly epoch: string;
  readonly offset: number;
}

/** One kept message. */
export interface HistoryEntry {
  readonly offset: number;
  readonly publication: Publication;
}

/** What {@linkcode HistoryStore.append} needs besides the message. */
export interface AppendOptions {
  /**
   * Offline delivery: keep the message at least this many seconds even if nobody subscribed to
   * the stream, and hand it to the next connection of its uid ({@linkcode HistoryStore.takeMailbox}).
   */
  readonly ttlSeconds?: number;
}

/** What {@linkcode HistoryStore.since} found after a client's last position. */
export interface Recovery {
  /** True when every message after the position is among `entries`. */
  readonly recovered: boolean;
  /** The messages after the position still kept, oldest first; empty when not recovered. */
  readonly entries: readonly HistoryEntry[];
  /** The stream's position now. */
  readonly position: StreamPosition;
}

/** Kept messages per stream (`user:<uid>`, `group:<name>`, `all`). */
export interface HistoryStore {
  /**
   * Appends `publication` to `stream` and resolves with its position, or with undefined when the
   * stream is not kept: nobody subscribed to it now or within the history ttl, and no ttl given.
   * That is what makes history free for a deployment that never uses it. On the hot path of
   * every push, so a store that knows at once may answer without a promise.
   */
  append(
    stream: string,
    publication: Publication,
    options?: AppendOptions,
  ): StreamPosition | undefined | Promise<StreamPosition | undefined>;
  /** Marks one more subscriber of `stream` (creating it) and resolves with its position. */
  subscribe(stream: string): Promise<StreamPosition>;
  /** One subscriber less; the stream is kept for the history ttl, then deleted once empty. */
  unsubscribe(stream: string): void;
  /** The messages of `stream` after `since`, if they are all still kept. */
  since(stream: string, since: StreamPosition): Promise<Recovery>;
  /**
   * The offline messages (pushed with a ttl while the uid had no connection) of `stream` not
   * taken yet and not expired, oldest first; they are not handed out again. A store in this
   * process answers at once, so the commonest case, no mailbox, costs a connection no promise.
   */
  takeMailbox(stream: string): Awaitable<readonly HistoryEntry[]>;
}

/** The bounds every store takes from --history-size, --history-ttl and --history-max-bytes. */
export interface HistoryLimits {
  /** Messages kept per stream (--history-size); at least 1. */
  readonly maxEntries: number;
  /** Seconds a message is kept, and a stream nobody subscribes to any more (--history-ttl). */
  readonly ttlSeconds: number;
  /** Bytes of kept messages, payload and overhead (--history-max-bytes); the store says over what. */
  readonly maxBytes: number;
}

/** Throws unless every limit is an integer >= 1; `store` names the class being created. */
export function checkHistoryLimits(store: string, limits: HistoryLimits): void {
  for (const key of ["maxEntries", "ttlSeconds", "maxBytes"] as const) {
    if (!(Number.isInteger(limits[key]) && limits[key] >= 1)) {
      throw new RangeError(
        `Cannot create ${store}: ${key} must be an integer >= 1: current value is ${limits[key]}`,
      );
    }
  }
}

/** Makes stream epochs unique to one store: a random prefix and a counter. */
export function epochSource(): () => string {
  const prefix = crypto.randomUUID().slice(0, 8);
  let next = 0;
  return () => `${prefix}${(++next).toString(36)}`;
}
