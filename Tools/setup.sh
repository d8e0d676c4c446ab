#!/usr/bin/env bash
# Installs the Debian packages modeltool builds against, only when one is missing.
# Every README command runs this first. apt is retried once: a parallel apt run can break an install.
set -euo pipefail

packages=(libprotobuf-c-dev protobuf-c-compiler libhdf5-dev libopenblas-dev zlib1g-dev libturbojpeg0-dev libspng-dev pkg-config)
optional=(dataset-fashion-mnist)

missing=()
for p in "${packages[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi

echo "setup: installing ${missing[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# apt's progress goes to a log that is shown only when the install fails.
install() {
  { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1 ||
    { cat "$log" >&2; return 1; }
}
# The optional data set is only for the demo; a mirror without it must not stop the build.
required_missing=()
for p in "${missing[@]}"; do
  case " ${optional[*]} " in *" $p "*) ;; *) required_missing+=("$p");; esac
done
if [ ${#required_missing[@]} -gt 0 ]; then
  install "${required_missing[@]}" || { echo "setup: apt failed, retrying once" >&2; sleep 5; install "${required_missing[@]}"; }
fi
for p in "${optional[@]}"; do
  case " ${missing[*]} " in *" $p "*) install "$p" >/dev/null 2>&1 || echo "setup: optional package $p not installed" >&2;; esac
done
