/**
 * Which secrets Herald accepts: long enough for their use, never a placeholder we ship, and, as
 * a warning only, not obviously guessable. The verdicts describe a secret; they never quote it.
 * @module
 */

/**
 * What a secret is for: signing client tokens (HS256 keys), authenticating the control port or
 * the HTTP API (`api`), or signing webhooks (`webhook`). All but `token` need
 * {@linkcode MIN_CONTROL_SECRET_CHARS} characters.
 */
export type SecretUse = "token" | "control" | "api" | "webhook";

/** RFC 7518 §3.2: an HS256 key must be at least 256 bits long. */
const MIN_TOKEN_SECRET_BYTES = 32;

/** The control secret is only compared, never a key; 16 characters keep guessing out of reach. */
const MIN_CONTROL_SECRET_CHARS = 16;

/**
 * Every placeholder secret our examples and docs ship, current and past (an operator who
 * installed an older release still has its placeholders in /etc/herald/herald.json).
 */
const PLACEHOLDER_SECRETS: ReadonlySet<string> = new Set([
  "replace-with-at-least-16-random-characters",
  "replace-with-another-long-random-string",
  "replace-with-the-output-of-openssl-rand-base64-48",
  "replace-with-another-output-of-openssl-rand-base64-48",
]);

/** Words that make a secret guessable wherever they appear in it. */
const GUESSABLE_WORDS = [
  "secret",
  "password",
  "passwd",
  "changeme",
  "herald",
  "example",
  "replace",
  "admin",
  "qwerty",
  "letmein",
  "123456",
  "abcdef",
];

/** A random secret of the minimum length has more distinct characters than this. */
const MIN_DISTINCT_CHARACTERS = 8;

/** Why `secret` cannot be used for `use`, or undefined when it can. */
export function secretRefusal(use: SecretUse, secret: string): string | undefined {
  if (secret === "") return "is empty";
  if (PLACEHOLDER_SECRETS.has(secret)) {
    return "is the placeholder from the shipped example: replace it with a random secret " +
      "(openssl rand -base64 48)";
  }
  if (use === "token") {
    const bytes = new TextEncoder().encode(secret).length;
    if (bytes < MIN_TOKEN_SECRET_BYTES) {
      return `must be at least ${MIN_TOKEN_SECRET_BYTES} bytes (RFC 7518: an HS256 key has ` +
        `256 bits or more): current length is ${bytes} bytes`;
    }
  } else if (secret.length < MIN_CONTROL_SECRET_CHARS) {
    return `must be at least ${MIN_CONTROL_SECRET_CHARS} characters long: ` +
      `current length is ${secret.length}`;
  }
  return undefined;
}

/** Why `secret` looks guessable though long enough, or undefined when nothing stands out. */
export function secretWeakness(secret: string): string | undefined {
  const period = /^(.+?)\1+$/s.exec(secret)?.[1]?.length;
  if (period !== undefined) return `it is one ${period}-character piece repeated`;
  const distinct = new Set(secret).size;
  if (distinct < MIN_DISTINCT_CHARACTERS) return `it uses only ${distinct} distinct characters`;
  const lower = secret.toLowerCase();
  // The word stays unnamed: naming it would log part of the secret.
  if (GUESSABLE_WORDS.some((w) => lower.includes(w))) return "it contains a common word";
  return undefined;
}
