// /analytics state: every filter and choice, read from and written to the URL (a view
// can be bookmarked or shared), checked against what the warehouse holds: a value it
// does not hold (a stale bookmark, a typo) is dropped with a notice, never a blank page.
"use strict";

window.AN = window.AN || {};

AN.state = (() => {
  const DEFAULTS = {
    years: [], states: [], segment: null, region: null, category: null,
    from: null, to: null, range: null, period: null,
    measure: "sales", trend: "month", growth: "quarter", by: "category", bsub: null, top: 10,
  };
  const s = structuredClone(DEFAULTS);
  const GRAINS = ["year", "quarter", "month", "day"];
  const LEVELS = ["category", "sub_category", "product", "customer", "city"];
  const TOPS = [5, 10, 20, 50, 100];
  const CROSS = ["segment", "region", "category"];

  // ---- periods (the same rules as superstore/web/periods.py) ----------------
  const pad = (n) => String(n).padStart(2, "0");
  const iso = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const day = (y, m, d) => new Date(Date.UTC(y, m - 1, d));
  function isoDay(text) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text || "")) return null;
    const [y, m, d] = text.split("-").map(Number);
    const out = day(y, m, d);
    return iso(out) === text ? out : null;
  }
  function parsePeriod(text) {
    let m;
    if ((m = /^(\d{4})$/.exec(text || ""))) return { grain: "year", label: text, start: day(+m[1], 1, 1), end: day(+m[1], 12, 31) };
    if ((m = /^(\d{4})-Q([1-4])$/.exec(text || ""))) {
      const q = +m[2];
      return { grain: "quarter", label: text, start: day(+m[1], q * 3 - 2, 1), end: day(+m[1], q * 3 + 1, 0) };
    }
    if ((m = /^(\d{4})-(\d{2})$/.exec(text || "")) && +m[2] >= 1 && +m[2] <= 12) {
      return { grain: "month", label: text, start: day(+m[1], +m[2], 1), end: day(+m[1], +m[2] + 1, 0) };
    }
    const d = isoDay(text);
    return d ? { grain: "day", label: text, start: d, end: d } : null;
  }
  function labelOf(date, grain) {
    const y = date.getUTCFullYear();
    if (grain === "year") return String(y);
    if (grain === "quarter") return `${y}-Q${Math.floor(date.getUTCMonth() / 3) + 1}`;
    if (grain === "month") return `${y}-${pad(date.getUTCMonth() + 1)}`;
    return iso(date);
  }
  const finer = (grain) => GRAINS[GRAINS.indexOf(grain) + 1] || null;
  function path(label) {
    const p = parsePeriod(label);
    if (!p) return [];
    return GRAINS.slice(0, GRAINS.indexOf(p.grain) + 1).map((g) => parsePeriod(labelOf(p.start, g)));
  }
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function prettyPeriod(label) {
    const p = parsePeriod(label);
    if (!p || p.grain === "year" || p.grain === "quarter") return label;
    if (p.grain === "month") return `${MONTHS[p.start.getUTCMonth()]} ${p.start.getUTCFullYear()}`;
    return `${MONTHS[p.start.getUTCMonth()]} ${p.start.getUTCDate()}, ${p.start.getUTCFullYear()}`;
  }

  // ---- URL ---------------------------------------------------------------------
  // Read the URL, keeping what the warehouse holds; returns what was dropped and why.
  function read(options) {
    const p = new URLSearchParams(location.search);
    const dropped = [];
    const keep = (value, ok, what) => {
      if (value === null || value === "") return null;
      if (ok(value)) return value;
      dropped.push(`${what} ${JSON.stringify(value)}`);
      return null;
    };
    Object.assign(s, structuredClone(DEFAULTS));
    s.years = [...new Set(p.getAll("year"))].map((y) => keep(y, (v) => options.years.includes(Number(v)), "year"))
      .filter((y) => y !== null).map(Number).sort();
    s.states = [...new Set(p.getAll("state"))].map((v) => keep(v, (x) => options.states.includes(x), "state"))
      .filter((v) => v !== null).sort();
    const lists = { segment: options.segments, region: options.regions, category: options.categories };
    for (const k of CROSS) s[k] = keep(p.get(k), (v) => lists[k].includes(v), k);
    s.range = keep(p.get("range"), (v) => v in options.presets, "date range");
    s.from = keep(p.get("from"), (v) => isoDay(v) !== null, "from date");
    s.to = keep(p.get("to"), (v) => isoDay(v) !== null, "to date");
    if (s.from && s.to && s.from > s.to) { dropped.push(`dates ${s.from} to ${s.to} (reversed)`); s.from = s.to = null; }
    if (s.range && (s.from || s.to)) { dropped.push("from/to (a preset range is set)"); s.from = s.to = null; }
    s.period = keep(p.get("period"), (v) => {
      const q = parsePeriod(v);
      return q && iso(q.end) >= options.first_day && iso(q.start) <= options.last_day;
    }, "period");
    s.measure = keep(p.get("measure"), (v) => options.measures.some((m) => m.name === v), "measure") || DEFAULTS.measure;
    s.trend = keep(p.get("trend"), (v) => GRAINS.includes(v), "trend grain") || DEFAULTS.trend;
    s.growth = keep(p.get("growth"), (v) => GRAINS.includes(v), "growth grain") || DEFAULTS.growth;
    s.by = keep(p.get("by"), (v) => LEVELS.includes(v), "breakdown") || DEFAULTS.by;
    s.bsub = keep(p.get("bsub"), (v) => (options.sub_categories || []).includes(v), "sub-category");
    const top = keep(p.get("top"), (v) => TOPS.includes(Number(v)), "top");
    s.top = top ? Number(top) : DEFAULTS.top;
    fitGrains();
    return dropped;
  }

  // A drilled period shows the levels below it: the grains follow the drill.
  function fitGrains() {
    const p = s.period && parsePeriod(s.period);
    if (!p) return;
    const lowest = GRAINS.indexOf(p.grain);
    const next = finer(p.grain) || "day";
    for (const k of ["trend", "growth"]) if (GRAINS.indexOf(s[k]) <= lowest && p.grain !== "day") s[k] = next;
  }

  function filterParams(extra = {}) {
    const p = new URLSearchParams();
    s.years.forEach((y) => p.append("year", y));
    s.states.forEach((v) => p.append("state", v));
    for (const k of CROSS) if (s[k]) p.set(k, s[k]);
    for (const k of ["from", "to", "range", "period"]) if (s[k]) p.set(k, s[k]);
    for (const [k, v] of Object.entries(extra)) {
      if (v === null || v === undefined) p.delete(k);
      else if (Array.isArray(v)) { p.delete(k); v.forEach((x) => p.append(k, x)); }
      else p.set(k, v);
    }
    return p;
  }
  const query = (extra) => filterParams(extra).toString();

  function breakdownParams(extra = {}) {
    return { by: s.by, top: s.top, measure: s.measure === "sales" ? null : s.measure,
      sub_category: s.by === "product" ? s.bsub : null, ...extra };
  }
  // The API call of every visual for the current state, in the order the page renders them.
  function visualUrls() {
    const m = { measure: s.measure };
    const api = "/api/analytics";
    return [
      `${api}/kpis?${query({})}`, `${api}/category-trend?${query({ ...m, grain: s.trend })}`,
      `${api}/segments?${query(m)}`, `${api}/regions?${query(m)}`,
      `${api}/growth?${query({ ...m, grain: s.growth })}`, `${api}/states?${query(m)}`,
      `${api}/breakdown?${query(breakdownParams())}`,
    ];
  }

  function write() {
    const p = filterParams();
    for (const k of ["measure", "trend", "growth", "by", "top", "bsub"]) {
      if (s[k] !== null && s[k] !== DEFAULTS[k]) p.set(k, s[k]);
    }
    const q = p.toString();
    history.replaceState(null, "", `${location.pathname}${q ? `?${q}` : ""}`);
  }

  const anyFilter = () => s.years.length || s.states.length || CROSS.some((k) => s[k]) ||
    s.from || s.to || s.range || s.period;

  function reset() {
    Object.assign(s, { years: [], states: [], segment: null, region: null, category: null,
      from: null, to: null, range: null, period: null, bsub: null });
  }

  // One chip per active filter value, each removable alone.
  function chips(options) {
    const out = [];
    s.years.forEach((y) => out.push({ key: "year", value: String(y), label: `year ${y}`,
      remove: () => { s.years = s.years.filter((x) => x !== y); } }));
    s.states.forEach((v) => out.push({ key: "state", value: v, label: `state ${v}`,
      remove: () => { s.states = s.states.filter((x) => x !== v); } }));
    for (const k of CROSS) if (s[k]) out.push({ key: k, value: s[k], label: `${k} ${s[k]}`, remove: () => { s[k] = null; } });
    if (s.range) out.push({ key: "dates", value: s.range, label: `dates ${options.presets[s.range].toLowerCase()}`,
      remove: () => { s.range = null; } });
    if (s.from || s.to) out.push({ key: "dates", value: `${s.from || "…"}/${s.to || "…"}`,
      label: `dates ${s.from || "start"} to ${s.to || "end"}`, remove: () => { s.from = s.to = null; } });
    if (s.period) out.push({ key: "period", value: s.period, label: `period ${prettyPeriod(s.period)}`,
      remove: () => { s.period = null; } });
    return out;
  }

  return {
    s, DEFAULTS, GRAINS, LEVELS, TOPS, read, write, query, filterParams, anyFilter, reset, chips,
    breakdownParams, visualUrls,
    parsePeriod, labelOf, finer, path, prettyPeriod, fitGrains, isoDay, iso,
  };
})();
