// Runs before the chart library is parsed (not deferred): asks for the slicer values,
// checks the URL against them, and asks for every visual's answer at once, so the
// answers are in by the time the page can draw (first paint well within a second).
// analytics.js takes these answers if the state it then reads gives the same requests.
"use strict";

AN.boot = (async () => {
  const json = (url) => fetch(url).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const topo = json("/static/vendor/us-states-albers-10m.json");
  const options = await json("/api/analytics/options");
  if (!options) return { options: null, topo: await topo };
  const dropped = AN.state.read(options);
  const urls = AN.state.visualUrls();
  return { options, topo: await topo, dropped, urls, data: urls.map(json) };
})();
