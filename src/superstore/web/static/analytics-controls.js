// /analytics controls: the searchable state picker (checkboxes, no Ctrl-click) and the
// action menu of a chart member (right-click, or the context-menu key on a focused chart):
// filter by it, drill into it, or list its order lines.
"use strict";

AN.picker = (() => {
  let onChange = null;
  let timer = null;
  const $ = (id) => document.getElementById(id);

  function build(states, changed) {
    onChange = changed;
    const list = $("state-options");
    for (const name of states) {
      const label = document.createElement("label");
      label.className = "option";
      const box = Object.assign(document.createElement("input"), { type: "checkbox", value: name });
      box.addEventListener("change", () => {
        clearTimeout(timer);  // a few quick ticks make one refresh
        timer = setTimeout(() => onChange(chosen()), 250);
      });
      label.append(box, document.createTextNode(name));
      list.appendChild(label);
    }
    const button = $("state-button");
    const pop = $("state-popover");
    const open = (yes) => {
      pop.hidden = !yes;
      button.setAttribute("aria-expanded", String(yes));
      if (yes) { $("state-search").value = ""; filter(""); $("state-search").focus(); }
    };
    button.addEventListener("click", () => open(pop.hidden));
    $("state-done").addEventListener("click", () => { open(false); button.focus(); });
    $("state-clear").addEventListener("click", () => {
      list.querySelectorAll("input").forEach((b) => { b.checked = false; });
      onChange([]);
    });
    $("state-search").addEventListener("input", (e) => filter(e.target.value));
    pop.addEventListener("keydown", (e) => { if (e.key === "Escape") { open(false); button.focus(); } });
    document.addEventListener("click", (e) => {
      if (!pop.hidden && !pop.contains(e.target) && e.target !== button) open(false);
    });
  }

  function filter(text) {
    const t = text.trim().toLowerCase();
    let shown = 0;
    $("state-options").querySelectorAll("label").forEach((l) => {
      const hit = !t || l.textContent.toLowerCase().includes(t);
      l.hidden = !hit;
      shown += hit;
    });
    $("state-count").textContent = `${shown} shown`;
  }

  const chosen = () => [...$("state-options").querySelectorAll("input:checked")].map((b) => b.value).sort();

  function sync(states) {
    $("state-options").querySelectorAll("input").forEach((b) => { b.checked = states.includes(b.value); });
    $("state-button").textContent = !states.length ? "States: all"
      : states.length <= 2 ? `States: ${states.join(", ")}` : `States: ${states.length} chosen`;
  }

  return { build, sync };
})();

AN.menu = (() => {
  const $ = (id) => document.getElementById(id);

  function open(x, y, title, actions) {
    const menu = $("mark-menu");
    $("mark-menu-title").textContent = title;
    const items = actions.map(([label, go]) => {
      const b = Object.assign(document.createElement("button"), { type: "button", textContent: label });
      b.setAttribute("role", "menuitem");
      b.addEventListener("click", () => { close(); go(); });
      return b;
    });
    $("mark-menu-items").replaceChildren(...items);
    menu.hidden = false;
    const w = menu.offsetWidth, h = menu.offsetHeight;
    menu.style.left = `${Math.max(4, Math.min(x, window.innerWidth - w - 4)) + window.scrollX}px`;
    menu.style.top = `${Math.max(4, Math.min(y, window.innerHeight - h - 4)) + window.scrollY}px`;
    if (items[0]) items[0].focus();
  }
  function close() { $("mark-menu").hidden = true; }

  // What a member of a visual offers; `p` is ECharts' event for it.
  function fromChart(visual, chart, p, ctx) {
    const e = p.event && p.event.event;
    if (e) e.preventDefault();
    const x = e ? e.clientX : 100, y = e ? e.clientY : 100;
    const act = ctx.act;
    if (visual === "trend" || visual === "growth") {
      const rows = visual === "trend" ? chart.__rows.periods : chart.__rows.map((r) => r.period);
      const period = p.componentType === "xAxis" ? p.value : rows[p.dataIndex];
      if (!period) return;
      const label = AN.state.prettyPeriod(period);
      const cat = visual === "trend" && p.seriesName ? p.seriesName : null;
      const actions = [];
      if (AN.state.parsePeriod(period).grain !== "day") actions.push([`Drill into ${label}`, () => act.drillOrLines(period, {})]);
      if (cat) actions.push([`Filter by ${cat}`, () => act.filter("category", cat)]);
      actions.push([`Order lines of ${cat ? `${cat}, ` : ""}${label}`, () => act.lines(cat ? `${cat}, ${label}` : label, { period, ...(cat ? { category: cat } : {}) }, null)]);
      open(x, y, cat ? `${cat}, ${label}` : label, actions);
      return;
    }
    const key = { segments: "segment", regions: "region", states: "state" }[visual];
    const row = p.data && p.data.row;
    if (!row) return;
    const name = row[key];
    open(x, y, name, [
      [ctx.s[key] === name || (key === "state" && ctx.s.states.includes(name)) ? `Clear the ${key} filter` : `Filter by ${name}`, () => act.filter(key, name)],
      [`Order lines of ${name}`, () => act.lines(name, { [key]: key === "state" ? [name] : name }, row)],
    ]);
  }

  document.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
  document.addEventListener("click", (e) => { const m = $("mark-menu"); if (m && !m.hidden && !m.contains(e.target)) close(); });
  return { open, close, fromChart };
})();
