// /analytics visuals. Honest charts: every period of the span on a time axis (zero
// when nothing sold, never a line joining April to December), straight segments (no
// smoothing inventing values between points), parts of a whole (donut, treemap) only
// for a sum whose members are all >= 0 (bars otherwise), a colour per member that never
// changes with filters or ranks. Every tooltip reads its own row, never a neighbour's.
"use strict";

AN.visuals = (() => {
  const tip = (title, lines) =>
    `<b>${SS.esc(title)}</b>` + lines.map(([k, v]) => `<br>${SS.esc(k)}: ${SS.esc(v)}`).join("");
  const V = (ctx, value) => SS.fmt(ctx.m.unit, value);
  const num = (v) => (v === null || v === undefined ? null : Number(v));
  // Context lines under the measure: what a sales figure is made of, and vice versa.
  function extras(ctx, row) {
    const out = [];
    for (const [name, unit] of [["sales", "money"], ["profit", "money"], ["quantity", "count"]]) {
      if (name !== ctx.m.name && row[name] !== undefined) out.push([name, SS.fmt(unit, row[name])]);
    }
    return out;
  }
  const isEmpty = (rows) => !rows.length || rows.every((r) => Number(r.lines ?? 1) === 0);
  const parts = (ctx, rows) => ctx.m.additive && rows.length > 0 && rows.every((r) => r.share !== null);

  function empty(chart, text) {
    const el = chart.getDom().parentElement.querySelector(".empty");
    el.hidden = !text;
    el.textContent = text || "";
    if (text) SS.draw(chart, { series: [] });
  }

  // ---- time visuals ------------------------------------------------------------
  // showAllSymbol: a point per period even where the axis labels thin out (a phone
  // showed 3 of a month's 31 days as points, the others neither hoverable nor clickable).
  function trend(chart, data, ctx) {
    const periods = [...new Set(data.rows.map((r) => r.period))];
    const cats = ctx.options.categories;
    const byCat = new Map(cats.map((c) => [c, data.rows.filter((r) => r.category === c)]));
    chart.__rows = { periods, cats, byCat };
    if (isEmpty(data.rows)) return empty(chart, "No sales in these filters.");
    empty(chart, null);
    const many = periods.length > 120;
    SS.draw(chart, {
      tooltip: {
        ...SS.tooltipBase(), trigger: "axis",
        formatter: (ps) => {
          const i = ps[0].dataIndex;
          return tip(AN.state.prettyPeriod(periods[i]),
            ps.map((p) => [p.seriesName, V(ctx, byCat.get(p.seriesName)[i].value)]));
        },
      },
      legend: { top: 0, data: cats },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: periods, triggerEvent: true, axisLabel: { formatter: AN.state.prettyPeriod } },
      yAxis: { type: "value", axisLabel: { formatter: (v) => SS.fmtAxis(ctx.m.unit, v) } },
      series: cats.map((c) => {
        const dim = ctx.s.category && ctx.s.category !== c;
        const look = SS.lineStyleOf("category", c);
        return {
          name: c, type: "line", smooth: false, triggerLineEvent: true, connectNulls: false,
          symbol: look.symbol, symbolSize: 7, showSymbol: !many, showAllSymbol: true,
          lineStyle: { width: ctx.s.category === c ? 4 : 2, type: look.type, opacity: dim ? 0.25 : 1, color: SS.colorOf("category", c) },
          itemStyle: { color: SS.colorOf("category", c), opacity: dim ? 0.25 : 1 },
          emphasis: { focus: "series" },
          data: byCat.get(c).map((r) => num(r.value)),
        };
      }),
    });
  }
  // Read at every key press, never once: the keys are wired before the first answer is
  // drawn, and every refresh replaces the chart's rows.
  trend.keys = (chart, ctx) => {
    const none = { periods: [], cats: [], byCat: new Map() };
    const rows = () => chart.__rows || none;
    return {
      label: () => `${ctx.m.label} by category over time, ${rows().periods.length} periods`,
      noun: "periods (up and down: categories)", verb: "drills into the period",
      count: () => rows().periods.length * rows().cats.length,
      stride: () => rows().periods.length,
      target: (i) => { const r = rows(); return { seriesIndex: Math.floor(i / r.periods.length), dataIndex: i % r.periods.length }; },
      describe: (i) => {
        const r = rows();
        const c = r.cats[Math.floor(i / r.periods.length)], row = r.byCat.get(c)[i % r.periods.length];
        return `${c}, ${AN.state.prettyPeriod(row.period)}: ${V(ctx, row.value)}`;
      },
      primary: (i) => { const r = rows(); ctx.act.drillOrLines(r.periods[i % r.periods.length], { category: r.cats[Math.floor(i / r.periods.length)] }); },
      lines: (i) => {
        const r = rows();
        const c = r.cats[Math.floor(i / r.periods.length)], row = r.byCat.get(c)[i % r.periods.length];
        ctx.act.lines(`${c}, ${AN.state.prettyPeriod(row.period)}`, { category: c, period: row.period }, row);
      },
    };
  };
  trend.table = (chart, ctx) => {
    const r = chart.__rows || { periods: [], cats: [], byCat: new Map() };
    return {
      head: ["period", ...r.cats],
      rows: r.periods.map((p, i) => ({
        cells: [AN.state.prettyPeriod(p), ...r.cats.map((c) => V(ctx, r.byCat.get(c)[i].value))],
        actions: [["Drill", () => ctx.act.drillOrLines(p, {})], ["Lines", () => ctx.act.lines(AN.state.prettyPeriod(p), { period: p }, null)]],
      })),
    };
  };

  function growth(chart, data, ctx) {
    const rows = data.rows;
    chart.__rows = rows;
    if (!rows.length || rows.every((r) => Number(r.sales) === 0 && !Number(r.prev_sales))) {
      return empty(chart, "No sales in these filters.");
    }
    empty(chart, null);
    const many = rows.length > 120;
    const ratio = ctx.m.unit === "ratio";
    SS.draw(chart, {
      tooltip: {
        ...SS.tooltipBase(), trigger: "axis",
        formatter: (ps) => {
          const r = rows[ps[0].dataIndex];
          return tip(AN.state.prettyPeriod(r.period), [[ctx.m.label, V(ctx, r.value)],
            ["a year before", r.prev_value === null ? "n/a" : V(ctx, r.prev_value)],
            ["change", SS.change(ctx.m.unit, r.change)]]);
        },
      },
      legend: { top: 0 },
      grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: rows.map((r) => r.period), triggerEvent: true, axisLabel: { formatter: AN.state.prettyPeriod } },
      yAxis: [
        { type: "value", axisLabel: { formatter: (v) => SS.fmtAxis(ctx.m.unit, v) } },
        { type: "value", axisLabel: { formatter: (v) => (ratio ? `${v} pts` : `${v}%`) }, splitLine: { show: false } },
      ],
      series: [
        { name: ctx.m.label, type: "line", smooth: false, showSymbol: !many, showAllSymbol: true, symbolSize: 7, areaStyle: { opacity: 0.12 },
          itemStyle: { color: SS.palette[0] }, data: rows.map((r) => num(r.value)) },
        { name: "a year before", type: "line", smooth: false, showSymbol: false, lineStyle: { type: "dotted", width: 1.5 },
          itemStyle: { color: SS.palette[7] }, data: rows.map((r) => num(r.prev_value)) },
        { name: ratio ? "change (pts)" : "change %", type: "bar", yAxisIndex: 1, barMaxWidth: 18,
          itemStyle: { color: (p) => (rows[p.dataIndex].change >= 0 ? SS.palette[4] : SS.palette[5]) },
          data: rows.map((r) => r.change) },
      ],
    });
  }
  growth.keys = (chart, ctx) => ({
    label: () => `${ctx.m.label} growth, year over year, ${(chart.__rows || []).length} periods`,
    noun: "periods", verb: "drills into the period",
    count: () => (chart.__rows || []).length,
    target: (i) => ({ seriesIndex: 0, dataIndex: i }),
    describe: (i) => {
      const r = chart.__rows[i];
      return `${AN.state.prettyPeriod(r.period)}: ${V(ctx, r.value)}, a year before ${r.prev_value === null ? "n/a" : V(ctx, r.prev_value)}, change ${SS.change(ctx.m.unit, r.change)}`;
    },
    primary: (i) => ctx.act.drillOrLines(chart.__rows[i].period, {}),
    lines: (i) => ctx.act.lines(AN.state.prettyPeriod(chart.__rows[i].period), { period: chart.__rows[i].period }, chart.__rows[i]),
  });
  growth.table = (chart, ctx) => ({
    head: ["period", ctx.m.label, "a year before", "change"],
    rows: (chart.__rows || []).map((r) => ({
      cells: [AN.state.prettyPeriod(r.period), V(ctx, r.value), r.prev_value === null ? "n/a" : V(ctx, r.prev_value), SS.change(ctx.m.unit, r.change)],
      actions: [["Drill", () => ctx.act.drillOrLines(r.period, {})], ["Lines", () => ctx.act.lines(AN.state.prettyPeriod(r.period), { period: r.period }, r)]],
    })),
  });

  // ---- members: segments, regions, states --------------------------------------
  function memberTip(ctx, key) {
    return (p) => {
      const row = p.data && p.data.row;
      if (!row) return tip(p.name, [[ctx.m.label, "no sales"]]);
      const lines = [[ctx.m.label, V(ctx, row.value)]];
      if (row.share !== null && row.share !== undefined) lines.push(["share", SS.percent(row.share)]);
      return tip(row[key], [...lines, ...extras(ctx, row)]);
    };
  }
  function bars(chart, rows, ctx, key, dimension) {
    const shown = [...rows].reverse();
    SS.draw(chart, {
      tooltip: { ...SS.tooltipBase(), trigger: "item", formatter: memberTip(ctx, key) },
      grid: { left: 8, right: 70, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", axisLabel: { formatter: (v) => SS.fmtAxis(ctx.m.unit, v) } },
      yAxis: { type: "category", data: shown.map((r) => r[key]), axisLabel: { width: 110, overflow: "break" } },
      series: [{
        type: "bar", barMaxWidth: 26,
        label: { show: true, position: "right", formatter: (p) => V(ctx, p.data.row.value), color: SS.theme().ink },
        data: shown.map((r) => ({
          value: num(r.value), row: r, name: r[key],
          itemStyle: { color: SS.colorOf(dimension, r[key]), opacity: ctx.s[key] && ctx.s[key] !== r[key] ? 0.35 : 1 },
        })),
      }],
    });
  }

  function segments(chart, data, ctx) {
    const rows = data.rows;
    chart.__rows = rows;
    if (isEmpty(rows)) return empty(chart, "No sales in these filters.");
    empty(chart, null);
    chart.__kind = parts(ctx, rows) ? "pie" : "bar";
    if (chart.__kind === "bar") return bars(chart, rows, ctx, "segment", "segment");
    const phone = window.matchMedia("(max-width: 640px)").matches;
    SS.draw(chart, {
      tooltip: { ...SS.tooltipBase(), trigger: "item", formatter: memberTip(ctx, "segment") },
      legend: { bottom: 0, formatter: (name) => (phone ? `${name} ${SS.percent(rows.find((r) => r.segment === name).share)}` : name) },
      series: [{
        type: "pie", radius: ["38%", "62%"], center: ["50%", "45%"], selectedMode: "single", avoidLabelOverlap: true,
        // On a phone the shares go in the legend: labels around a small donut get cut.
        label: { show: !phone, formatter: (p) => SS.percent(p.data.row.share), color: SS.theme().ink },
        labelLine: { show: !phone },
        data: rows.map((r) => ({
          name: r.segment, value: num(r.value), row: r, selected: ctx.s.segment === r.segment,
          itemStyle: { color: SS.colorOf("segment", r.segment), opacity: ctx.s.segment && ctx.s.segment !== r.segment ? 0.4 : 1 },
        })),
      }],
    });
  }

  function regions(chart, data, ctx) {
    const rows = data.rows;
    chart.__rows = rows;
    if (isEmpty(rows)) return empty(chart, "No sales in these filters.");
    empty(chart, null);
    chart.__kind = parts(ctx, rows) ? "treemap" : "bar";
    if (chart.__kind === "bar") return bars(chart, rows, ctx, "region", "region");
    const t = SS.theme();
    SS.draw(chart, {
      tooltip: { ...SS.tooltipBase(), formatter: memberTip(ctx, "region") },
      series: [{
        type: "treemap", roam: false, nodeClick: false, breadcrumb: { show: false },
        width: "100%", height: "100%",
        label: { formatter: (p) => `${p.name}\n${SS.fmtAxis(ctx.m.unit, p.value)}`, fontSize: 13, lineHeight: 18, color: "#fff", textBorderColor: "rgba(0,0,0,0.55)", textBorderWidth: 2 },
        data: rows.map((r) => ({
          name: r.region, value: num(r.value), row: r,
          itemStyle: {
            color: SS.colorOf("region", r.region),
            opacity: ctx.s.region && ctx.s.region !== r.region ? 0.35 : 1,
            borderColor: t.card, borderWidth: ctx.s.region === r.region ? 4 : 1,
          },
        })),
      }],
    });
  }

  function memberKeys(key, noun, title) {
    return (chart, ctx) => ({
      label: () => `${ctx.m.label} by ${title}`,
      noun, verb: "filters the page by it",
      count: () => (chart.__rows || []).length,
      target: (i) => {
        const r = chart.__rows[i];
        if (chart.__kind === "bar") return { seriesIndex: 0, dataIndex: chart.__rows.length - 1 - i };
        return chart.__kind === "pie" ? { seriesIndex: 0, dataIndex: i } : { seriesIndex: 0, name: r[key] };
      },
      describe: (i) => {
        const r = chart.__rows[i];
        return `${r[key]}: ${V(ctx, r.value)}${r.share !== null && r.share !== undefined ? `, ${SS.percent(r.share)} of the total` : ""}`;
      },
      primary: (i) => ctx.act.filter(key, chart.__rows[i][key]),
      lines: (i) => ctx.act.lines(chart.__rows[i][key], { [key]: key === "state" ? [chart.__rows[i][key]] : chart.__rows[i][key] }, chart.__rows[i]),
    });
  }
  function memberTable(key) {
    return (chart, ctx) => ({
      head: [key, ctx.m.label, "share", "sales", "profit"],
      rows: (chart.__rows || []).map((r) => ({
        cells: [r[key], V(ctx, r.value), r.share === null ? "n/a" : SS.percent(r.share), SS.money(r.sales), SS.money(r.profit)],
        actions: [["Filter", () => ctx.act.filter(key, r[key])],
          ["Lines", () => ctx.act.lines(r[key], { [key]: key === "state" ? [r[key]] : r[key] }, r)]],
      })),
    });
  }
  segments.keys = memberKeys("segment", "segments", "segment");
  segments.table = memberTable("segment");
  regions.keys = memberKeys("region", "regions", "region");
  regions.table = memberTable("region");

  function states(chart, data, ctx) {
    const rows = data.rows;
    chart.__rows = rows;
    chart.__kind = "map";
    if (isEmpty(rows)) return empty(chart, "No sales in these filters.");
    empty(chart, null);
    const values = rows.map((r) => num(r.value)).filter((v) => v !== null);
    const lo = Math.min(0, ...values), hi = Math.max(0, ...values);
    const signed = lo < 0;
    const t = SS.theme();
    SS.draw(chart, {
      tooltip: { ...SS.tooltipBase(), trigger: "item", formatter: memberTip(ctx, "state") },
      visualMap: {
        min: lo, max: hi === lo ? lo + 1 : hi, left: 10, bottom: 10, calculable: false,
        text: [`${SS.fmt(ctx.m.unit, hi)} (highest)`, `${SS.fmt(ctx.m.unit, lo)} (lowest)`],
        textStyle: { color: t.ink },
        inRange: { color: signed ? ["#b35806", "#f1a340", "#f7f7f7", "#998ec3", "#542788"] : ["#deebf7", "#9ecae1", "#4292c6", "#08306b"] },
      },
      series: [{
        type: "map", map: "us-states", roam: false, selectedMode: false,
        projection: { project: (pt) => pt, unproject: (pt) => pt },
        emphasis: { label: { show: false }, itemStyle: { areaColor: "#fdd49e" } },
        itemStyle: { borderColor: t.card, borderWidth: 0.6, areaColor: t.grid },
        data: rows.map((r) => ({
          name: r.state, value: num(r.value), row: r,
          itemStyle: ctx.s.states.includes(r.state) ? { borderColor: "#D55E00", borderWidth: 2.5 } : undefined,
        })),
      }],
    });
  }
  states.keys = (chart, ctx) => ({
    ...memberKeys("state", "states", "state")(chart, ctx),
    primary: (i) => ctx.act.filter("state", chart.__rows[i].state),
  });
  states.table = memberTable("state");

  return { trend, growth, segments, regions, states, tip };
})();
