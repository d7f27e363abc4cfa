/**
 * The local Hub: this process's live connections by uid and by group, and delivery to them. It
 * knows nothing of other processes; a Broker decides which hubs a publication reaches and
 * Presence answers for all of them.
 * @module
 */
import type { Channel } from "./channel.ts";
import type { CloseCode } from "./errors.ts";
import type { Frame, StreamMessage, WireProtocol } from "./publication.ts";

/** One identified client connection, as the hub sees it: no socket, only what it needs. */
export interface Conn {
  /** Unique for the life of the process. */
  readonly id: number;
  readonly uid: string;
  /** The framing this connection speaks: which of a publication's encodings it is sent. */
  readonly protocol: WireProtocol;
  /**
   * Queues one frame. Returns false when the connection could not take it; it has then
   * closed itself (slow reader) or was already closed.
   */
  send(frame: Frame): boolean;
  /** Closes the connection with the given code; safe to call more than once. */
  close(close: CloseCode): void;
  /** Told when its uid is in `group` (on add, and on each join); may repeat. */
  joined?(group: string): void;
  /** Told when its uid left `group` while the connection stays. */
  left?(group: string): void;
}

/**
 * Told of every change to a hub, after it happened, so a cluster can mirror the hub's uids and
 * groups in a shared store. Calls are synchronous and must not throw.
 */
export interface HubObserver {
  /** `conn` was added; `hub.connectionsOf(conn.uid) === 1` means its uid just came online. */
  added(conn: Conn): void;
  /** `conn` was removed; `hub.connectionsOf(conn.uid) === 0` means its uid just went offline. */
  removed(conn: Conn): void;
  /** `uid` became a local member of `group`. */
  joined(uid: string, group: string): void;
  /** `uid` stopped being a local member of `group`, by `leave` or by going offline. */
  left(uid: string, group: string): void;
}

/**
 * The live connections of every local uid and the local members of every group.
 *
 * Connections are held only in a small Set per uid, never as keys of one Set of all of them:
 * a long-lived Set's tables left behind by churn keep what they held alive through young GCs,
 * which promoted every short-lived connection (see linked_list.ts). A uid's Set is emptied
 * before it is dropped, so a stale table keeps at most an empty Set.
 */
export class Hub {
  #connectionCount = 0;
  #observer: HubObserver | undefined;
  readonly #connsByUid = new Map<string, Set<Conn>>();
  readonly #uidsByGroup = new Map<string, Set<string>>();
  readonly #groupsByUid = new Map<string, Set<string>>();

  /** Identified connections. */
  get connectionCount(): number {
    return this.#connectionCount;
  }

  /** Uids with at least one connection. */
  get uidCount(): number {
    return this.#connsByUid.size;
  }

  /** Sets the one observer of this hub's changes (undefined: none); returns the previous one. */
  observe(observer: HubObserver | undefined): HubObserver | undefined {
    const previous = this.#observer;
    this.#observer = observer;
    return previous;
  }

  /** Registers an identified connection and joins its uid to `groups`. */
  add(conn: Conn, groups: readonly string[] = []): void {
    let conns = this.#connsByUid.get(conn.uid);
    if (conns === undefined) {
      conns = new Set();
      this.#connsByUid.set(conn.uid, conns);
    }
    if (conns.has(conn)) return;
    conns.add(conn);
    this.#connectionCount++;
    this.#observer?.added(conn);
    for (const group of groups) this.join(conn.uid, group);
    if (conn.joined !== undefined) {
      for (const group of this.#groupsByUid.get(conn.uid) ?? []) conn.joined(group);
    }
  }

  /**
   * Unregisters a connection. Returns true if it was registered. When the uid's last connection
   * goes, the uid leaves every group. Only this connection is touched, so a page reload whose new
   * socket identified first keeps the uid online.
   */
  remove(conn: Conn): boolean {
    const conns = this.#connsByUid.get(conn.uid);
    if (conns === undefined || !conns.delete(conn)) return false;
    this.#connectionCount--;
    if (conns.size === 0) {
      this.#connsByUid.delete(conn.uid);
      const groups = this.#groupsByUid.get(conn.uid) ?? [];
      this.#groupsByUid.delete(conn.uid);
      for (const group of groups) {
        this.#removeMember(group, conn.uid);
        this.#observer?.left(conn.uid, group);
      }
    }
    this.#observer?.removed(conn);
    return true;
  }

  /** Sends `message` to every local connection of `channel`; returns how many took it. */
  deliver(channel: Channel, message: StreamMessage): number {
    switch (channel.kind) {
      case "user":
        return this.#deliverToUid(channel.uid, message);
      case "group": {
        const members = this.#uidsByGroup.get(channel.group);
        if (members === undefined) return 0;
        let delivered = 0;
        for (const uid of members) delivered += this.#deliverToUid(uid, message);
        return delivered;
      }
      case "all": {
        let delivered = 0;
        // Deleting entries while iterating a Map or Set is allowed: a closing slow reader does.
        for (const conns of this.#connsByUid.values()) delivered += sendAll(conns, message);
        return delivered;
      }
    }
  }

  /** Adds a local uid to `group`. Returns false when the uid has no connection here. */
  join(uid: string, group: string): boolean {
    if (!this.#connsByUid.has(uid)) return false;
    let members = this.#uidsByGroup.get(group);
    if (members === undefined) {
      members = new Set();
      this.#uidsByGroup.set(group, members);
    }
    members.add(uid);
    let groups = this.#groupsByUid.get(uid);
    if (groups === undefined) {
      groups = new Set();
      this.#groupsByUid.set(uid, groups);
    }
    if (!groups.has(group)) {
      groups.add(group);
      this.#observer?.joined(uid, group);
      for (const conn of this.#connsByUid.get(uid)!) conn.joined?.(group);
    }
    return true;
  }

  /** Removes `uid` from `group`. Returns false when it was not a member. */
  leave(uid: string, group: string): boolean {
    const groups = this.#groupsByUid.get(uid);
    if (groups === undefined || !groups.delete(group)) return false;
    if (groups.size === 0) this.#groupsByUid.delete(uid);
    this.#removeMember(group, uid);
    this.#observer?.left(uid, group);
    for (const conn of this.#connsByUid.get(uid) ?? []) conn.left?.(group);
    return true;
  }

  /** Unregisters and closes every local connection of `uid`; returns how many there were. */
  kick(uid: string, close: CloseCode): number {
    const conns = [...this.#connsByUid.get(uid) ?? []];
    for (const conn of conns) {
      this.remove(conn);
      conn.close(close);
    }
    return conns.length;
  }

  /** Local connections of `uid` (0 when it has none here). */
  connectionsOf(uid: string): number {
    return this.#connsByUid.get(uid)?.size ?? 0;
  }

  /** Local uids, all or the members of `group`. */
  uids(group?: string): string[] {
    if (group === undefined) return [...this.#connsByUid.keys()];
    return [...this.#uidsByGroup.get(group) ?? []];
  }

  /** Local members of `group` and their connections. */
  groupCounts(group: string): { uids: number; connections: number } {
    const members = this.#uidsByGroup.get(group) ?? new Set<string>();
    let connections = 0;
    for (const uid of members) connections += this.connectionsOf(uid);
    return { uids: members.size, connections };
  }

  /** Local member count of every non-empty group. */
  groupSizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const [group, members] of this.#uidsByGroup) sizes[group] = members.size;
    return sizes;
  }

  #deliverToUid(uid: string, message: StreamMessage): number {
    const conns = this.#connsByUid.get(uid);
    return conns === undefined ? 0 : sendAll(conns, message);
  }

  #removeMember(group: string, uid: string): void {
    const members = this.#uidsByGroup.get(group);
    members?.delete(uid);
    if (members !== undefined && members.size === 0) this.#uidsByGroup.delete(group);
  }
}

function sendAll(conns: Iterable<Conn>, message: StreamMessage): number {
  let delivered = 0;
  // Most sockets speak one protocol: look the frame up again only when it changes.
  let protocol: WireProtocol | undefined;
  let frame: Frame | undefined;
  // A send may close a slow reader, which deletes it from `conns`: Set iteration allows that.
  for (const conn of conns) {
    if (conn.protocol !== protocol) {
      protocol = conn.protocol;
      frame = message.frame(protocol);
    }
    if (conn.send(frame!)) delivered++;
  }
  return delivered;
}

/**
 * The registry of this process: its one Hub, holding every live WebSocket connection by uid and
 * every local group membership. The WebSocket side adds and removes connections; the control and
 * HTTP sides reach it only through the Broker (delivery) and Presence (queries) built on it.
 */
export const hub: Hub = new Hub();
