import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const host = process.env.TAURI_DEV_HOST;

// The Tauri shell loads http://localhost:1420 in dev (devUrl) and ui/dist in release (frontendDist).
export default defineConfig({
  root,
  base: "./",
  plugins: [svelte()],
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    host: host || false,
    hmr: host ? { protocol: "ws", host, port: 1421 } : undefined,
    watch: { ignored: ["**/src-tauri/**", "**/target/**"] },
  },
  envPrefix: ["VITE_", "TAURI_ENV_*"],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.4x on Linux, WebView2 on Windows, Safari 15+ on macOS.
    target: ["es2021", "safari15"],
    // CSS for the same engines, named as browsers: with "es2021" the CSS minifier assumed an
    // engine without `system-ui` and spliced nine named fonts after it, each one a fontconfig
    // miss on Linux (app.css, font-family).
    cssTarget: ["safari15", "chrome105", "edge105"],
    minify: process.env.TAURI_ENV_DEBUG ? false : true,
    sourcemap: !!process.env.TAURI_ENV_DEBUG,
    // No inline module preload polyfill: the CSP is script-src 'self'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
