/**
 * Reads the TLS certificate and key that `--tls-cert` and `--tls-key` name, at start-up and again
 * on every reload, with errors that name the setting.
 * @module
 */
import type { Config } from "./config.ts";
import { readErrorReason } from "./read_error.ts";

/** A PEM certificate chain and its private key, as `Deno.serve` takes them. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

/** Reads both files; undefined when TLS is off. Throws a `RangeError` naming the setting. */
export async function readTlsMaterial(
  config: Pick<Config, "tlsCert" | "tlsKey">,
  action: "start" | "reload" = "start",
): Promise<TlsMaterial | undefined> {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const [cert, key] = await Promise.all([
    readPem("--tls-cert", config.tlsCert, action),
    readPem("--tls-key", config.tlsKey, action),
  ]);
  return { cert, key };
}

async function readPem(flag: string, path: string, action: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new RangeError(
      `Cannot ${action}: ${flag} ${path} cannot be read: ${readErrorReason(error, path)}`,
    );
  }
  if (!text.includes("-----BEGIN ")) {
    throw new RangeError(`Cannot ${action}: ${flag} ${path} is not a PEM file`);
  }
  return text;
}
