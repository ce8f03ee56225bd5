// Service logos: the brand's own mark from the `simple-icons` package (CC0) where the brand has
// one, a neutral glyph for built-ins and brands without one — never a letter (three services start
// with G). Only the icons named here are bundled (named imports are tree-shaken).
import {
  siDiscord,
  siGithub,
  siGmail,
  siGoogledrive,
  siInstagram,
  siNasa,
  siNetflix,
  siNtfy,
  siPinterest,
  siPostman,
  siRevolut,
  siRiotgames,
  siRss,
  siSpotify,
  siThunderbird,
  siUbisoft,
  siVinted,
  siX,
  siYoutube,
} from "simple-icons";

/** A 24×24 SVG path and the colour to draw it in (null: the text colour). */
export type Logo = { path: string; color: string | null; brand: boolean };

const BRANDS: Record<string, { path: string; hex: string }> = {
  discord: siDiscord,
  github: siGithub,
  gmail: siGmail,
  google_drive: siGoogledrive,
  instagram: siInstagram,
  nasa: siNasa,
  netflix: siNetflix,
  ntfy: siNtfy,
  pinterest: siPinterest,
  postman: siPostman,
  revolut: siRevolut,
  riot: siRiotgames,
  rss: siRss,
  spotify: siSpotify,
  thunderbird: siThunderbird,
  twitter: siX,
  ubisoft: siUbisoft,
  vinted: siVinted,
  youtube: siYoutube,
};

// Neutral glyphs (24×24, drawn in the text colour) by what the service does.
const CLOCK = "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16zm-1 3v6l5 3 1-1.7-4-2.4V7z";
const GLOBE =
  "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm6.9 6h-3a15 15 0 0 0-1.3-3.9A8 8 0 0 1 18.9 8zM12 4c.9 1.2 1.6 2.6 2 4h-4c.4-1.4 1.1-2.8 2-4zM4.3 14a8 8 0 0 1 0-4h3.4a16 16 0 0 0 0 4zm.8 2h3a15 15 0 0 0 1.3 3.9A8 8 0 0 1 5.1 16zm3-8h-3a8 8 0 0 1 4.3-3.9A15 15 0 0 0 8.1 8zM12 20c-.9-1.2-1.6-2.6-2-4h4c-.4 1.4-1.1 2.8-2 4zm2.3-6H9.7a14 14 0 0 1 0-4h4.6a14 14 0 0 1 0 4zm.3 5.9a15 15 0 0 0 1.3-3.9h3a8 8 0 0 1-4.3 3.9zm1.7-5.9a16 16 0 0 0 0-4h3.4a8 8 0 0 1 0 4z";
const BELL = "M12 22a2.5 2.5 0 0 0 2.5-2.5h-5A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.8V3.5a1.5 1.5 0 0 0-3 0v.7A7 7 0 0 0 5 11v5l-2 2v1h18v-1z";
const ENVELOPE = "M3 5h18a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1zm1 3.2V17h16V8.2l-8 5.3zM5.1 7 12 11.6 18.9 7z";
const CLOUD = "M18.5 10.2A6.5 6.5 0 0 0 6 8.6 4.7 4.7 0 0 0 6.5 18h12a4 4 0 0 0 0-7.8z";
const BOLT = "M13 2 4 14h6l-1 8 9-12h-6z";
const DOT = "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm0 5a4 4 0 1 1 0 8 4 4 0 0 1 0-8z";

const GLYPHS: Record<string, string> = {
  timer: CLOCK,
  http: GLOBE,
  notify: BELL,
  mail: ENVELOPE,
  outlook: ENVELOPE,
  weather: CLOUD,
  webhook: BOLT,
};

/** The logo of service `id`: its brand mark, or a neutral glyph. */
export function logoOf(id: string): Logo {
  const brand = BRANDS[id];
  if (brand) return { path: brand.path, color: `#${brand.hex}`, brand: true };
  return { path: GLYPHS[id] ?? DOT, color: null, brand: false };
}
