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
)

missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
# With recommends, as on the machines where the tests were run; uidmap gives podman newuidmap/newgidmap.
if [ ${#missing[@]} -eq 0 ]; then
  echo "test tools: all present (skopeo, podman, containerd, docker-registry, redis-server, prometheus, htpasswd)"
  exit 0
fi

mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "test tools: installing Debian packages: ${packages[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${packages[@]}" uidmap >/dev/null
echo "test tools: installed ${packages[*]}"
