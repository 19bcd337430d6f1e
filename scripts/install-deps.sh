#!/usr/bin/env bash
# Installs every Debian 12 package the project builds, tests and runs with. Idempotent:
# when everything is already installed it only checks. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev
  libsqlite3-dev sqlite3
  libcsv-dev libjansson-dev uuid-dev uuid-runtime zlib1g-dev
  libcunit1-dev valgrind
  tzdata python3 jq curl procps time
  libpq-dev postgresql
  libhdf5-openmpi-dev hdf5-tools
  slurm-wlm munge
  libmicrohttpd-dev wrk
  iproute2 util-linux
  # The sanitizer and fuzzing stages (scripts/test-sanitize.sh, test-fuzz.sh): clang, its
  # runtimes (ASan, UBSan, libFuzzer; clang-14 only recommends them) and llvm-symbolizer
  # for file:line in the reports.
  clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
