// Shared by both dashboards: exact money, formats per measure, escaping, fetching,
// colours that belong to members, the light/dark theme, chart set-up, PNG export.
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

  const compactMoney = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1,
  });
  const compactCount = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  const intFmt = new Intl.NumberFormat("en-US");

  const compact = (n) => compactMoney.format(Number(n));
  const int = (n) => intFmt.format(Number(n));
  // One decimal everywhere: 50.6% next to 18.7%, never 50.56% next to 18.7%.
  const percent = (ratio) => (ratio === null || ratio === undefined ? "n/a" : `${(Number(ratio) * 100).toFixed(1)}%`);
  const pct = (n) => (n === null || n === undefined ? "n/a" : `${n > 0 ? "+" : ""}${Number(n).toFixed(1)}%`);
  const points = (n) => (n === null || n === undefined ? "n/a" : `${n > 0 ? "+" : ""}${Number(n).toFixed(1)} pts`);

  // A measure's value as text, by its unit (from /api/analytics/options).
  function fmt(unit, value) {
    if (value === null || value === undefined) return "n/a";
    if (unit === "money") return money(value);
    if (unit === "ratio") return percent(value);
    return int(value);
  }
  function fmtAxis(unit, value) {
    if (unit === "money") return compact(value);
    if (unit === "ratio") return `${Math.round(Number(value) * 100)}%`;
    return compactCount.format(Number(value));
  }
  // The change against a comparable period: % for sums, points for ratios.
  const change = (unit, n) => (unit === "ratio" ? points(n) : pct(n));

  // Everything put into HTML strings (chart tooltips) goes through esc();
  // elsewhere text is set with textContent only.
  function esc(value) {
    return String(value ?? "").replace(/[&<>"'`=/]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  }

  // FastAPI's own validation errors are a list; ours are a sentence. Either way: one line.
  function detailText(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => `${(d.loc || []).slice(-1)[0] || "request"}: ${d.msg || "invalid"}`).join("; ");
    }
    return "the server refused the request";
  }

  async function getJSON(url, signal) {
    const response = await fetch(url, { signal });  // no extra headers: the page's preloads match
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = detailText((await response.json()).detail) || detail;
      } catch (_) { /* not JSON */ }
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  // Okabe-Ito: distinguishable with every common colour-vision deficiency.
  const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"];
  const members = {};
  // A member keeps its colour whatever the filters or ranks: its place in the
  // full, sorted list of its dimension (registered once per page).
  function setMembers(dimension, names) { members[dimension] = [...names].sort(); }
  function colorOf(dimension, name) {
    const list = members[dimension] || (members[dimension] = []);  // unknown lists grow as seen
    let i = list.indexOf(name);
    if (i < 0) { list.push(name); i = list.length - 1; }
    return palette[i % palette.length];
  }
  const symbols = ["circle", "rect", "triangle", "diamond", "roundRect", "pin", "arrow"];
  const dashes = ["solid", "dashed", "dotted"];
  // Lines differ by symbol and dash too, never by colour alone.
  function lineStyleOf(dimension, name) {
    const list = members[dimension] || [];
    const i = Math.max(0, list.indexOf(name));
    return { symbol: symbols[i % symbols.length], type: dashes[i % dashes.length] };
  }

  // ---- theme: prefers-color-scheme, or the reader's choice (remembered) ----
  const themeListeners = [];
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function theme() {
    return {
      dark: document.documentElement.dataset.theme === "dark",
      ink: cssVar("--ink"), muted: cssVar("--muted"), line: cssVar("--line"),
      card: cssVar("--card"), grid: cssVar("--grid"), accent: cssVar("--accent"),
    };
  }
  function setTheme(name, remember) {
    document.documentElement.dataset.theme = name;
    if (remember) {
      try { localStorage.setItem("superstore-theme", name); } catch (_) { /* private mode */ }
    }
    const button = document.getElementById("theme-toggle");
    if (button) {
      button.setAttribute("aria-pressed", String(name === "dark"));
      button.textContent = name === "dark" ? "Light mode" : "Dark mode";
    }
    themeListeners.forEach((f) => f());
  }
  function initTheme() {
    const media = window.matchMedia("(prefers-color-scheme: dark)");
    setTheme(document.documentElement.dataset.theme || (media.matches ? "dark" : "light"), false);
    media.addEventListener("change", (e) => {
      let chosen = null;
      try { chosen = localStorage.getItem("superstore-theme"); } catch (_) { /* private mode */ }
      if (!chosen) setTheme(e.matches ? "dark" : "light", false);
    });
    const button = document.getElementById("theme-toggle");
    if (button) button.addEventListener("click", () => setTheme(theme().dark ? "light" : "dark", true));
  }
  const onTheme = (f) => themeListeners.push(f);

  // ---- charts ----------------------------------------------------------------
  const charts = new Set();
  function chart(id) {
    const el = document.getElementById(id);
    const c = echarts.init(el, null, { renderer: "canvas" });
    c.__drawn = 0;
    // data-finished="1" once drawn and settled: tests point at where things are.
    c.on("finished", () => { el.dataset.finished = "1"; });
    charts.add(c);
    return c;
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  // Printing lays the page out at paper width: redraw every chart to fit it.
  const print = window.matchMedia("print");
  print.addEventListener("change", () => charts.forEach((c) => c.resize()));
  window.addEventListener("beforeprint", () => charts.forEach((c) => c.resize()));
  window.addEventListener("afterprint", () => charts.forEach((c) => c.resize()));

  function themed(option) {
    const t = theme();
    const axis = (a) => a && [].concat(a).map((x) => ({
      ...x,
      axisLine: { ...(x.axisLine || {}), lineStyle: { color: t.line } },
      axisLabel: { color: t.muted, ...(x.axisLabel || {}) },
      splitLine: { ...(x.splitLine || {}), lineStyle: { color: t.grid } },
    }));
    const out = { ...option, textStyle: { color: t.ink }, backgroundColor: "transparent" };
    if (option.xAxis) out.xAxis = axis(option.xAxis);
    if (option.yAxis) out.yAxis = axis(option.yAxis);
    if (option.legend) out.legend = { textStyle: { color: t.ink }, inactiveColor: t.line, ...option.legend };
    return out;
  }

  // Replace a chart's whole option. The first drawing is not animated (every
  // visual on screen at once, fast); later ones animate briefly so a change reads.
  function draw(c, option) {
    c.getDom().dataset.finished = "0";
    const first = c.__drawn === 0;
    c.__drawn += 1;
    c.setOption({
      animation: !first, animationDuration: 200, animationDurationUpdate: 200, ...themed(option),
    }, { notMerge: true });
  }
  // A theme change is not redrawn here from the saved options: those hold the old
  // theme's colours in tooltips, labels and borders (taken when they were built). Each
  // page redraws from its last API answers instead (SS.onTheme), building new options.

  function setText(id, text, value) {
    const el = document.getElementById(id);
    el.textContent = text;
    if (value !== undefined) el.dataset.value = String(value);
  }

  function tooltipBase() {
    const t = theme();
    return {
      confine: true,
      backgroundColor: t.card,
      borderColor: t.line,
      textStyle: { color: t.ink, fontSize: 12 },
    };
  }

  // A file name that says what made it: superstore-regions_year-2016.png
  function fileName(stem, params, ext) {
    const parts = [`superstore-${stem}`];
    const grouped = new Map();
    for (const [k, v] of params) grouped.set(k, [...(grouped.get(k) || []), v]);
    for (const [k, vs] of grouped) parts.push(`${k}-${vs.join("+")}`);
    const safe = parts.map((p) => p.replace(/ /g, "-").replace(/[^A-Za-z0-9.+=-]+/g, "-").replace(/^-+|-+$/g, "") || "x");
    return `${safe.join("_").slice(0, 180)}.${ext}`;
  }

  function downloadPNG(c, name) {
    const url = c.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: theme().card });
    const a = document.createElement("a");
    a.href = url; a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
  }

  // ---- what the caller may do (/api/me): links that would answer 403 are hidden ----
  // Elements carry data-needs="csv|zip|api|ops"; body[data-me] says when this has run.
  const me = fetch("/api/me").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  me.then((found) => {
    document.querySelectorAll("[data-needs]").forEach((el) => {
      el.hidden = !(found && found.may[el.dataset.needs]);
    });
    const who = document.getElementById("who");
    if (who && found && found.via !== "none") {
      const scope = found.scope.unlimited ? "all data"
        : [["regions", found.scope.regions], ["states", found.scope.states]]
          .filter(([, v]) => v.length).map(([k, v]) => `${k} ${v.join(", ")}`).join("; ");
      who.textContent = `${found.name} (${found.role}; ${scope})`;
      who.hidden = false;
    }
    document.body.dataset.me = found ? found.role : "unknown";
  });

  return {
    me,
    cents, money, compact, int, pct, percent, points, fmt, fmtAxis, change, esc, getJSON, detailText,
    palette, setMembers, colorOf, lineStyleOf, theme, setTheme, initTheme, onTheme,
    chart, draw, setText, tooltipBase, fileName, downloadPNG, charts,
  };
})();
