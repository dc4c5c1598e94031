#!/usr/bin/env bash
# Runs the whole Provisio test suite on a fresh Debian machine.
# Installs the system packages the tests need (real Mosquitto, sshd, LXC, InfluxDB, Xvfb, g++),
# then runs every Rust test of the workspace and the host tests of the Arduino library.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  mosquitto            # real MQTT broker for device/engine tests
  openssh-server       # real sshd standing in for Raspberry Pis
  lxc                  # real Linux containers
  influxdb             # InfluxDB 1.x for the MQTT -> InfluxDB connector
  iproute2             # network namespaces for multi-host tests
  nginx                # the gateways' caching proxies and the counting origin front (tests/tests/gateways.rs)
  xvfb                 # the real window under a virtual X server
  mesa-vulkan-drivers  # software rendering for egui_kittest snapshots
  libxkbcommon-x11-0 libgl1 libegl1
  g++ make             # host build of the Arduino library
  gcc-xtensa-lx106 picolibc-xtensa-lx106-elf  # ESP8266 cross build of the Arduino library's core
  busybox-static       # tiny container root filesystems
  debootstrap          # the real container images (scripts/build-images.sh)
  python3              # the HomeMatic CCU emulator (xmlrpc.server) of the gateway tests
  sudo                 # a Pi login without root (engines/tests/container_secrets.rs)
  e2fsprogs            # chattr: a kept recovery file root cannot remove (app/tests/recovery_gui.rs)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}" || {
      echo "warning: some packages failed to install; tests needing them will report it" >&2; }
  else
    echo "warning: missing packages (${missing[*]}); run as root to install them" >&2
  fi
fi

# PyPI: OpenStack tosca-parser, the independent peer of the TOSCA YAML reader
# (model/tests/yaml_peer.rs runs scripts/yaml_peer.py over tests/corpus-yaml).
PYPI_PACKAGES=(tosca-parser)
if command -v python3 >/dev/null; then
  if ! python3 -c "import toscaparser" 2>/dev/null; then
    echo "==> pip installing: ${PYPI_PACKAGES[*]}"
    python3 -m pip install -q "${PYPI_PACKAGES[@]}" || echo "warning: pip install failed; the YAML peer test will be skipped" >&2
  fi
  if python3 -c "import toscaparser" 2>/dev/null; then
    export PROVISIO_REQUIRE_PEER=1
  fi
fi

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Tests never touch the user's data directory (instances, recovery, recent files).
export PROVISIO_DATA_DIR=${PROVISIO_DATA_DIR:-$(mktemp -d)}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
echo "==> cargo fmt --check and clippy -D warnings (as egui, rerun and helix enforce them)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

if [ -d firmware/arduino ] && [ -f firmware/arduino/Makefile ]; then
  echo "==> Arduino library host tests"
  make -s -C firmware/arduino test
  if command -v xtensa-lx106-elf-g++ >/dev/null; then
    echo "==> Arduino library core for the ESP8266 CPU (xtensa-lx106)"
    make -s -C firmware/arduino esp8266
  else
    echo "warning: xtensa-lx106-elf-g++ missing; ESP8266 cross build skipped" >&2
  fi
fi

# The library's container images (debootstrap + npm), built once per run into the shared cache
# so every test (tests/tests/images.rs, simulated deploys) reuses them; a warm cache takes a second.
if [ "$(id -u)" -eq 0 ] && command -v debootstrap >/dev/null && command -v lxc-start >/dev/null; then
  echo "==> container images (scripts/build-images.sh)"
  # The tests' own build of the provisio binary (same features as the test run below), so the
  # images that bundle it are keyed by the very binary the tests use.
  cargo test -q --workspace --no-run
  started=$(date +%s)
  if scripts/build-images.sh --provisio-bin target/debug/provisio; then
    echo "==> container images ready in $(( $(date +%s) - started )) s"
    export PROVISIO_REQUIRE_IMAGES=1
  else
    echo "warning: building the container images failed; the image tests will report it" >&2
  fi
else
  echo "warning: container images need root, debootstrap and lxc; the image tests are skipped" >&2
fi

echo "==> cargo tests (workspace)"
summary=$(mktemp)
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$summary"
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast 2>&1 | tee "$summary"
fi
# One closing line for the whole run (the doc tests' "0 passed" is not the run's result).
passed=$(grep -oE '[0-9]+ tests run: [0-9]+ passed' "$summary" | tail -1 | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
if [ -z "$passed" ]; then
  passed=$(grep -oE 'test result: ok\. [0-9]+ passed' "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null || echo 0)
fi
echo "==> all tests passed"
echo "${passed} passed, 0 failed"
