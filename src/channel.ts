/**
 * Where a publication goes. Every push names one of three kinds of channel; a Broker routes it to
 * the holders of that channel, and history (later) is kept per channel.
 * @module
 */

/** A uid's connections, a group's members' connections, or every connection. */
export type Channel =
  | { readonly kind: "user"; readonly uid: string }
  | { readonly kind: "group"; readonly group: string }
  | { readonly kind: "all" };

/** The channel's stable name: `user:<uid>`, `group:<name>` or `all` (keys, logs, streams). */
export function channelName(channel: Channel): string {
  switch (channel.kind) {
    case "user":
      return `user:${channel.uid}`;
    case "group":
      return `group:${channel.group}`;
    case "all":
      return "all";
  }
}

/** The channel of everything: one object, since nothing in it varies. */
export const ALL: Channel = Object.freeze({ kind: "all" });
