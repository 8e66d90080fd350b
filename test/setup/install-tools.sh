#!/usr/bin/env bash
# Installs the Debian tools the tests drive (real clients and peers), only where missing.
# Run automatically before `npm test`; says what it installs.
set -euo pipefail

declare -A NEEDED=(
  [skopeo]=skopeo
  [podman]=podman
  [ctr]=containerd
  [containerd]=containerd
  [docker-registry]=docker-registry
  [redis-server]=redis-server
  [promtool]=prometheus
  [prometheus]=prometheus
  [htpasswd]=apache2-utils
  [haproxy]=haproxy
  [chromium]=chromium
)
# Docker's daemon goes in without recommends (CLIENTS.md): the tests run it as a private daemon only.
declare -A NEEDED_NO_RECOMMENDS=(
  [dockerd]=docker.io
)

missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
missing_bare=()
for cmd in "${!NEEDED_NO_RECOMMENDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing_bare+=("${NEEDED_NO_RECOMMENDS[$cmd]}")
done
# With recommends, as on the machines where the tests were run; uidmap gives podman newuidmap/newgidmap.
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_bare[@]} -eq 0 ]; then
  echo "test tools: all present (skopeo, podman, containerd, docker-registry, redis-server, prometheus, htpasswd, haproxy, chromium, dockerd)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "test tools: installing Debian packages: ${packages[*]}"
  $SUDO apt-get install -y -qq "${packages[@]}" uidmap >/dev/null
  echo "test tools: installed ${packages[*]}"
fi
if [ ${#missing_bare[@]} -gt 0 ]; then
  echo "test tools: installing Debian packages without recommends: ${missing_bare[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing_bare[@]}" >/dev/null
  echo "test tools: installed ${missing_bare[*]}"
fi
