// Minting a Herald client token in Node.js: an HS256 JWT made with node:crypto, no library.
// Your backend signs one per page view and hands it to the page, which sends it to Herald.
//
//   HERALD_SECRET=... node herald_token.mjs <uid> [ttl-seconds] [group,group]
import { createHmac } from "node:crypto";
import { fileURLToPath } from "node:url";

const base64url = (data) => Buffer.from(data).toString("base64url");

/** A token for `uid`, valid for `ttl` seconds, joining `groups` (an array of strings). */
export function heraldToken(secret, uid, ttl = 3600, groups = []) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: uid, iat: now, exp: now + ttl, ...(groups.length > 0 ? { groups } : {}) };
  const signed = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${
    base64url(JSON.stringify(claims))
  }`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [uid, ttl = "3600", groups = ""] = process.argv.slice(2);
  const secret = process.env.HERALD_SECRET;
  if (uid === undefined || process.argv.length > 5 || !secret) {
    console.error(
      "usage: HERALD_SECRET=... node herald_token.mjs <uid> [ttl-seconds] [group,group]",
    );
    process.exit(2);
  }
  console.log(heraldToken(secret, uid, Number(ttl), groups === "" ? [] : groups.split(",")));
}
