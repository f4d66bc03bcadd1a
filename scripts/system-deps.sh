#!/usr/bin/env bash
# System packages needed by `make demo` and `make test` (called by the Makefile, each time:
# the dpkg check takes milliseconds, so there is no stamp that could go stale).
#
#   scripts/system-deps.sh demo   Pango, HarfBuzz and fonts, for WeasyPrint (PDF letters)
#   scripts/system-deps.sh test   the same, plus Chromium (browser tests), poppler-utils
#                                 (pdftotext, used by the tests) and clamav-daemon (clamd,
#                                 started by the antivirus tests)
#
# Debian/Ubuntu: missing packages are installed when running as root (apt-get); otherwise the
# script stops at once, printing the exact command to run. Without dpkg (another system) it
# cannot check: `demo` warns and goes on (only the PDF letters need these libraries), `test`
# stops, since the suite needs all of them. SYSTEM_DEPS_CHECK=0 skips the check entirely.
#
# Only bash builtins and dpkg-query, id and apt-get are used (tests/test_system_deps.py runs it
# with stand-ins of those three on PATH).
set -euo pipefail

mode="${1:-}"
PDF_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
TEST_PACKAGES=(chromium poppler-utils clamav-daemon)
case "$mode" in
  demo) packages=("${PDF_PACKAGES[@]}") ;;
  test) packages=("${PDF_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  *)
    echo "Usage : $0 demo|test" >&2
    exit 2
    ;;
esac

if [ "${SYSTEM_DEPS_CHECK:-1}" = "0" ]; then
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "Système sans dpkg : impossible de vérifier les paquets système." >&2
  echo "Il faut l'équivalent des paquets Debian : ${packages[*]}" >&2
  echo "  (Pango ≥ 1.44 et HarfBuzz pour WeasyPrint, polices DejaVu)" >&2
  if [ "$mode" = test ]; then
    echo "  (Chromium en /usr/bin/chromium pour les tests de navigateur, pdftotext de poppler," >&2
    echo "   clamd en /usr/sbin/clamd pour les tests antivirus)" >&2
  fi
  if [ "$mode" = demo ]; then
    echo "La démonstration continue ; sans ces bibliothèques, les lettres PDF échoueront." >&2
    exit 0
  fi
  echo "Une fois ces paquets installés, lancez : SYSTEM_DEPS_CHECK=0 make test" >&2
  exit 1
fi

installed() {
  # "install ok installed" (or "hold ok installed"); not "deinstall ok config-files", etc.
  local status
  status="$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null)" || return 1
  [[ "$status" == *" ok installed"* ]]
}

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "Paquets système manquants : ${missing[*]}" >&2
  echo "Lancez : sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  echo "puis relancez : make $mode" >&2
  exit 1
fi

echo "Installation des paquets système manquants : ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

still=()
for package in "${missing[@]}"; do
  installed "$package" || still+=("$package")
done
if [ "${#still[@]}" -gt 0 ]; then
  echo "Paquets toujours absents après apt-get : ${still[*]}" >&2
  exit 1
fi
