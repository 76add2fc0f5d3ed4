// Loaded before the page paints (not deferred): the reader's theme, or the system's, from the first frame.
"use strict";
(() => {
  let chosen = null;
  try { chosen = localStorage.getItem("superstore-theme"); } catch (_) { /* private mode */ }
  const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = chosen || (dark ? "dark" : "light");
})();
