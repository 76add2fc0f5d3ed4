// /analytics: slicers (years, states), cross-filtering by click (segment, region,
// category, state), CSV per visual. The filter state lives in the URL, so a view
// can be bookmarked; every change refetches all visuals in parallel.
"use strict";

(() => {
  const API = "/api/analytics";
  const VISUALS = ["kpis", "category-trend", "segments", "regions", "growth", "states"];
  const filters = { years: [], states: [], segment: null, region: null, category: null };
  const grains = { trend: "month", growth: "quarter" };
  let options = null;
  let seq = 0;
  let inflight = null;

  const charts = {
    trend: SS.chart("chart-trend"),
    segments: SS.chart("chart-segments"),
    regions: SS.chart("chart-regions"),
    growth: SS.chart("chart-growth"),
    states: SS.chart("chart-states"),
  };

  // ---- filter state <-> URL ------------------------------------------------
  function readUrl() {
    const p = new URLSearchParams(location.search);
    filters.years = p.getAll("year").map(Number).filter(Number.isInteger);
    filters.states = p.getAll("state");
    for (const k of ["segment", "region", "category"]) filters[k] = p.get(k);
    grains.trend = p.get("trend") || grains.trend;
    grains.growth = p.get("growth") || grains.growth;
  }

  function query(extra = {}) {
    const p = new URLSearchParams();
    filters.years.forEach((y) => p.append("year", y));
    filters.states.forEach((s) => p.append("state", s));
    for (const k of ["segment", "region", "category"]) if (filters[k]) p.set(k, filters[k]);
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return p.toString();
  }

  function writeUrl() {
    const q = query({ trend: grains.trend, growth: grains.growth });
    history.replaceState(null, "", `${location.pathname}?${q}`);
  }

  function active() {
    return filters.years.length || filters.states.length ||
      filters.segment || filters.region || filters.category;
  }

  function toggle(key, value) {
    filters[key] = filters[key] === value ? null : value;
    refresh();
  }

  // ---- slicers and chips --------------------------------------------------
  function buildSlicers() {
    const years = document.getElementById("year-slicer");
    for (const y of options.years) {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.year = String(y); b.textContent = String(y);
      b.addEventListener("click", () => {
        const i = filters.years.indexOf(y);
        if (i >= 0) filters.years.splice(i, 1); else filters.years.push(y);
        filters.years.sort();
        refresh();
      });
      years.appendChild(b);
    }
    const states = document.getElementById("state-slicer");
    for (const s of options.states) {
      const o = document.createElement("option");
      o.value = s; o.textContent = s;
      states.appendChild(o);
    }
    states.addEventListener("change", () => {
      filters.states = [...states.selectedOptions].map((o) => o.value);
      refresh();
    });
    document.getElementById("reset").addEventListener("click", () => {
      Object.assign(filters, { years: [], states: [], segment: null, region: null, category: null });
      refresh();
    });
    for (const [key, id] of [["trend", "trend-grain"], ["growth", "growth-grain"]]) {
      document.getElementById(id).addEventListener("click", (e) => {
        const g = e.target.dataset && e.target.dataset.grain;
        if (g) { grains[key] = g; refresh(); }
      });
    }
  }

  function syncControls() {
    document.querySelectorAll("#year-slicer button").forEach((b) => {
      b.setAttribute("aria-pressed", String(filters.years.includes(Number(b.dataset.year))));
    });
    for (const o of document.getElementById("state-slicer").options) {
      o.selected = filters.states.includes(o.value);
    }
    for (const [key, id] of [["trend", "trend-grain"], ["growth", "growth-grain"]]) {
      document.querySelectorAll(`#${id} button`).forEach((b) => {
        b.setAttribute("aria-pressed", String(b.dataset.grain === grains[key]));
      });
    }
    const chips = document.getElementById("chips");
    const items = [];
    for (const k of ["segment", "region", "category"]) {
      if (!filters[k]) continue;
      const chip = document.createElement("span");
      chip.className = "chip"; chip.dataset.filter = k;
      chip.textContent = `${k}: ${filters[k]}`;
      items.push(chip);
    }
    chips.replaceChildren(...items);
    document.getElementById("reset").disabled = !active();
  }

  // ---- renderers ----------------------------------------------------------
  function moneyTip(title, lines) {
    return `<b>${SS.esc(title)}</b>` + lines.map(([k, v]) => `<br>${SS.esc(k)}: ${SS.esc(v)}`).join("");
  }

  function renderKpis(k) {
    SS.setText("kpi-sales", SS.money(k.sales), k.sales);
    SS.setText("kpi-profit", SS.money(k.profit), k.profit);
    SS.setText("kpi-orders", SS.int(k.orders), k.orders);
    SS.setText("kpi-quantity", SS.int(k.quantity), k.quantity);
    SS.setText("kpi-customers", SS.int(k.customers), k.customers);
    SS.setText("kpi-cities", SS.int(k.cities), k.cities);
  }

  function renderTrend(rows) {
    const periods = [...new Set(rows.map((r) => r.period))].sort();
    const cats = options.categories;
    const byKey = new Map(rows.map((r) => [`${r.category}|${r.period}`, r.sales]));
    SS.draw(charts.trend, {
      color: SS.palette,
      tooltip: {
        ...SS.tooltipBase(), trigger: "axis",
        formatter: (ps) => moneyTip(ps[0].axisValue, ps.map((p) => [p.seriesName, SS.money(byKey.get(`${p.seriesName}|${p.axisValue}`) || 0)])),
      },
      legend: { top: 0, selectedMode: false },
      grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: periods },
      yAxis: { type: "value", axisLabel: { formatter: SS.compact } },
      series: cats.map((c) => {
        const dim = filters.category && filters.category !== c;
        return {
          name: c, type: "line", smooth: true, triggerLineEvent: true, symbolSize: 6,
          lineStyle: { width: filters.category === c ? 4 : 2, opacity: dim ? 0.25 : 1 },
          itemStyle: { opacity: dim ? 0.25 : 1 },
          data: periods.map((p) => Number(byKey.get(`${c}|${p}`) || 0)),
        };
      }),
    });
  }

  function renderSegments(rows) {
    SS.draw(charts.segments, {
      color: SS.palette,
      tooltip: {
        ...SS.tooltipBase(), trigger: "item",
        formatter: (p) => moneyTip(p.name, [["sales", SS.money(rows[p.dataIndex].sales)], ["share", `${p.percent}%`]]),
      },
      legend: { bottom: 0 },
      series: [{
        type: "pie", radius: ["38%", "62%"], center: ["50%", "45%"], selectedMode: "single",
        avoidLabelOverlap: true,
        label: { formatter: "{d}%" },  // names are in the legend: labels stay short
        data: rows.map((r) => ({
          name: r.segment, value: Number(r.sales), selected: filters.segment === r.segment,
          itemStyle: { opacity: filters.segment && filters.segment !== r.segment ? 0.4 : 1 },
        })),
      }],
    });
  }

  function renderRegions(rows) {
    SS.draw(charts.regions, {
      tooltip: {
        ...SS.tooltipBase(),
        formatter: (p) => moneyTip(p.name, [["sales", SS.money(rows[p.dataIndex].sales)], ["profit", SS.money(rows[p.dataIndex].profit)]]),
      },
      series: [{
        type: "treemap", roam: false, nodeClick: false, breadcrumb: { show: false },
        width: "100%", height: "100%",
        label: { formatter: (p) => `${p.name}\n${SS.compact(p.value)}`, fontSize: 13, lineHeight: 18 },
        data: rows.map((r, i) => ({
          name: r.region, value: Number(r.sales),
          itemStyle: {
            color: SS.palette[i % SS.palette.length],
            opacity: filters.region && filters.region !== r.region ? 0.35 : 1,
            borderColor: "#fff", borderWidth: filters.region === r.region ? 4 : 1,
          },
        })),
      }],
    });
  }

  function renderGrowth(rows) {
    SS.draw(charts.growth, {
      color: [SS.palette[0], SS.palette[2]],
      tooltip: {
        ...SS.tooltipBase(), trigger: "axis",
        formatter: (ps) => {
          const r = rows[ps[0].dataIndex];
          return moneyTip(r.period, [["sales", SS.money(r.sales)],
            ["a year before", r.prev_sales === null ? "n/a" : SS.money(r.prev_sales)], ["YoY", SS.pct(r.yoy_pct)]]);
        },
      },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 30, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: rows.map((r) => r.period) },
      yAxis: [
        { type: "value", axisLabel: { formatter: SS.compact } },
        { type: "value", axisLabel: { formatter: (v) => `${v}%` }, splitLine: { show: false } },
      ],
      series: [
        { name: "sales", type: "line", smooth: true, areaStyle: { opacity: 0.12 }, data: rows.map((r) => Number(r.sales)) },
        { name: "YoY %", type: "line", yAxisIndex: 1, lineStyle: { type: "dashed" }, connectNulls: false, data: rows.map((r) => r.yoy_pct) },
      ],
    });
  }

  function renderStates(rows) {
    const max = Math.max(1, ...rows.map((r) => Number(r.sales)));
    const byName = new Map(rows.map((r) => [r.state, r]));
    SS.draw(charts.states, {
      tooltip: {
        ...SS.tooltipBase(), trigger: "item",
        formatter: (p) => {
          const r = byName.get(p.name);
          return r ? moneyTip(p.name, [["sales", SS.money(r.sales)], ["profit", SS.money(r.profit)]]) : moneyTip(p.name, [["sales", "none"]]);
        },
      },
      visualMap: {
        min: 0, max, left: 10, bottom: 10, calculable: false, text: ["more", "less"],
        inRange: { color: ["#e8f1fa", "#9ecae1", "#3182bd", "#08306b"] },
        formatter: (v) => SS.compact(v),
      },
      series: [{
        type: "map", map: "us-states", roam: false, selectedMode: false,
        projection: { project: (pt) => pt, unproject: (pt) => pt },
        emphasis: { label: { show: false }, itemStyle: { areaColor: "#fdd49e" } },
        itemStyle: { borderColor: "#fff", borderWidth: 0.6 },
        data: rows.map((r) => ({
          name: r.state, value: Number(r.sales),
          itemStyle: filters.states.includes(r.state) ? { borderColor: "#e15759", borderWidth: 2.5 } : undefined,
        })),
      }],
    });
  }

  // ---- loading ------------------------------------------------------------
  function csvLinks() {
    for (const v of VISUALS) {
      const extra = { format: "csv" };
      if (v === "category-trend") extra.grain = grains.trend;
      if (v === "growth") extra.grain = grains.growth;
      document.getElementById(`csv-${v}`).href = `${API}/${v}?${query(extra)}`;
    }
  }

  function notice(text) {
    const el = document.getElementById("notice");
    el.hidden = !text;
    el.textContent = text || "";
  }

  async function refresh() {
    writeUrl();
    syncControls();
    csvLinks();
    if (inflight) inflight.abort();
    const ctrl = new AbortController();
    inflight = ctrl;
    document.body.dataset.state = "loading";
    const q = query();
    try {
      const [k, trend, seg, reg, growth, states] = await Promise.all([
        SS.getJSON(`${API}/kpis?${q}`, ctrl.signal),
        SS.getJSON(`${API}/category-trend?${query({ grain: grains.trend })}`, ctrl.signal),
        SS.getJSON(`${API}/segments?${q}`, ctrl.signal),
        SS.getJSON(`${API}/regions?${q}`, ctrl.signal),
        SS.getJSON(`${API}/growth?${query({ grain: grains.growth })}`, ctrl.signal),
        SS.getJSON(`${API}/states?${q}`, ctrl.signal),
      ]);
      renderKpis(k.kpis);
      renderTrend(trend.rows);
      renderSegments(seg.rows);
      renderRegions(reg.rows);
      renderGrowth(growth.rows);
      renderStates(states.rows);
      notice(null);
      seq += 1;
      document.body.dataset.seq = String(seq);
      document.body.dataset.state = "ready";
    } catch (err) {
      if (err.name === "AbortError") return;
      document.body.dataset.state = "error";
      notice(`Could not load the analytics: ${err.message}`);
    }
  }

  function wireClicks() {
    charts.segments.on("click", (p) => toggle("segment", p.name));
    charts.regions.on("click", (p) => toggle("region", p.name));
    charts.trend.on("click", (p) => toggle("category", p.seriesName));
    charts.states.on("click", (p) => {
      filters.states = filters.states.length === 1 && filters.states[0] === p.name ? [] : [p.name];
      refresh();
    });
  }

  async function start() {
    readUrl();
    try {
      const [opts, topo] = await Promise.all([
        SS.getJSON(`${API}/options`),
        SS.getJSON("/static/vendor/us-states-albers-10m.json"),
      ]);
      options = opts;
      echarts.registerMap("us-states", topojson.feature(topo, topo.objects.states));
    } catch (err) {
      document.body.dataset.state = "error";
      notice(`Analytics are not available: ${err.message}`);
      return;
    }
    document.getElementById("warehouse").textContent =
      `warehouse: ${SS.int(options.facts)} sales lines`;
    buildSlicers();
    wireClicks();
    await refresh();
  }

  start();
})();
