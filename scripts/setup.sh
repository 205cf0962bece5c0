#!/usr/bin/env bash
# Sets up a fresh clone: the Debian packages the data and tests need, then the npm dependencies.
#   dataset-fashion-mnist  the real Fashion-MNIST (/usr/share/datasets/fashion-mnist)
#   redis-server           started by the distributed-sweep tests on 127.0.0.1
#   chromium               drives the browser tests (playwright-core) and checks the HTML report
# python3-torch (the golden fixtures and the benchmarks' peer) is optional: pass --with-torch.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(dataset-fashion-mnist redis-server chromium)
if [ "${1:-}" = "--with-torch" ]; then packages+=(python3-torch); fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
