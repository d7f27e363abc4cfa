/**
 * A strict reader of the Prometheus text format, for tests: it reads back what we render and
 * throws on anything a Prometheus server would refuse, so tests check the output, not our intent.
 * @module
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A whole exposition, read back. */
export interface Exposition {
  /** Metric family → HELP text, unescaped. */
  readonly help: ReadonlyMap<string, string>;
  /** Metric family → TYPE. */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

/** Parses `text`; throws an Error naming the line on the first thing that is not valid. */
export function parseExposition(text: string): Exposition {
  if (text !== "" && !text.endsWith("\n")) throw new Error("Exposition must end with a newline");
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n").slice(0, -1)) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment !== null) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      if (kind === "HELP") help.set(name, unescape(rest, false));
      else if (["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) {
        if (types.has(name)) throw new Error(`Second TYPE for ${name}: ${line}`);
        types.set(name, rest);
      } else throw new Error(`Bad TYPE: ${line}`);
      continue;
    }
    const sample = parseSample(line);
    const family = types.has(sample.name) ? sample.name : sample.name.replace(HISTOGRAM_SUFFIX, "");
    if (!types.has(family)) throw new Error(`Sample before its TYPE line: ${line}`);
    samples.push(sample);
  }
  return { help, types, samples };
}

/** The value of the one sample named `name` with exactly `labels`; throws if there is none. */
export function valueOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const found = exposition.samples.filter((s) =>
    s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted
  );
  if (found.length !== 1) {
    throw new Error(`Expected one sample ${name} ${wanted}: found ${found.length}`);
  }
  return found[0]!.value;
}

function parseSample(line: string): Sample {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) throw new Error(`Bad sample line: ${line}`);
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    while (line[i] !== "}") {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (label === null) throw new Error(`Bad label at ${i}: ${line}`);
      i += label[0].length;
      let raw = "";
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error(`Unterminated label value: ${line}`);
        if (line[i] === "\\") raw += line[i++];
        raw += line[i++];
      }
      i++;
      if (label[1]! in labels) throw new Error(`Repeated label ${label[1]}: ${line}`);
      labels[label[1]!] = unescape(raw, true);
      if (line[i] === ",") i++;
      else if (line[i] !== "}") throw new Error(`Expected , or } at ${i}: ${line}`);
    }
    i++;
  }
  const value = /^ (\S+)$/.exec(line.slice(i))?.[1];
  if (value === undefined) throw new Error(`Bad sample value: ${line}`);
  return { name, labels, value: parseNumber(value, line) };
}

function parseNumber(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = Number(text);
  if (text === "" || Number.isNaN(value)) throw new Error(`Bad number "${text}": ${line}`);
  return value;
}

/** Undoes the format's escapes: `\\`, `\n`, and in label values `\"`. */
function unescape(text: string, quotes: boolean): string {
  return text.replace(/\\(.)/g, (escape, char: string) => {
    if (char === "\\") return "\\";
    if (char === "n") return "\n";
    if (char === '"' && quotes) return '"';
    throw new Error(`Bad escape ${escape} in ${text}`);
  });
}
