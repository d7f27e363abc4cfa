/**
 * The hub's view of one identified WebSocket, with the slow-reader bound on its send queue.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { CLOSE, type CloseCode } from "../errors.ts";
import type { Conn } from "../hub.ts";
import type { Frame, WireProtocol } from "../publication.ts";
import type { UnsentBudget, UnsentHolder } from "./unsent_budget.ts";

const log = getLogger(["herald", "ws"]);
/**
 * Native memory one queued frame costs in Deno 2.9.6 beyond its payload, measured; exported for
 * tests/deno_runtime_test.ts, which re-measures it (scripts/measure_frame_overhead.ts).
 */
export const FRAME_OVERHEAD_BYTES = 1400;
/** Marks a socket keeps to count its unsent frames: a slow reader is closed after ~16 checks. */
const MAX_MARKS = 32;
/** Read once: Deno's `WebSocket` global is a getter, a call on every send otherwise. */
const { OPEN, CLOSING, CLOSED } = WebSocket;

/** Bounds on what one socket may leave unsent. */
export interface SendLimits {
  /** Payload bytes queued but not yet written to the socket. */
  readonly maxUnsentBytes: number;
  /** Frames queued but not yet written; each costs ~1.4 KiB of native memory in Deno. */
  readonly maxUnsentFrames: number;
  /** The bound on what all sockets hold together; this socket reports into it. */
  readonly unsentBudget: UnsentBudget;
}

/** A `Conn` over a Deno `WebSocket` that closes itself, 1013, when its reader falls behind. */
export class WsConn implements Conn, UnsentHolder {
  readonly id: number;
  readonly uid: string;
  readonly protocol: WireProtocol;
  /** Set by the session of a framed socket: its streams follow the uid's groups. */
  joined?: (group: string) => void;
  left?: (group: string) => void;
  readonly #socket: WebSocket;
  readonly #limits: SendLimits;
  readonly #onClose: (conn: WsConn, close: CloseCode) => void;
  /** What this socket held when Herald closed it; Deno stops telling once it is CLOSING. */
  #heldAtClose = 0;
  #closed = false;
  /** Frames and payload bytes queued since the socket opened. */
  #queuedFrames = 0;
  #queuedBytes = 0;
  /** The same totals when the bounds were last checked. */
  #checkedFrames = 0;
  #checkedBytes = 0;
  /** Frames known to be written: those queued before a mark whose bytes are all written. */
  #writtenFrames = 0;
  /** Queued totals at earlier checks, oldest first, none of them known to be written yet. */
  #marks: QueuedMark[] | undefined;
  /** Pushes held back while the session replays history or hands over the mailbox. */
  #held: Frame[] | undefined;

  /** `onClose` runs once, when Herald closes the socket (not when the peer does), with the code. */
  constructor(
    id: number,
    uid: string,
    socket: WebSocket,
    limits: SendLimits,
    onClose: (conn: WsConn, close: CloseCode) => void,
    protocol: WireProtocol = "plain",
  ) {
    this.id = id;
    this.uid = uid;
    this.protocol = protocol;
    this.#socket = socket;
    this.#limits = limits;
    this.#onClose = onClose;
  }

  send(frame: Frame): boolean {
    if (this.#held !== undefined) {
      if (this.#closed) return false;
      if (this.#held.length >= this.#limits.maxUnsentFrames) {
        log.warn(
          "Closing socket #{id} of {uid}: slow reader ({frames} pushes held during replay)",
          {
            id: this.id,
            uid: this.uid,
            frames: this.#held.length,
          },
        );
        this.close(CLOSE.slowReader);
        return false;
      }
      this.#held.push(frame);
      return true;
    }
    return this.write(frame);
  }

  /**
   * Holds pushes back (they count as taken) until {@linkcode resume}: the session sends what
   * came before them first, with {@linkcode write}.
   */
  hold(): void {
    this.#held ??= [];
  }

  /**
   * Sends the held pushes and stops holding. A framed push whose offset is at or below `sent`'s
   * entry for its stream went out in the replay already and is skipped, so none is duplicated.
   */
  resume(sent?: ReadonlyMap<string, number>): void {
    const held = this.#held;
    this.#held = undefined;
    for (const frame of held ?? []) {
      const last = frame.offset === undefined ? undefined : sent?.get(frame.stream!);
      if (last !== undefined && frame.offset! <= last) continue;
      if (!this.write(frame)) return;
    }
  }

  /** Queues `frame` now, past any hold: what Herald itself says to this socket. */
  write(frame: Frame): boolean {
    // A socket whose peer has sent its close is CLOSING before its close event reaches us, and
    // WebSocket.send() silently drops data then: refuse, so `delivered` never counts a drop.
    if (this.#closed || this.#socket.readyState !== OPEN) return false;
    // Reading bufferedAmount is a call into the runtime, the dearest part of a send: check the
    // bounds once per 1/16 of them, so they hold to within about 6 %.
    if (
      this.#queuedFrames - this.#checkedFrames >= this.#limits.maxUnsentFrames >> 4 ||
      this.#queuedBytes + frame.bytes - this.#checkedBytes > this.#limits.maxUnsentBytes >> 4
    ) {
      if (!this.#withinBounds(frame)) return false;
    }
    this.#socket.send(frame.text);
    this.#queuedFrames++;
    this.#queuedBytes += frame.bytes;
    return true;
  }

  /** Checks that queueing `frame` keeps this socket within its bounds; closes it (1013) if not. */
  #withinBounds(frame: Frame): boolean {
    this.#checkedFrames = this.#queuedFrames;
    this.#checkedBytes = this.#queuedBytes;
    const unsentBytes = this.#socket.bufferedAmount;
    const unsentFrames = this.#countUnsentFrames(unsentBytes);
    if (
      unsentBytes + frame.bytes > this.#limits.maxUnsentBytes ||
      unsentFrames >= this.#limits.maxUnsentFrames
    ) {
      log.warn(
        "Closing socket #{id} of {uid}: slow reader ({bytes} bytes, {frames} frames unsent)",
        { id: this.id, uid: this.uid, bytes: unsentBytes, frames: unsentFrames },
      );
      this.close(CLOSE.slowReader);
      return false;
    }
    this.#limits.unsentBudget.report(
      this,
      unsentBytes + frame.bytes + (unsentFrames + 1) * FRAME_OVERHEAD_BYTES,
    );
    return !this.#closed; // Reporting may have shed this very socket.
  }

  /** Bytes this socket holds in unsent frames, payload and overhead, measured now. */
  measure(): number {
    if (this.#closed) return this.#heldAtClose;
    const unsentBytes = this.#socket.bufferedAmount;
    return unsentBytes + this.#countUnsentFrames(unsentBytes) * FRAME_OVERHEAD_BYTES;
  }

  shed(): void {
    if (this.#closed) return;
    log.warn("Closing socket #{id} of {uid}: slow reader (--max-unsent-total-bytes reached)", {
      id: this.id,
      uid: this.uid,
    });
    this.close(CLOSE.slowReader);
  }

  /** Stops counting this socket's memory: Deno has released the socket. */
  release(): void {
    this.#closed = true;
    this.#limits.unsentBudget.forget(this);
  }

  close(close: CloseCode): void {
    if (this.#closed) return;
    this.#heldAtClose = this.measure();
    this.#closed = true;
    // Unregister now: a peer that never answers our close would keep the socket CLOSING forever.
    this.#onClose(this, close);
    closeSocket(this.#socket, close);
  }

  /**
   * Deno tells unsent bytes, not frames, and remembering every frame's size cost a tenth of a
   * push. Frames are written oldest first, so once the bytes queued before a mark are written,
   * so are its frames: the count is exact when nothing is unsent and otherwise overstates by
   * at most the frames between two checks (1/16 of the bound). Records a mark for later calls.
   */
  #countUnsentFrames(unsentBytes: number): number {
    if (unsentBytes === 0) {
      this.#marks = undefined;
      this.#writtenFrames = this.#queuedFrames;
      return 0;
    }
    const writtenBytes = this.#queuedBytes - unsentBytes;
    const marks = this.#marks ??= [];
    let proven = 0;
    while (proven < marks.length && marks[proven]!.bytes <= writtenBytes) {
      this.#writtenFrames = marks[proven++]!.frames;
    }
    marks.splice(0, proven);
    if (marks.length === MAX_MARKS) marks.shift(); // Fewer marks only overstate more.
    if (marks.at(-1)?.frames !== this.#queuedFrames) {
      marks.push({ frames: this.#queuedFrames, bytes: this.#queuedBytes });
    }
    return this.#queuedFrames - this.#writtenFrames;
  }
}

/** Frames and bytes queued on a socket up to some moment. */
interface QueuedMark {
  readonly frames: number;
  readonly bytes: number;
}

/** Closes a socket whatever its state; a socket already closing is left alone. */
export function closeSocket(socket: WebSocket, close: CloseCode): void {
  if (socket.readyState === CLOSING || socket.readyState === CLOSED) return;
  try {
    socket.close(close.code, close.reason);
  } catch {
    // Only a CONNECTING socket throws here; the session closes it again on open.
  }
}
