#!/usr/bin/env bash
# Vendors the dashboards' browser assets from the npm registry into the package,
# so pages work offline (no CDN): ECharts (Apache-2.0), topojson-client (ISC) and
# the US state geometry of us-atlas (ISC, Natural Earth / Census data), and
# Swagger UI (Apache-2.0) for the API docs page.
# Pinned versions; the result is checked against vendor/SHA256SUMS, so a rerun
# reproduces the committed files byte for byte.   Usage: scripts/vendor-web.sh [--check]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/src/superstore/web/static/vendor"
packages=(echarts@6.1.0 topojson-client@3.1.0 us-atlas@3.0.1 swagger-ui-dist@5.35.0)

if [ "${1:-}" = "--check" ]; then
  (cd "$dest" && sha256sum --quiet -c SHA256SUMS) && echo "vendored web assets OK"
  exit
fi
command -v npm >/dev/null || { echo "npm is needed: run scripts/system-deps.sh" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "${packages[@]}" >/dev/null)
for tgz in "$work"/*.tgz; do
  name=$(basename "$tgz" .tgz)
  mkdir -p "$work/$name" && tar xzf "$tgz" -C "$work/$name"
done

mkdir -p "$dest"
cp "$work/echarts-6.1.0/package/dist/echarts.min.js" "$dest/echarts.min.js"
cp "$work/echarts-6.1.0/package/LICENSE" "$dest/LICENSE.echarts"
cp "$work/echarts-6.1.0/package/NOTICE" "$dest/NOTICE.echarts"
cp "$work/topojson-client-3.1.0/package/dist/topojson-client.min.js" "$dest/topojson-client.min.js"
cp "$work/topojson-client-3.1.0/package/LICENSE" "$dest/LICENSE.topojson-client"
# Albers USA projection with Alaska and Hawaii inset, pre-projected to a 975x610 frame.
cp "$work/us-atlas-3.0.1/package/states-albers-10m.json" "$dest/us-states-albers-10m.json"
cp "$work/us-atlas-3.0.1/package/LICENSE" "$dest/LICENSE.us-atlas"
cp "$work/swagger-ui-dist-5.35.0/package/swagger-ui-bundle.js" "$dest/swagger-ui-bundle.js"
cp "$work/swagger-ui-dist-5.35.0/package/swagger-ui.css" "$dest/swagger-ui.css"
cp "$work/swagger-ui-dist-5.35.0/package/LICENSE" "$dest/LICENSE.swagger-ui"

if [ -f "$dest/SHA256SUMS" ]; then
  (cd "$dest" && sha256sum --quiet -c SHA256SUMS) || {
    echo "vendored files differ from SHA256SUMS: the npm packages changed?" >&2; exit 1; }
else
  (cd "$dest" && sha256sum echarts.min.js topojson-client.min.js us-states-albers-10m.json swagger-ui* \
     LICENSE.* NOTICE.* > SHA256SUMS)
fi
echo "vendored ${packages[*]} into ${dest#"$here"/}"
