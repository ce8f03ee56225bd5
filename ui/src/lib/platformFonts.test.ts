import { describe, expect, it } from "vitest";
import { applyPlatformFonts, resolvesFontsThroughFontconfig } from "./platformFonts";

const agents = {
  webkitgtk:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
  firefoxLinux: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  macWebKit: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
  webview2:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  android:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
};

describe("platform fonts", () => {
  it("uses the fontconfig stack on desktop Linux only", () => {
    expect(resolvesFontsThroughFontconfig(agents.webkitgtk)).toBe(true);
    expect(resolvesFontsThroughFontconfig(agents.firefoxLinux)).toBe(true);
    expect(resolvesFontsThroughFontconfig(agents.macWebKit)).toBe(false);
    expect(resolvesFontsThroughFontconfig(agents.webview2)).toBe(false);
    expect(resolvesFontsThroughFontconfig(agents.android)).toBe(false);
  });

  it("marks the document for app.css, and leaves it alone elsewhere", () => {
    applyPlatformFonts(document, agents.macWebKit);
    expect(document.documentElement.dataset.fonts).toBeUndefined();
    applyPlatformFonts(document, agents.webkitgtk);
    expect(document.documentElement.dataset.fonts).toBe("fontconfig");
  });
});
