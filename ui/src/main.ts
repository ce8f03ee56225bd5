import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { installHttpTransport } from "./lib/httpTransport";
import { applyPlatformFonts } from "./lib/platformFonts";

// In a browser (served by `area serve`) there is no Tauri: talk to the server over HTTP, and
// let the service worker keep the app's shell for the home-screen app.
if (installHttpTransport(window) && "serviceWorker" in navigator) {
  navigator.serviceWorker.register("./sw.js").catch(() => {});
}

applyPlatformFonts(document, navigator.userAgent);

const target = document.getElementById("app");
if (!target) throw new Error("#app is missing from index.html");

export default mount(App, { target });
