// /analytics detail: the breakdown table (category -> sub-category -> product, or by
// customer or city; top-N, the rest as one row, the total) and the drill-through dialog
// listing the order lines behind any mark or KPI (paged, sortable, CSV), with their
// count and exact sums next to the number that was clicked.
"use strict";

AN.detail = (() => {
  const API = "/api/analytics";
  const st = AN.state;
  const COLUMNS = {
    category: [["category", "category"]],
    sub_category: [["sub-category", "sub_category"], ["category", "category"]],
    product: [["product", "product_name"], ["id", "product_id"], ["sub-category", "sub_category"]],
    customer: [["customer", "customer_name"], ["id", "customer_id"], ["segment", "segment"]],
    city: [["city", "city"], ["state", "state"], ["region", "region"]],
  };
  let sortBy = null;
  let sortDown = true;
  let last = null;

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function button(text, label, onClick, cls = "row-action") {
    const b = document.createElement("button");
    b.type = "button"; b.className = cls; b.textContent = text;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  // ---- breakdown ------------------------------------------------------------------
  function rowName(level, r) {
    if (level === "product") return r.product_name + (r.names > 1 ? ` (+${r.names - 1} other name)` : "");
    if (level === "customer") return r.customer_name;
    if (level === "city") return `${r.city}, ${r.state}`;
    return r[level];
  }
  function rowFilters(level, r) {
    if (level === "category") return { category: r.category };
    if (level === "sub_category") return { category: r.category, sub_category: r.sub_category };
    if (level === "product") return { product_id: r.product_id };
    if (level === "customer") return { customer_id: r.customer_id };
    return { city: r.city, state: [r.state] };
  }

  function renderBreakdown(body, ctx) {
    last = { body, ctx };
    const level = body.level;
    const cols = COLUMNS[level];
    const m = ctx.m;
    const nums = [["sales", "money"], ["profit", "money"], ["margin", "ratio"], ["quantity", "count"]];
    const withMeasure = nums.some(([n]) => n === m.name) ? nums : [[m.name, m.unit], ...nums];
    const table = document.getElementById("breakdown-table");
    const head = document.createElement("tr");
    const sortable = [...cols.map(([label, key]) => [label, key, "text"]), ...withMeasure.map(([n, u]) => [n, n, u]), ["share", "share", "ratio"]];
    for (const [label, key] of sortable) {
      const th = document.createElement("th");
      th.scope = "col";
      if (key !== cols[0][1] && !cols.some(([, k]) => k === key)) th.className = "num";
      const b = button(label, `sort by ${label}`, () => {
        sortDown = sortBy === key ? !sortDown : true; sortBy = key; renderBreakdown(body, ctx);
      }, "sort");
      th.appendChild(b);
      if (sortBy === key) th.setAttribute("aria-sort", sortDown ? "descending" : "ascending");
      head.appendChild(th);
    }
    head.appendChild(Object.assign(document.createElement("th"), { textContent: "", className: "actions" }));
    const total = body.total;
    const value = (r, key) => (key === "margin" ? (Number(r.sales) ? Number(r.profit) / Number(r.sales) : null)
      : key === "share" ? share(r, total, m) : key === m.name ? r.value : r[key]);
    const rows = [...body.rows];
    if (sortBy) {
      rows.sort((a, b) => {
        const x = value(a, sortBy), y = value(b, sortBy);
        const c = typeof x === "string" && isNaN(Number(x)) ? String(x).localeCompare(String(y)) : Number(x ?? -Infinity) - Number(y ?? -Infinity);
        return sortDown ? -c : c;
      });
    }
    const out = rows.map((r) => {
      const tr = document.createElement("tr");
      cols.forEach(([, key], i) => cell(tr, i === 0 ? rowName(level, r) : r[key] ?? ""));
      withMeasure.forEach(([n, u]) => cell(tr, SS.fmt(u, n === m.name ? r.value : value(r, n)), "num"));
      cell(tr, SS.percent(share(r, total, m)), "num");
      const actions = cell(tr, "", "actions");
      const name = rowName(level, r);
      if (level === "category") actions.appendChild(button("Sub-categories", `sub-categories of ${name}`, () => ctx.act.breakdown({ category: r.category, by: "sub_category" })));
      if (level === "sub_category") actions.appendChild(button("Products", `products of ${name}`, () => ctx.act.breakdown({ category: r.category, bsub: r.sub_category, by: "product" })));
      actions.appendChild(button("Lines", `order lines of ${name}`, () => ctx.act.lines(name, rowFilters(level, r), r)));
      return tr;
    });
    const foot = [];
    if (body.others) foot.push([`${SS.int(body.others.members)} others`, body.others]);
    foot.push(["Total", total]);
    for (const [label, r] of foot) {
      const tr = document.createElement("tr");
      tr.className = "sum";
      cols.forEach((_, i) => cell(tr, i === 0 ? label : ""));
      withMeasure.forEach(([n, u]) => cell(tr, SS.fmt(u, n === m.name ? r.value : value(r, n)), "num"));
      cell(tr, SS.percent(share(r, total, m)), "num");
      cell(tr, "", "actions");
      out.push(tr);
    }
    if (!body.rows.length) {
      const tr = document.createElement("tr");
      const td = cell(tr, "No sales in these filters.", "muted");
      td.colSpan = sortable.length + 1;
      out.splice(0, out.length, tr);
    }
    table.querySelector("thead").replaceChildren(head);
    table.querySelector("tbody").replaceChildren(...out);
    crumbs(ctx);
  }
  function share(r, total, m) {
    if (!m.additive || r.value === null || !Number(total.value) || Number(total.value) <= 0) return null;
    return Number(r.value) / Number(total.value);
  }
  function crumbs(ctx) {
    const nav = document.getElementById("breakdown-crumbs");
    const items = [["All categories", () => ctx.act.breakdown({ category: null, bsub: null, by: "category" })]];
    if (st.s.category) items.push([st.s.category, () => ctx.act.breakdown({ bsub: null, by: "sub_category" })]);
    if (st.s.bsub) items.push([st.s.bsub, null]);
    nav.replaceChildren(...items.map(([label, go], i) => {
      const el = go && i < items.length - 1 ? button(label, `breakdown: ${label}`, go) : Object.assign(document.createElement("span"), { textContent: label });
      el.classList.add("crumb");
      return el;
    }));
  }
  const resort = () => { sortBy = null; sortDown = true; };

  // ---- drill-through: the order lines behind a number ------------------------------
  const dialog = () => document.getElementById("lines-dialog");
  let view = null;
  const LINE_COLUMNS = [["date", "order_date", "date"], ["order", "order_id", "order_id"], ["customer", "customer_name", "customer"],
    ["segment", "segment", "segment"], ["ship to", null, "city"], ["product", "product_name", "product"],
    ["category", "category", "category"], ["sales", "sales", "sales"], ["qty", "quantity", "quantity"],
    ["discount", "discount", "discount"], ["profit", "profit", "profit"]];

  function openLines(title, extra, row, ctx) {
    view = { title, extra, row, ctx, sort: "sales", order: "desc", page: 1 };
    const d = dialog();
    if (!d.open) d.showModal();
    loadLines();
  }
  function linesQuery(extra) { return st.query({ ...view.extra, ...extra }); }

  async function loadLines() {
    const d = dialog();
    d.dataset.state = "loading";
    document.getElementById("lines-title").textContent = `Order lines: ${view.title}`;
    const q = linesQuery({ sort: view.sort, order: view.order, page: view.page, size: 50 });
    document.getElementById("lines-csv").href = `${API}/lines?${linesQuery({ sort: view.sort, order: view.order, format: "csv" })}`;
    try {
      const body = await SS.getJSON(`${API}/lines?${q}`);
      renderLines(body);
      d.dataset.state = "ready";
    } catch (err) {
      document.getElementById("lines-summary").textContent = `Could not load the lines: ${err.message}`;
      d.dataset.state = "error";
    }
  }

  function renderLines(body) {
    const t = body.totals;
    const clicked = view.row && view.ctx.m ? ` The number clicked: ${view.ctx.m.label} ${SS.fmt(view.ctx.m.unit, view.row.value ?? view.row[view.ctx.m.name])}.` : "";
    const summary = document.getElementById("lines-summary");
    summary.textContent = `${SS.int(t.lines)} lines in ${SS.int(t.orders)} orders: sales ${SS.money(t.sales)}, profit ${SS.money(t.profit)}, quantity ${SS.int(t.quantity)}.${clicked}`;
    summary.dataset.sales = t.sales;
    summary.dataset.lines = String(t.lines);
    const head = document.createElement("tr");
    for (const [label, , sort] of LINE_COLUMNS) {
      const th = document.createElement("th");
      th.scope = "col";
      if (["sales", "quantity", "discount", "profit"].includes(sort)) th.className = "num";
      const b = button(label, `sort lines by ${label}`, () => {
        view.order = view.sort === sort && view.order === "desc" ? "asc" : "desc";
        view.sort = sort; view.page = 1; loadLines();
      }, "sort");
      th.appendChild(b);
      if (view.sort === sort) th.setAttribute("aria-sort", view.order === "desc" ? "descending" : "ascending");
      head.appendChild(th);
    }
    const rows = body.rows.map((r) => {
      const tr = document.createElement("tr");
      cell(tr, r.order_date); cell(tr, `${r.order_id} #${r.line_number}`); cell(tr, r.customer_name);
      cell(tr, r.segment); cell(tr, `${r.city}, ${r.state}`); cell(tr, r.product_name); cell(tr, r.category);
      cell(tr, SS.money(r.sales), "num"); cell(tr, r.quantity === null ? "" : SS.int(r.quantity), "num");
      cell(tr, r.discount === null ? "" : SS.percent(r.discount), "num");
      cell(tr, r.profit === null ? "" : SS.money(r.profit), "num");
      return tr;
    });
    const table = document.getElementById("lines-table");
    table.querySelector("thead").replaceChildren(head);
    table.querySelector("tbody").replaceChildren(...rows);
    document.getElementById("lines-page").textContent = `page ${body.page} of ${body.pages}`;
    document.getElementById("lines-prev").disabled = body.page <= 1;
    document.getElementById("lines-next").disabled = body.page >= body.pages;
  }

  function wire() {
    document.getElementById("lines-prev").addEventListener("click", () => { view.page -= 1; loadLines(); });
    document.getElementById("lines-next").addEventListener("click", () => { view.page += 1; loadLines(); });
    document.getElementById("lines-close").addEventListener("click", () => dialog().close());
  }

  return { renderBreakdown, openLines, wire, resort, rowName, get last() { return last; } };
})();
