import { readFileSync } from "node:fs";

/** hookline's version, from package.json (also sent as user-agent: hookline/<version>). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** The user-agent of every webhook request. */
export const USER_AGENT = `hookline/${VERSION}`;
