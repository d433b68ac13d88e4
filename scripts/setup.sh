#!/usr/bin/env bash
# Sets up everything codealign needs on a fresh Debian/Ubuntu machine; idempotent (a second run takes seconds).
#   system packages: iverilog, verilator, ccache, bubblewrap, libseccomp2, nodejs/npm
#   npm: solc-js (latest, global) + the pinned older compilers in $CODEALIGN_SOLC_DIR
#   a venv in .venv with torch==2.13.0 installed first (CPU wheel), then codealign[dev]
#   Docker (as root): Debian's engine + debootstrap, dockerd started if none answers, the sandbox image
#   (scripts/docker_images.sh, cached by content hash); CODEALIGN_DOCKER=0 skips this part
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '[setup] %s\n' "$*" >&2; }

sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo"

need_apt=()
for pair in iverilog:iverilog verilator:verilator ccache:ccache bwrap:bubblewrap node:nodejs npm:npm; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair##*:}")
done
# libseccomp2: the bwrap backend's seccomp filter is compiled with it (pyseccomp loads it).
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || need_apt+=(libseccomp2)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v solcjs >/dev/null 2>&1; then
  log "npm install -g solc"
  $sudo_ npm install -g --silent solc@0.8.37 >/dev/null
fi

py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$py" -m venv .venv
fi
stamp=.venv/.codealign-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python dependencies (torch==2.13.0 first)"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi

# cocotb testbenches (CVDP's harnesses use the cocotb 1.x API) run on cocotb 1.9 from a venv of their own
# (codealign/domains/verilog/cocotb.py finds it), made from the same interpreter: the sandboxes bind both.
cocotb_env=${CODEALIGN_COCOTB_ENV:-${CODEALIGN_HOME:-$HOME/.cache/codealign}/cocotb-1.9}
cocotb_reqs=codealign/domains/verilog/resources/cocotb/requirements.txt
cocotb_want=$(sha256sum < "$cocotb_reqs" | cut -d' ' -f1)
if [ "$(cat "$cocotb_env/.codealign-installed" 2>/dev/null)" != "$cocotb_want" ]; then
  log "installing cocotb 1.9 and the harnesses' pip extras into $cocotb_env"
  "$(readlink -f .venv/bin/python)" -m venv "$cocotb_env"
  "$cocotb_env/bin/pip" install -q -r "$cocotb_reqs"
  echo "$cocotb_want" > "$cocotb_env/.codealign-installed"
fi

# The solc-js versions the tests and benchmarks need (each skipped when already installed).
.venv/bin/codealign doctor --install-defaults --quiet >&2

# The Docker backend: the engine, a daemon (no bridge network: jobs run with --network none, image builds
# with --network host), and the sandbox image.
if [ "${CODEALIGN_DOCKER:-1}" != 0 ] && [ "$(id -u)" -eq 0 ]; then
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    log "apt-get install docker.io debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd --bridge=none (log: /var/log/codealign-dockerd.log)"
    setsid nohup dockerd --bridge=none >/var/log/codealign-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { log "dockerd did not answer; see /var/log/codealign-dockerd.log"; exit 1; }
  fi
  bash scripts/docker_images.sh
fi
log "ready: $root/.venv/bin/codealign"
