/**
 * Who is online: uid → live connections, group → uids. Shared by the WebSocket side, which adds
 * and removes connections, and the command side, which delivers and queries.
 * @module
 */
import type { CloseCode } from "./errors.ts";
import type { Frame } from "./frame.ts";

/** One identified client connection, as the registry sees it: no socket, only what it needs. */
export interface Conn {
  /** Unique for the life of the process. */
  readonly id: number;
  readonly uid: string;
  /**
   * Queues one frame. Returns false when the connection could not take it; it has then
   * closed itself (slow reader) or was already closed.
   */
  send(frame: Frame): boolean;
  /** Closes the connection with the given code; safe to call more than once. */
  close(close: CloseCode): void;
}

/** The live connections of every uid and the members of every group. */
export class Registry {
  readonly #all = new Set<Conn>();
  readonly #connsByUid = new Map<string, Set<Conn>>();
  readonly #uidsByGroup = new Map<string, Set<string>>();
  readonly #groupsByUid = new Map<string, Set<string>>();

  /** Identified connections. */
  get connectionCount(): number {
    return this.#all.size;
  }

  /** Uids with at least one connection. */
  get uidCount(): number {
    return this.#connsByUid.size;
  }

  /** Registers an identified connection and joins its uid to `groups`. */
  add(conn: Conn, groups: readonly string[] = []): void {
    this.#all.add(conn);
    let conns = this.#connsByUid.get(conn.uid);
    if (conns === undefined) {
      conns = new Set();
      this.#connsByUid.set(conn.uid, conns);
    }
    conns.add(conn);
    for (const group of groups) this.join(conn.uid, group);
  }

  /**
   * Unregisters a connection. Returns true if it was registered. When the uid's last connection
   * goes, the uid leaves every group. Only this connection is touched, so a page reload whose new
   * socket identified first keeps the uid online.
   */
  remove(conn: Conn): boolean {
    if (!this.#all.delete(conn)) return false;
    const conns = this.#connsByUid.get(conn.uid);
    conns?.delete(conn);
    if (conns !== undefined && conns.size === 0) {
      this.#connsByUid.delete(conn.uid);
      for (const group of this.#groupsByUid.get(conn.uid) ?? []) {
        this.#removeMember(group, conn.uid);
      }
      this.#groupsByUid.delete(conn.uid);
    }
    return true;
  }

  /** Sends `frame` to every connection of `uid`; returns how many took it. */
  sendToUid(uid: string, frame: Frame): number {
    const conns = this.#connsByUid.get(uid);
    return conns === undefined ? 0 : sendAll(conns, frame);
  }

  /** Sends `frame` to every connection of each distinct uid in `uids`. */
  sendToUids(uids: readonly string[], frame: Frame): number {
    let delivered = 0;
    for (const uid of new Set(uids)) delivered += this.sendToUid(uid, frame);
    return delivered;
  }

  /** Sends `frame` to every connection of every member of `group`. */
  publish(group: string, frame: Frame): number {
    const members = this.#uidsByGroup.get(group);
    if (members === undefined) return 0;
    let delivered = 0;
    for (const uid of members) delivered += this.sendToUid(uid, frame);
    return delivered;
  }

  /** Sends `frame` to every identified connection. */
  broadcast(frame: Frame): number {
    return sendAll(this.#all, frame);
  }

  /** Adds an online uid to `group`. Returns false when the uid is offline. */
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
    groups.add(group);
    return true;
  }

  /** Removes `uid` from `group`. Returns false when it was not a member. */
  leave(uid: string, group: string): boolean {
    const groups = this.#groupsByUid.get(uid);
    if (groups === undefined || !groups.delete(group)) return false;
    if (groups.size === 0) this.#groupsByUid.delete(uid);
    this.#removeMember(group, uid);
    return true;
  }

  /** Unregisters and closes every connection of `uid`; returns how many there were. */
  kick(uid: string, close: CloseCode): number {
    const conns = [...this.#connsByUid.get(uid) ?? []];
    for (const conn of conns) {
      this.remove(conn);
      conn.close(close);
    }
    return conns.length;
  }

  /** Live connections of `uid` (0 when offline). */
  connectionsOf(uid: string): number {
    return this.#connsByUid.get(uid)?.size ?? 0;
  }

  /** Online uids, all or those of `group`. */
  uids(group?: string): string[] {
    if (group === undefined) return [...this.#connsByUid.keys()];
    return [...this.#uidsByGroup.get(group) ?? []];
  }

  /** Members of `group` and their live connections. */
  groupCounts(group: string): { uids: number; connections: number } {
    const members = this.#uidsByGroup.get(group) ?? new Set<string>();
    let connections = 0;
    for (const uid of members) connections += this.connectionsOf(uid);
    return { uids: members.size, connections };
  }

  /** Member count of every non-empty group. */
  groupSizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const [group, members] of this.#uidsByGroup) sizes[group] = members.size;
    return sizes;
  }

  #removeMember(group: string, uid: string): void {
    const members = this.#uidsByGroup.get(group);
    members?.delete(uid);
    if (members !== undefined && members.size === 0) this.#uidsByGroup.delete(group);
  }
}

function sendAll(conns: Iterable<Conn>, frame: Frame): number {
  let delivered = 0;
  // A send may close a slow reader, which deletes it from `conns`: Set iteration allows that.
  for (const conn of conns) if (conn.send(frame)) delivered++;
  return delivered;
}

/** The one registry the WebSocket and control transports of this process share. */
export const registry: Registry = new Registry();
