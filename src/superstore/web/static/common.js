// Shared by both dashboards: exact money formatting, escaping, fetching, chart set-up.
// No build step, no framework: plain browser JavaScript served from the package.
"use strict";

const SS = (() => {
  // Money arrives as exact decimal strings ("1234.5650"). Round half-up to cents
  // with BigInt, never through floating point, so a total shown here equals the
  // database's total rounded the same way (tests compare the two).
  function cents(text) {
    const s = String(text ?? "0").trim();
    const neg = s.startsWith("-");
    const [whole, frac = ""] = s.replace(/^[-+]/, "").split(".");
    const scaled = BigInt((whole || "0") + (frac + "0000").slice(0, 4));
    let c = (scaled + 50n) / 100n;
    return neg && c !== 0n ? -c : c;
  }

  function money(text) {
    const c = cents(text);
    const neg = c < 0n;
    const abs = neg ? -c : c;
    const dollars = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const rest = (abs % 100n).toString().padStart(2, "0");
    return `${neg ? "-" : ""}$${dollars}.${rest}`;
  }

  const compactFmt = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1,
  });
  const intFmt = new Intl.NumberFormat("en-US");

  const compact = (n) => compactFmt.format(Number(n));
  const int = (n) => intFmt.format(Number(n));
  const pct = (n) => (n === null || n === undefined ? "n/a" : `${n > 0 ? "+" : ""}${Number(n).toFixed(1)}%`);

  // Everything put into HTML strings (chart tooltips) goes through esc();
  // elsewhere text is set with textContent only.
  function esc(value) {
    return String(value ?? "").replace(/[&<>"'`=/]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  }

  async function getJSON(url, signal) {
    const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (_) { /* not JSON */ }
      const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  // One palette for both pages; categories keep their colour everywhere.
  const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

  function chart(id) {
    const el = document.getElementById(id);
    const c = echarts.init(el, null, { renderer: "canvas" });
    // data-finished="1" once drawn and animated: tests click where things settled.
    c.on("finished", () => { el.dataset.finished = "1"; });
    window.addEventListener("resize", () => c.resize());
    return c;
  }

  // Replace a chart's whole option (short animations keep the page snappy).
  function draw(c, option) {
    c.getDom().dataset.finished = "0";
    c.setOption({ animationDuration: 350, animationDurationUpdate: 250, ...option }, { notMerge: true });
  }

  function setText(id, text, value) {
    const el = document.getElementById(id);
    el.textContent = text;
    if (value !== undefined) el.dataset.value = String(value);
  }

  function tooltipBase() {
    return {
      confine: true,
      backgroundColor: "rgba(255,255,255,0.97)",
      borderColor: "#d0d7de",
      textStyle: { color: "#1f2328", fontSize: 12 },
    };
  }

  return { cents, money, compact, int, pct, esc, getJSON, palette, chart, draw, setText, tooltipBase };
})();
