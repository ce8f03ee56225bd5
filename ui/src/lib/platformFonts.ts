/**
 * Which font stack the UI asks for, by platform. On Linux the engine (WebKitGTK in the app,
 * any browser for `area serve`) resolves fonts through fontconfig, where `system-ui` is only an
 * alias list of named desktop fonts (Cantarell, Noto Sans UI, …): unless the first of them is
 * installed, WebKitGTK rejects the match after checking every alias, for every size and weight
 * on screen, about 3,500 fontconfig matches on one window open. `sans-serif` is the user's own
 * fontconfig default and resolves at once. Elsewhere `system-ui` is the platform's UI font.
 */
export function resolvesFontsThroughFontconfig(userAgent: string): boolean {
  return /\b(X11|Linux)\b/.test(userAgent) && !/\bAndroid\b/.test(userAgent);
}

/** Marks the document so `app.css` picks the fontconfig stack; call before the first render. */
export function applyPlatformFonts(doc: Document, userAgent: string): void {
  if (resolvesFontsThroughFontconfig(userAgent)) doc.documentElement.dataset.fonts = "fontconfig";
}
