import { describe, expect, it } from "vitest";
import { logoOf } from "./logos";

describe("service logos", () => {
  it("brands get their own mark and colour, distinct even when their names share a letter", () => {
    const g = ["github", "gmail", "google_drive"].map(logoOf);
    expect(g.every((l) => l.brand && /^#[0-9A-F]{6}$/i.test(l.color ?? ""))).toBe(true);
    expect(new Set(g.map((l) => l.path)).size).toBe(3);
  });
  it("built-ins and brands without a mark get a neutral glyph in the text colour", () => {
    for (const id of ["timer", "http", "notify", "mail", "weather", "webhook", "ratp"]) {
      const l = logoOf(id);
      expect(l.brand).toBe(false);
      expect(l.color).toBeNull();
      expect(l.path.length).toBeGreaterThan(10);
    }
    expect(logoOf("timer").path).not.toBe(logoOf("notify").path);
  });
});
