// /today, an operations screen: one EventSource; the server pushes the whole day's
// snapshot at every committed ingest transaction (PostgreSQL LISTEN/NOTIFY). No polling,
// no reload. "live" only while pushes arrive for today; a past day says so. Times are
// when the pipeline received each order (the data carries dates only), with their date.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const requested = params.get("date");
  const query = requested ? `?date=${encodeURIComponent(requested)}` : "";
  const $ = (id) => document.getElementById(id);
  let rendered = 0;
  let lastSnap = null;
  let context = null;
  let contextAt = 0;
  let contextTimer = null;
  const seenOrders = new Set();
  const HOURS_EVERY_MS = 5000;  // the hourly context scans the day: at most this often

  SS.initTheme();
  const hoursChart = SS.chart("hours");
  const topChart = SS.chart("top-products");
  const catChart = SS.chart("categories");
  const narrow = () => window.matchMedia("(max-width: 640px)").matches;

  const parts = (zone, iso, opts) => Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, hourCycle: "h23", ...opts,
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  const dateIn = (zone, iso) => { const p = parts(zone, iso, { year: "numeric", month: "2-digit", day: "2-digit" }); return `${p.year}-${p.month}-${p.day}`; };
  const timeIn = (zone, iso) => { const p = parts(zone, iso, { hour: "2-digit", minute: "2-digit", second: "2-digit" }); return `${p.hour}:${p.minute}:${p.second}`; };
  const stamp = (zone, iso) => `${dateIn(zone, iso)} ${timeIn(zone, iso)}`;
  const todayIn = (zone) => dateIn(zone, new Date().toISOString());
  const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const weekday = (isoDate) => WEEKDAYS[new Date(`${isoDate}T12:00:00Z`).getUTCDay()];

  function empty(chart, text) {
    const el = chart.getDom().parentElement.querySelector(".empty");
    el.hidden = !text; el.textContent = text || "";
    if (text) SS.draw(chart, { series: [] });
  }

  function renderHours() {
    if (!context || !lastSnap) return;
    const hours = context.hours, avg = context.average;
    const day = weekday(context.date);
    $("hours-note").textContent = context.averaged_days.length
      ? `against the average ${day} (${context.averaged_days.length} of the previous 4)`
      : `no earlier ${day}s with sales to compare with`;
    if (hours.every((h) => Number(h.sales) === 0) && avg.every((h) => Number(h.sales) === 0)) {
      return empty(hoursChart, "No sales received on this day yet.");
    }
    empty(hoursChart, null);
    const label = (h) => `${String(h).padStart(2, "0")}:00`;
    SS.draw(hoursChart, {
      tooltip: {
        ...SS.tooltipBase(), trigger: "axis",
        formatter: (ps) => {
          const i = ps[0].dataIndex;
          return `<b>${SS.esc(label(i))}–${SS.esc(label((i + 1) % 24))}</b><br>received: ${SS.esc(SS.money(hours[i].sales))} (${SS.esc(SS.int(hours[i].lines))} lines)` +
            `<br>average ${SS.esc(day)}: ${SS.esc(context.averaged_days.length ? SS.money(avg[i].sales) : "n/a")}`;
        },
      },
      legend: { top: 0 },
      grid: { left: 8, right: 12, top: 28, bottom: 4, containLabel: true },
      xAxis: { type: "category", data: hours.map((h) => label(h.hour)) },
      yAxis: { type: "value", axisLabel: { formatter: SS.compact } },
      series: [
        { name: "this day", type: "bar", barMaxWidth: 18, itemStyle: { color: SS.palette[0] }, data: hours.map((h) => Number(h.sales)) },
        { name: `average ${day}`, type: "line", smooth: false, showSymbol: false, lineStyle: { type: "dashed", width: 2 },
          itemStyle: { color: SS.palette[1] }, data: avg.map((h) => Number(h.sales)) },
      ],
    });
  }

  function renderTop(snap) {
    const rows = [...snap.top_products].reverse(); // largest at the top
    if (!rows.length) return empty(topChart, "No sales on this day yet.");
    empty(topChart, null);
    const phone = narrow();
    const width = topChart.getDom().clientWidth;
    SS.draw(topChart, {
      grid: phone ? { left: 4, right: 86, top: 4, bottom: 4, containLabel: false } : { left: 8, right: 100, top: 8, bottom: 8, containLabel: true },
      tooltip: {
        ...SS.tooltipBase(), trigger: "item",
        formatter: (p) => {
          const r = rows[p.dataIndex];
          return `<b>${SS.esc(r.product_name)}</b><br>${SS.esc(r.product_id)}<br>${SS.esc(SS.money(r.sales))}`;
        },
      },
      xAxis: { type: "value", show: !phone, axisLabel: { formatter: SS.compact } },
      yAxis: {
        type: "category", data: rows.map((r) => r.product_name),
        // On a phone the name goes above its bar, across the chart, so the bar keeps its width.
        axisLabel: phone
          ? { inside: true, verticalAlign: "bottom", padding: [0, 0, 14, 0], width: width - 12, overflow: "truncate", color: SS.theme().ink }
          : { width: 220, overflow: "truncate" },
        axisTick: { show: !phone }, axisLine: { show: !phone },
      },
      series: [{
        type: "bar", barWidth: phone ? 12 : "60%", data: rows.map((r) => Number(r.sales)),
        itemStyle: { color: SS.palette[0] },
        label: { show: true, position: "right", formatter: (p) => SS.money(rows[p.dataIndex].sales), color: SS.theme().ink },
      }],
    });
  }

  function renderCategories(snap) {
    const cats = snap.categories;
    if (!cats.length) return empty(catChart, "No sales on this day yet.");
    empty(catChart, null);
    const total = cats.reduce((t, c) => t + Number(c.sales), 0);
    const share = (c) => SS.percent(total ? Number(c.sales) / total : null);
    const phone = narrow();
    SS.draw(catChart, {
      tooltip: {
        ...SS.tooltipBase(), trigger: "item",
        formatter: (p) => `<b>${SS.esc(p.data.row.category)}</b><br>${SS.esc(SS.money(p.data.row.sales))} (${SS.esc(share(p.data.row))})`,
      },
      legend: { bottom: 0, formatter: (name) => (phone ? `${name} ${share(cats.find((c) => c.category === name))}` : name) },
      series: [{
        type: "pie", radius: phone ? ["34%", "58%"] : ["40%", "64%"], center: ["50%", "44%"], avoidLabelOverlap: true,
        // A phone has no room for labels around the donut: the legend carries name and share.
        label: phone ? { show: false }
          : { formatter: (p) => `${p.data.row.category}\n${SS.money(p.data.row.sales)}`, lineHeight: 15, color: SS.theme().ink },
        labelLine: { show: !phone },
        data: cats.map((c) => ({ name: c.category, value: Number(c.sales), row: c, itemStyle: { color: SS.colorOf("category", c.category) } })),
      }],
    });
  }

  function renderLatest(snap) {
    const rows = snap.latest_orders.map((o) => {
      const tr = document.createElement("tr");
      if (rendered > 0 && !seenOrders.has(o.order_id)) tr.className = "fresh";
      const received = dateIn(snap.timezone, o.ingested_at) === snap.date ? timeIn(snap.timezone, o.ingested_at) : stamp(snap.timezone, o.ingested_at);
      const cells = [["received", received], ["order-id", o.order_id], ["customer wide", o.customer_name],
        ["ship-to wide", `${o.city}, ${o.state}`], ["num lines", SS.int(o.lines)], ["num sales", SS.money(o.sales)]];
      for (const [cls, text] of cells) {
        const td = document.createElement("td");
        td.textContent = text; td.className = cls;
        if (cls === "num lines") {  // shown on phones, where the column header is not
          td.appendChild(Object.assign(document.createElement("span"), { className: "unit", textContent: o.lines === 1 ? " line" : " lines" }));
        }
        tr.appendChild(td);
      }
      return tr;
    });
    snap.latest_orders.forEach((o) => seenOrders.add(o.order_id));
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 6; td.className = "muted"; td.textContent = "no orders on this day yet";
      tr.appendChild(td); rows.push(tr);
    }
    $("latest").replaceChildren(...rows);
  }

  function render(snap) {
    lastSnap = snap;
    $("day").textContent = `${weekday(snap.date)} ${snap.date}`;
    $("day-picker").value = snap.date;
    SS.setText("sales", SS.money(snap.sales), snap.sales);
    SS.setText("orders", SS.int(snap.orders), snap.orders);
    SS.setText("lines", SS.int(snap.lines), snap.lines);
    SS.setText("last-update", snap.last_update ? `${stamp(snap.timezone, snap.last_update)} (${snap.timezone})` : "–");
    renderTop(snap);
    renderCategories(snap);
    renderLatest(snap);
    renderHours();
    rendered += 1;
    document.body.dataset.renders = String(rendered);
    document.body.dataset.generated = snap.generated_at;
    refreshContext();
  }

  // The hourly context: after updates, at most every HOURS_EVERY_MS (the server caches it too).
  function refreshContext() {
    if (contextTimer) return;
    const wait = Math.max(0, contextAt + HOURS_EVERY_MS - Date.now());
    contextTimer = setTimeout(async () => {
      contextTimer = null;
      contextAt = Date.now();
      try {
        const got = await SS.getJSON(`/api/today/hours${query}`);
        const first = context === null;
        context = got;
        SS.setMembers("category", got.categories);
        if (first && lastSnap) renderCategories(lastSnap);
        renderHours();
        document.body.dataset.hours = got.generated_at;
      } catch (err) {
        $("hours-note").textContent = `hourly view unavailable: ${err.message}`;
      }
    }, wait);
  }

  function notice(text) {
    const el = $("notice");
    el.hidden = !text;
    el.textContent = text || "";
  }

  function setLive(state, text) {
    const el = $("live");
    el.dataset.state = state;
    $("live-text").textContent = text;
  }

  // "live" only when the pushes are about today; a past (or pinned) day is history.
  function liveState(snap) {
    if (snap.date === todayIn(snap.timezone)) setLive("live", "live");
    else setLive("history", requested ? "past day: not live" : "pinned day: not live");
  }

  function connect() {
    const source = new EventSource(`/api/today/stream${query}`);
    source.addEventListener("snapshot", (event) => {
      const snap = JSON.parse(event.data);
      notice(null);
      render(snap);
      liveState(snap);
    });
    source.addEventListener("problem", (event) => notice(JSON.parse(event.data).detail));
    source.addEventListener("error", () => setLive("reconnecting", "reconnecting…"));
  }

  $("day-picker").addEventListener("change", (event) => {
    const value = event.target.value;
    if (value && (!lastSnap || value !== lastSnap.date)) location.search = `?date=${value}`;
  });
  $("today-button").addEventListener("click", () => { location.search = ""; });
  window.matchMedia("(max-width: 640px)").addEventListener("change", () => lastSnap && render(lastSnap));
  // A new theme: redraw from the last answers, so tooltips and labels take its colours.
  SS.onTheme(() => { if (lastSnap) { renderTop(lastSnap); renderCategories(lastSnap); renderHours(); } });

  // Colours follow the known categories: ask for them first (a failure only delays colours).
  SS.getJSON(`/api/today/hours${query}`).then((got) => {
    context = got; contextAt = Date.now();
    SS.setMembers("category", got.categories);
    document.body.dataset.hours = got.generated_at;
    if (lastSnap) { renderCategories(lastSnap); renderHours(); }
  }).catch(() => {}).finally(connect);
})();
