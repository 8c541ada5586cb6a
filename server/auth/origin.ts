// Which web pages may open a broadcast connection: a page's Origin against the daemon's own
// address, publicUrl and allowedOrigins. Non-browser clients send no Origin.
import type { Config } from '../config/schema.js';

/** Pure: may a page from `origin` open a broadcast socket on a daemon reached as `host`? */
export function originAllowed(origin: string | undefined, host: string | undefined, cfg: Pick<Config, 'allowedOrigins' | 'publicUrl'>): boolean {
  // Non-browser webcast clients (Liquidsoap, butt-like tools) send no Origin; browsers always do.
  if (origin === undefined) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  // compare serialised origins: "https://Studio.Example.org:443" in the config is the browser's
  // "https://studio.example.org"
  if (cfg.allowedOrigins.some((a) => URL.canParse(a) && new URL(a).origin === o.origin)) return true;
  if (cfg.publicUrl !== undefined && new URL(cfg.publicUrl).origin === o.origin) return true;
  return host !== undefined && o.host === host;
}
