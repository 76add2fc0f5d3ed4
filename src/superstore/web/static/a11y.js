// Keyboard reach for chart members: a chart is one tab stop; arrow keys move between
// its members (the tooltip shows, a live region reads it out), Enter does what a click
// does (filter or drill), L opens the member's order lines, Escape leaves.
"use strict";

SS.keyboard = (c, spec) => {
  const el = c.getDom();
  el.tabIndex = 0;
  el.setAttribute("role", "application");
  el.setAttribute("aria-roledescription", "chart");
  let at = -1;
  const live = () => document.getElementById("announce");
  const label = () => `${spec.label()}. Arrow keys move between ${spec.noun}, Enter ${spec.verb}, L shows the order lines.`;
  el.setAttribute("aria-label", label());

  function show(k) {
    const n = spec.count();
    if (!n) { live().textContent = "nothing to show"; return; }
    at = ((k % n) + n) % n;
    const target = spec.target(at);
    c.dispatchAction({ type: "downplay" });
    c.dispatchAction({ type: "highlight", ...target });
    c.dispatchAction({ type: "showTip", ...target });
    el.dataset.focusIndex = String(at);
    live().textContent = spec.describe(at);
  }

  el.addEventListener("keydown", (e) => {
    const stride = spec.stride ? spec.stride() : 1;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: stride, ArrowUp: -stride };
    if (e.key in moves) { show(at < 0 ? 0 : at + moves[e.key]); e.preventDefault(); return; }
    if (e.key === "Home") { show(0); e.preventDefault(); return; }
    if (e.key === "End") { show(spec.count() - 1); e.preventDefault(); return; }
    if (at < 0) return;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); spec.primary(at); }
    else if (e.key === "l" || e.key === "L") { e.preventDefault(); spec.lines(at); }
    else if (e.key === "Escape") { c.dispatchAction({ type: "hideTip" }); c.dispatchAction({ type: "downplay" }); at = -1; }
  });
  el.addEventListener("focus", () => el.setAttribute("aria-label", label()));
  el.addEventListener("blur", () => { c.dispatchAction({ type: "hideTip" }); at = -1; });
  return { reset: () => { at = -1; } };
};
