/**
 * What a webhook URL must be, checked where it is configured and where it is used.
 * @module
 */

/** Why `url` cannot receive webhooks, as the end of a sentence naming it; undefined if it can. */
export function webhookUrlProblem(url: string): string | undefined {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    return `must be an http:// or https:// URL: current value is ${url}`;
  }
  if (parsed.username !== "" || parsed.password !== "") {
    // Not quoted: the password is a secret. fetch refuses such URLs anyway.
    return "must not carry a user or password: the signature proves the request comes from Herald";
  }
  return undefined;
}
