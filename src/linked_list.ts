/**
 * An insertion-ordered list for objects that come and go by the thousand, such as sockets.
 *
 * Why not a `Set`: as entries churn, V8 moves a Set's table into a new one, and the table left
 * behind keeps pointing at what it held. Once the Set lives in the old generation, that dead
 * table is a root for every young-generation GC until the next full one, so it keeps each
 * socket's whole object graph alive long enough to be promoted: under connection churn Herald
 * promoted about 4 KB per connection and spent 3x the reference server's time in scavenges
 * (docs/benchmarks.md). An entry removed from this list is unlinked and forgets its value, so
 * nothing dead points at a live socket.
 * @module
 */

/** Where a value sits in a {@linkcode LinkedList}: what {@linkcode LinkedList.remove} takes. */
export class ListEntry<T> {
  /** The value; undefined once the entry is removed. */
  value: T | undefined;
  /** Links owned by the list. */
  prev: ListEntry<T> | undefined = undefined;
  next: ListEntry<T> | undefined = undefined;

  constructor(value: T) {
    this.value = value;
  }
}

/** Values (never undefined) in the order they were pushed, each removed in O(1) by its entry. */
export class LinkedList<T> {
  #head: ListEntry<T> | undefined;
  #tail: ListEntry<T> | undefined;
  #size = 0;

  /** Values in the list. */
  get size(): number {
    return this.#size;
  }

  /** The oldest value, or undefined when the list is empty. */
  get first(): T | undefined {
    return this.#head?.value;
  }

  /** Appends `value`; keep the entry to remove it. */
  push(value: T): ListEntry<T> {
    const entry = new ListEntry(value);
    entry.prev = this.#tail;
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    this.#size++;
    return entry;
  }

  /** Removes and returns the oldest value, or undefined when the list is empty. */
  shift(): T | undefined {
    const head = this.#head;
    if (head === undefined) return undefined;
    const value = head.value;
    this.remove(head);
    return value;
  }

  /** Removes `entry`'s value; an entry removed already, or undefined, is ignored. */
  remove(entry: ListEntry<T> | undefined): void {
    if (entry === undefined || entry.value === undefined) return;
    const { prev, next } = entry;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    entry.value = undefined;
    entry.prev = undefined;
    entry.next = undefined;
    this.#size--;
  }

  /** The values now, oldest first: safe to act on while they remove themselves. */
  values(): T[] {
    const values: T[] = [];
    for (let entry = this.#head; entry !== undefined; entry = entry.next) {
      values.push(entry.value!);
    }
    return values;
  }

  /** Removes every value. */
  clear(): void {
    while (this.#head !== undefined) this.remove(this.#head);
  }
}
