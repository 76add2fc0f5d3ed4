// /analytics: slicers (years, dates, states), a measure for every visual, cross-filtering
// by click (segment, region, category, state), drill-down by time (year -> quarter ->
// month -> day), drill-through to order lines, chips for every filter, CSV/PNG/zip and
// print. The state lives in the URL; every change refetches the visuals in parallel.
"use strict";

(() => {
  const API = "/api/analytics";
  const st = AN.state;
  const s = st.s;
  let options = null;
  let seq = 0;
  let inflight = null;
  let measure = null;
  let boot = null;
  let answers = null;  // the last API answers of the visuals, by visual
  const charts = {};
  const VISUALS = ["trend", "segments", "regions", "growth", "states"];
  const TITLES = {
    trend: "by category over time", segments: "by segment", regions: "by region",
    growth: "growth, year over year", states: "by state", breakdown: "breakdown",
  };
  const CSV = { trend: "category-trend", segments: "segments", regions: "regions", growth: "growth", states: "states" };
  const $ = (id) => document.getElementById(id);

  function notice(text, kind = "info") {
    const el = $("notice");
    el.hidden = !text;
    el.dataset.kind = kind;
    el.textContent = text || "";
  }

  // ---- actions (clicks, keys, table buttons) ----------------------------------------
  const act = {
    filter(key, value) {
      if (key === "state") s.states = s.states.length === 1 && s.states[0] === value ? [] : [value];
      else s[key] = s[key] === value ? null : value;
      if (key === "category") s.bsub = null;
      refresh();
    },
    // A click on a time point drills one level down; at day level it shows the day's lines.
    drillOrLines(label, extra) {
      const p = st.parsePeriod(label);
      if (!p) return;
      if (p.grain === "day") { act.lines(st.prettyPeriod(label), { period: label, ...extra }, null); return; }
      s.period = label;
      s.trend = s.growth = st.finer(p.grain);
      refresh();
    },
    lines(title, extra, row) { AN.detail.openLines(title, extra, row, ctx()); },
    breakdown(change) { Object.assign(s, change); AN.detail.resort(); refresh(); },
  };
  // What renderers, keys and menus see: always the current measure and options.
  const live = { get m() { return measure; }, get options() { return options; }, s, act };
  const ctx = () => live;

  // ---- controls ----------------------------------------------------------------------
  function buildControls() {
    const years = $("year-slicer");
    for (const y of options.years) {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.year = String(y); b.textContent = String(y);
      b.addEventListener("click", () => {
        s.years = s.years.includes(y) ? s.years.filter((x) => x !== y) : [...s.years, y].sort();
        refresh();
      });
      years.appendChild(b);
    }
    const preset = $("date-preset");
    for (const [name, label] of Object.entries(options.presets)) preset.add(new Option(label, name));
    preset.add(new Option("Custom range…", "custom"));
    preset.addEventListener("change", () => {
      const v = preset.value;
      $("custom-range").hidden = v !== "custom";
      if (v === "custom") { $("date-from").focus(); return; }
      Object.assign(s, { range: v || null, from: null, to: null });
      refresh();
    });
    for (const id of ["date-from", "date-to"]) {
      const input = $(id);
      input.min = options.first_day; input.max = options.last_day;
      input.addEventListener("change", () => {
        const from = $("date-from").value || null, to = $("date-to").value || null;
        if (from && to && from > to) { notice(`The range starts (${from}) after it ends (${to}).`, "warn"); return; }
        Object.assign(s, { range: null, from, to });
        refresh();
      });
    }
    $("data-span").textContent = `data ${options.first_day} to ${options.last_day}; presets end on the last day`;
    const measures = $("measure");
    for (const m of options.measures) {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.measure = m.name; b.textContent = m.label;
      b.addEventListener("click", () => { s.measure = m.name; refresh(); });
      measures.appendChild(b);
    }
    AN.picker.build(options.states, (chosen) => { s.states = chosen; refresh(); });
    $("reset").addEventListener("click", () => { st.reset(); AN.detail.resort(); refresh(); });
    for (const [key, id] of [["trend", "trend-grain"], ["growth", "growth-grain"]]) {
      $(id).addEventListener("click", (e) => {
        const g = e.target.dataset && e.target.dataset.grain;
        if (g && !e.target.disabled) { s[key] = g; refresh(); }
      });
    }
    $("breakdown-by").addEventListener("change", (e) => { s.by = e.target.value; if (s.by !== "product") s.bsub = null; AN.detail.resort(); refresh(); });
    $("breakdown-top").addEventListener("change", (e) => { s.top = Number(e.target.value); refresh(); });
    $("print").addEventListener("click", () => window.print());
    document.querySelectorAll("[data-table-toggle]").forEach((b) => b.addEventListener("click", () => {
      const card = b.closest(".card");
      const on = b.getAttribute("aria-pressed") !== "true";
      b.setAttribute("aria-pressed", String(on));
      card.querySelector(".table-view").hidden = !on;
      card.querySelector(".chart-wrap").hidden = on;
      if (!on) charts[card.dataset.visual].resize();
    }));
    document.querySelectorAll("[data-png]").forEach((b) => b.addEventListener("click", () => {
      const v = b.closest(".card").dataset.visual;
      SS.downloadPNG(charts[v], SS.fileName(CSV[v], [...st.filterParams({ measure: s.measure === "sales" ? null : s.measure })], "png"));
    }));
    document.querySelectorAll(".kpi[data-kpi]").forEach((card) => card.addEventListener("click", () => {
      act.lines(`${card.querySelector(".label").textContent} under the filters`, {}, null);
    }));
    AN.detail.wire();
  }

  function syncControls() {
    document.querySelectorAll("#year-slicer button").forEach((b) => {
      b.setAttribute("aria-pressed", String(s.years.includes(Number(b.dataset.year))));
    });
    document.querySelectorAll("#measure button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.measure === s.measure)));
    const custom = !!(s.from || s.to);
    $("date-preset").value = s.range || (custom ? "custom" : "");
    $("custom-range").hidden = !custom && $("date-preset").value !== "custom";
    $("date-from").value = s.from || ""; $("date-to").value = s.to || "";
    AN.picker.sync(s.states);
    const drilled = s.period && st.parsePeriod(s.period);
    for (const [key, id] of [["trend", "trend-grain"], ["growth", "growth-grain"]]) {
      document.querySelectorAll(`#${id} button`).forEach((b) => {
        b.setAttribute("aria-pressed", String(b.dataset.grain === s[key]));
        b.disabled = !!drilled && drilled.grain !== "day" && st.GRAINS.indexOf(b.dataset.grain) <= st.GRAINS.indexOf(drilled.grain);
      });
    }
    for (const id of ["trend-crumbs", "growth-crumbs"]) crumbs($(id));
    $("breakdown-by").value = s.by;
    $("breakdown-top").value = String(s.top);
    const chips = st.chips(options).map((c) => {
      const b = document.createElement("button");
      b.type = "button"; b.className = "chip"; b.dataset.filter = c.key; b.dataset.value = c.value;
      b.setAttribute("aria-label", `Remove filter ${c.label}`);
      b.append(Object.assign(document.createElement("span"), { textContent: c.label }), Object.assign(document.createElement("span"), { className: "x", textContent: "×", ariaHidden: "true" }));
      b.addEventListener("click", () => { c.remove(); refresh(); });
      return b;
    });
    $("chips").replaceChildren(...chips);
    $("chips-label").hidden = !chips.length;
    $("reset").disabled = !st.anyFilter();
    for (const [v, stem] of Object.entries(CSV)) {
      const extra = { measure: s.measure === "sales" ? null : s.measure };
      if (v === "trend") extra.grain = s.trend;
      if (v === "growth") extra.grain = s.growth;
      $(`csv-${stem}`).href = `${API}/${stem}?${st.query({ ...extra, format: "csv" })}`;
    }
    $("csv-kpis").href = `${API}/kpis?${st.query({ format: "csv" })}`;
    $("csv-breakdown").href = `${API}/breakdown?${st.query(st.breakdownParams({ format: "csv" }))}`;
    $("zip").href = `${API}/export?${st.query({ measure: s.measure, trend: s.trend, growth: s.growth, by: s.by, top: s.top })}`;
    for (const [v, title] of Object.entries(TITLES)) {
      const el = document.querySelector(`[data-visual="${v}"] .title`);
      if (el) el.textContent = v === "breakdown" ? `${measure.label} breakdown` : `${measure.label} ${title}`;
    }
    $("print-filters").textContent = `Filters: ${st.chips(options).map((c) => c.label).join("; ") || "none"}. Measure: ${measure.label}. Data ${options.first_day} to ${options.last_day}, ${SS.int(options.facts)} sales lines.`;
  }

  function crumbs(nav) {
    const items = [["All time", null], ...st.path(s.period).map((p) => [st.prettyPeriod(p.label), p.label])];
    nav.replaceChildren(...items.map(([label, period], i) => {
      const last = i === items.length - 1;
      const el = document.createElement(last ? "span" : "button");
      el.className = "crumb"; el.textContent = label;
      if (last) el.setAttribute("aria-current", "location");
      else {
        el.type = "button";
        el.addEventListener("click", () => {
          s.period = period;
          const p = period && st.parsePeriod(period);
          s.trend = s.growth = p ? st.finer(p.grain) : "month";
          if (!p) s.growth = "quarter";
          refresh();
        });
      }
      return el;
    }));
    nav.hidden = !s.period;
  }



  // ---- KPI cards ---------------------------------------------------------------------
  const KPIS = [["sales", "money"], ["returns", "money"], ["net_sales", "money"], ["return_rate", "ratio"],
    ["profit", "money"], ["margin", "ratio"], ["orders", "count"],
    ["quantity", "count"], ["customers", "count"], ["cities", "count"]];
  function renderKpis(body) {
    const k = body.kpis, prev = body.previous;
    const none = k.lines === 0;
    for (const [name, unit] of KPIS) {
      SS.setText(`kpi-${name}`, none ? "–" : SS.fmt(unit, k[name]), k[name]);
      const delta = $(`kpi-${name}-delta`);
      const ch = prev ? prev.change[name] : null;
      delta.textContent = !prev || none ? "" : `${ch === null ? "n/a" : SS.change(unit, ch)} vs ${prev.label}`;
      delta.dataset.sign = ch === null ? "" : ch >= 0 ? "up" : "down";
    }
    $("kpi-cities-note").textContent = none ? "" : `${SS.int(k.cities)} city + state pairs; ${SS.int(k.city_names)} city names`;
  }

  // ---- loading -----------------------------------------------------------------------
  async function refresh() {
    measure = options.measures.find((m) => m.name === s.measure);
    st.fitGrains();
    st.write();
    syncControls();
    if (inflight) inflight.abort();
    const ctrl = new AbortController();
    inflight = ctrl;
    document.body.dataset.state = "loading";
    // The first view's answers were asked for while the scripts loaded (analytics-boot.js);
    // one that failed there is asked again here, so its error reads as any other.
    const early = boot;
    boot = null;
    const get = (url, i) => (early && early.urls && early.urls[i] === url
      ? Promise.resolve(early.data[i]).then((got) => got || SS.getJSON(url, ctrl.signal))
      : SS.getJSON(url, ctrl.signal));
    try {
      const [k, trend, seg, reg, growth, states, table] = await Promise.all(st.visualUrls().map(get));
      if (seq === 0) performance.mark("data");
      const c = ctx();
      renderKpis(k);
      answers = { trend, segments: seg, regions: reg, growth, states };
      drawVisuals();
      AN.detail.renderBreakdown(table, c);
      for (const v of VISUALS) tableView(v, c);
      if (k.kpis.lines === 0) {
        const what = st.chips(options).map((x) => x.label).join("; ");
        notice(`No sales match these filters (${what || "none"}). Remove a filter chip, or Reset, to see more.`, "warn");
      } else if (!$("notice").dataset.keep) notice(null);
      delete $("notice").dataset.keep;
      seq += 1;
      document.body.dataset.seq = String(seq);
      document.body.dataset.state = "ready";
      if (seq === 1) performance.mark("visuals-drawn");
    } catch (err) {
      if (err.name === "AbortError") return;
      document.body.dataset.state = "error";
      notice(`Could not load the analytics: ${err.message}. Change or reset the filters to try again.`, "error");
      $("reset").disabled = false;
    }
  }

  // Every visual from the last answers: after loading, and when the theme changes (new
  // options in the new theme's colours, tooltips and labels included).
  function drawVisuals() {
    if (!answers) return;
    for (const v of VISUALS) AN.visuals[v](charts[v], answers[v], ctx());
  }

  // The data-table view of a visual: its numbers as text, and its actions as buttons.
  function tableView(v, c) {
    const spec = AN.visuals[v].table(charts[v], c);
    const table = document.createElement("table");
    table.className = "data";
    const head = document.createElement("tr");
    for (const h of [...spec.head, ""]) head.appendChild(Object.assign(document.createElement("th"), { textContent: h, scope: "col" }));
    const rows = spec.rows.map((r) => {
      const tr = document.createElement("tr");
      r.cells.forEach((text, i) => tr.appendChild(Object.assign(document.createElement("td"), { textContent: text, className: i ? "num" : "" })));
      const td = document.createElement("td");
      td.className = "actions";
      for (const [label, go] of r.actions) {
        const b = Object.assign(document.createElement("button"), { type: "button", className: "row-action", textContent: label });
        b.setAttribute("aria-label", `${label}: ${r.cells[0]}`);
        b.addEventListener("click", go);
        td.appendChild(b);
      }
      tr.appendChild(td);
      return tr;
    });
    table.append(Object.assign(document.createElement("thead")), Object.assign(document.createElement("tbody")));
    table.tHead.appendChild(head);
    table.tBodies[0].append(...rows);
    document.querySelector(`[data-visual="${v}"] .table-view`).replaceChildren(table);
  }

  function wireCharts() {
    charts.segments.on("click", (p) => p.name && act.filter("segment", p.name));
    charts.regions.on("click", (p) => p.data && p.data.row && act.filter("region", p.data.row.region));
    charts.states.on("click", (p) => p.name && act.filter("state", p.name));
    charts.trend.on("click", (p) => {
      if (p.componentType === "xAxis") act.drillOrLines(p.value, {});
      else if (p.dataIndex !== undefined) act.drillOrLines(charts.trend.__rows.periods[p.dataIndex], { category: p.seriesName });
      else if (p.seriesName) act.filter("category", p.seriesName); // the line itself
    });
    charts.growth.on("click", (p) => {
      if (p.componentType === "xAxis") act.drillOrLines(p.value, {});
      else if (p.dataIndex !== undefined) act.drillOrLines(charts.growth.__rows[p.dataIndex].period, {});
    });
    for (const v of VISUALS) {
      SS.keyboard(charts[v], AN.visuals[v].keys(charts[v], ctx()));
      charts[v].on("contextmenu", (p) => AN.menu.fromChart(v, charts[v], p, ctx()));
    }
  }

  async function start() {
    performance.mark("scripts-run");
    SS.initTheme();
    SS.onTheme(drawVisuals);
    for (const [v, id] of [["trend", "chart-trend"], ["segments", "chart-segments"], ["regions", "chart-regions"],
      ["growth", "chart-growth"], ["states", "chart-states"]]) charts[v] = SS.chart(id);
    try {
      boot = await AN.boot;
      const [opts, topo] = await Promise.all([
        boot.options || SS.getJSON(`${API}/options`),
        boot.topo || SS.getJSON("/static/vendor/us-states-albers-10m.json"),
      ]);
      options = opts;
      performance.mark("options");
      echarts.registerMap("us-states", topojson.feature(topo, topo.objects.states));
    } catch (err) {
      document.body.dataset.state = "error";
      notice(`Analytics are not available: ${err.message}`, "error");
      return;
    }
    SS.setMembers("category", options.categories);
    SS.setMembers("segment", options.segments);
    SS.setMembers("region", options.regions);
    showWarehouse();
    const dropped = boot.options ? boot.dropped : st.read(options);
    measure = options.measures.find((m) => m.name === s.measure);
    buildControls();
    wireCharts();
    if (dropped.length) {
      notice(`Ignored from the link, as the warehouse does not hold them or they are not valid: ${dropped.join(", ")}.`, "warn");
      $("notice").dataset.keep = "1";
    }
    await refresh();
    follow();
  }

  // ---- the warehouse changing under the page ----------------------------------------
  function showWarehouse() {
    $("warehouse").textContent = `warehouse: ${SS.int(options.facts)} sales lines`;
    const asOf = $("as-of");
    asOf.dateTime = options.loaded_at || "";
    asOf.textContent = options.loaded_at ? new Date(options.loaded_at).toLocaleString() : "";
    $("as-of-wrap").hidden = !options.loaded_at;
    document.body.dataset.version = options.version;
  }

  // The continuous sync reloads changed days within seconds: new answers are fetched
  // as soon as the server has built the new version, without a reload.
  function follow() {
    const source = new EventSource(`${API}/stream`);
    source.addEventListener("version", async (ev) => {
      const got = JSON.parse(ev.data);
      if (got.version === options.version) return;
      try {
        options = await SS.getJSON(`${API}/options`);
      } catch (err) {
        return; // the next version event tries again
      }
      SS.setMembers("category", options.categories);
      SS.setMembers("segment", options.segments);
      SS.setMembers("region", options.regions);
      showWarehouse();
      await refresh();
    });
  }

  start();
})();
