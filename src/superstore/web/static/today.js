// /today: one EventSource; the server pushes the whole day's snapshot at every
// committed ingest transaction (PostgreSQL LISTEN/NOTIFY). No polling, no reload.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const requested = params.get("date");
  const query = requested ? `?date=${encodeURIComponent(requested)}` : "";
  let rendered = 0;
  let lastSnap = null;
  const seenOrders = new Set();

  const topChart = SS.chart("top-products");
  const catChart = SS.chart("categories");

  function timeIn(zone, iso) {
    if (!iso) return "–";
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).format(new Date(iso));
  }

  function renderTop(snap) {
    const rows = [...snap.top_products].reverse(); // largest at the top
    SS.draw(topChart, {
      grid: { left: 8, right: 90, top: 8, bottom: 8, containLabel: true },
      tooltip: {
        ...SS.tooltipBase(), trigger: "item",
        formatter: (p) => {
          const r = rows[p.dataIndex];
          return `<b>${SS.esc(r.product_name)}</b><br>${SS.esc(r.product_id)}<br>${SS.esc(SS.money(r.sales))}`;
        },
      },
      xAxis: { type: "value", axisLabel: { formatter: SS.compact } },
      yAxis: {
        type: "category", data: rows.map((r) => r.product_name),
        axisLabel: { width: 220, overflow: "truncate" },
      },
      series: [{
        type: "bar", data: rows.map((r) => Number(r.sales)), itemStyle: { color: SS.palette[0] },
        label: { show: true, position: "right", formatter: (p) => SS.money(rows[p.dataIndex].sales) },
      }],
    });
  }

  function renderCategories(snap) {
    SS.draw(catChart, {
      color: SS.palette,
      tooltip: {
        ...SS.tooltipBase(), trigger: "item",
        formatter: (p) => `<b>${SS.esc(p.name)}</b><br>${SS.esc(SS.money(snap.categories[p.dataIndex].sales))} (${p.percent}%)`,
      },
      legend: { bottom: 0 },
      series: [{
        type: "pie", radius: ["40%", "64%"], center: ["50%", "45%"], avoidLabelOverlap: true,
        label: {
          formatter: (p) => `${p.name}\n${SS.money(snap.categories[p.dataIndex].sales)}`, lineHeight: 15,
        },
        data: snap.categories.map((c) => ({ name: c.category, value: Number(c.sales) })),
      }],
    });
  }

  function renderLatest(snap) {
    const body = document.getElementById("latest");
    const rows = snap.latest_orders.map((o) => {
      const tr = document.createElement("tr");
      if (rendered > 0 && !seenOrders.has(o.order_id)) tr.className = "fresh";
      const cells = [
        timeIn(snap.timezone, o.ingested_at), o.order_id, o.customer_name,
        `${o.city}, ${o.state}`, SS.int(o.lines), SS.money(o.sales),
      ];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i >= 4) td.className = "num";
        tr.appendChild(td);
      });
      return tr;
    });
    snap.latest_orders.forEach((o) => seenOrders.add(o.order_id));
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 6; td.className = "muted"; td.textContent = "no orders on this day yet";
      tr.appendChild(td); rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  function render(snap) {
    lastSnap = snap;
    document.getElementById("day").textContent = snap.date;
    document.getElementById("day-picker").value = snap.date;
    SS.setText("sales", SS.money(snap.sales), snap.sales);
    SS.setText("orders", SS.int(snap.orders), snap.orders);
    SS.setText("lines", SS.int(snap.lines), snap.lines);
    SS.setText("last-update", snap.last_update ? `${timeIn(snap.timezone, snap.last_update)} (${snap.timezone})` : "–");
    renderTop(snap);
    renderCategories(snap);
    renderLatest(snap);
    rendered += 1;
    document.body.dataset.renders = String(rendered);
    document.body.dataset.generated = snap.generated_at;
  }

  function notice(text) {
    const el = document.getElementById("notice");
    el.hidden = !text;
    el.textContent = text || "";
  }

  function setLive(state, text) {
    const el = document.getElementById("live");
    el.dataset.state = state;
    document.getElementById("live-text").textContent = text;
  }

  function connect() {
    const source = new EventSource(`/api/today/stream${query}`);
    source.addEventListener("open", () => setLive("live", "live"));
    source.addEventListener("snapshot", (event) => {
      setLive("live", "live");
      notice(null);
      render(JSON.parse(event.data));
    });
    source.addEventListener("problem", (event) => notice(JSON.parse(event.data).detail));
    source.addEventListener("error", () => setLive("reconnecting", "reconnecting…"));
  }

  document.getElementById("day-picker").addEventListener("change", (event) => {
    const value = event.target.value;
    if (value && (!lastSnap || value !== lastSnap.date)) location.search = `?date=${value}`;
  });
  document.getElementById("today-button").addEventListener("click", () => {
    location.search = "";
  });

  connect();
})();
