#!/usr/bin/env bash
# Builds the Docker backend's sandbox image; idempotent (a rerun with unchanged inputs takes a second).
#   1. codealign-base:bookworm — Debian 12 minbase from debootstrap + `docker import` (there is no image hub);
#   2. one layer per toolchain, sandboxes/<toolchain>/Dockerfile, each FROM the previous one, tagged
#      codealign-sandbox-<toolchain>:<hash of its Dockerfile and its parent image id>, so an unchanged layer
#      is never rebuilt;
#   3. the last layer tagged codealign-sandbox:latest (the Docker backend's default image).
# Needs a running engine (scripts/setup.sh starts one). Builds run with --network host (the Debian mirror and
# the host's package indexes); jobs later run with --network none.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[docker-images] %s\n' "$*" >&2; }
export DOCKER_BUILDKIT=0  # the classic builder: FROM a local image, --network host, no buildx plugin needed

base=codealign-base:bookworm
final=codealign-sandbox:latest
# Each layer adds one toolchain; the last one, holding them all, is the image every job runs in.
toolchains=(python ladder verilog solidity)

mirror() {
  # The Debian mirror this host's apt uses (deb822 or one-line format), so the image sees the same packages.
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*//')
  echo "${uri:-http://deb.debian.org/debian}"
}

if ! docker image inspect "$base" >/dev/null 2>&1; then
  root=$(mktemp -d /var/tmp/codealign-debootstrap.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  log "debootstrap --variant=minbase bookworm from $(mirror) (about 80 s)"
  debootstrap --variant=minbase bookworm "$root" "$(mirror)" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

# pip inside a build sees the host's package indexes (mirrors, find-links), never a hard-coded registry.
pip_args=()
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
  [ -n "${!var:-}" ] && pip_args+=(--build-arg "$var=${!var}")
done

parent=$base
built=()
for name in "${toolchains[@]}"; do
  parent_id=$(docker image inspect -f '{{.Id}}' "$parent")
  hash=$( { cat "sandboxes/$name/Dockerfile"; echo "$parent_id"; } | sha256sum | cut -c1-16)
  image=codealign-sandbox-$name:$hash
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    log "building $image"
    docker build -q --network host --build-arg "BASE=$parent" "${pip_args[@]}" -t "$image" \
      -f "sandboxes/$name/Dockerfile" "sandboxes/$name" >/dev/null
  fi
  parent=$image
  built+=("$image")
done
docker tag "$parent" "$final"
# Drop the layers earlier inputs built (children first, so each untag frees its image).
for (( i=${#toolchains[@]}-1; i>=0; i-- )); do
  repo=codealign-sandbox-${toolchains[i]}
  docker images --format '{{.Repository}}:{{.Tag}}' "$repo" | { grep -vxF "${built[i]}" || true; } | xargs -r docker rmi >/dev/null
done
log "ready: $final = $parent"
