#!/usr/bin/env bash
# Installs the system tools the project needs when they are missing:
# Java 17+ and Maven (the local Kafka broker is assembled from Maven Central jars),
# npm; with --browser also Chromium, which the dashboard tests drive through
# Playwright (Playwright's own browser download is not used), and poppler-utils.
# Uses apt-get (Debian/Ubuntu) as root; elsewhere it says exactly what to install.
set -euo pipefail

need=()
if [ "${1:-}" = "--browser" ]; then
  # CHROMIUM_PATH points the tests at another Chromium/Chrome binary.
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need+=(chromium)
  # pdftotext (print test) and pdftoppm (`make screenshots`: the print preview as PNG)
  command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
fi
java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}
java_ok || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
else
  echo "missing system packages: ${need[*]}" >&2
  echo "install them (Debian/Ubuntu: sudo apt-get install ${need[*]}) and rerun" >&2
  exit 1
fi
