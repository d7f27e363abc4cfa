/**
 * Logging set-up: human-readable text or JSON lines on the console. Called once, by main.ts;
 * modules only call `getLogger`, so importing them configures nothing.
 * @module
 */
import { configure, getConsoleSink, getTextFormatter, jsonLinesFormatter } from "@logtape/logtape";
import type { LogFormat, LogLevel } from "./config.ts";

/** Routes every `herald` logger to the console at `level` and above; again on a reload. */
export async function setupLogging(level: LogLevel, format: LogFormat): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      console: getConsoleSink({
        formatter: format === "json"
          ? jsonLinesFormatter
          // Strings bare (uids, addresses), everything else inspected.
          : getTextFormatter({ value: (v, inspect) => typeof v === "string" ? v : inspect(v) }),
      }),
    },
    loggers: [
      { category: ["herald"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
