#!/usr/bin/env bash
# Tag local stand-ins for the base images that the Dockerfile and docker-compose.yml name
# (python:3.11-slim, postgres:16) where those tags are absent, i.e. where no image registry is reachable.
# An image already under the tag (the official one, on a machine that can pull) is used unchanged; a
# stand-in built from older versions of these files is rebuilt. Stand-ins carry LABEL corpmail.standin=true.
# Their base is Debian bookworm from the Debian archive: debootstrap --variant=minbase, then docker import.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASE=corpmail/standin-debian:bookworm
MIRROR=${CORPMAIL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=/etc/ssl/certs/ca-certificates.crt
say() { echo "stand-ins: $*" >&2; }

exec 9>/tmp/corpmail-standins.lock  # one builder at a time on this machine
flock 9

version() {  # what a stand-in is built from: its folder's files (and the host's CA bundle for Python)
  { cat "$here/$1"/*; if [[ $1 == python ]]; then cat "$HOST_CA"; fi; } | sha256sum | cut -c1-16
}

label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null; }

base_up() {
  docker image inspect "$BASE" >/dev/null 2>&1 && return 0
  local root log
  root=$(mktemp -d /var/tmp/corpmail-rootfs.XXXXXX)
  log=$(mktemp /tmp/corpmail-debootstrap.XXXXXX.log)
  say "debootstrap --variant=minbase bookworm → $BASE (log: $log) ..."
  if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$log" 2>&1; then
    tail -n 20 "$log" >&2; rm -rf "$root"; return 1
  fi
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | docker import --change 'LABEL corpmail.standin=true' --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE" >/dev/null
  rm -rf "$root" "$log"
}

standin_up() {  # folder, tag
  local dir=$1 tag=$2 want have ctx
  want=$(version "$dir")
  if have=$(label "$tag" corpmail.standin.version); then
    if [[ $(label "$tag" corpmail.standin) != true ]]; then return 0; fi  # the official image: keep it
    [[ $have == "$want" ]] && return 0
    say "$tag: stand-in is out of date, rebuilding"
  fi
  base_up
  ctx=$(mktemp -d)
  cp "$here/$dir"/* "$ctx/"
  if [[ $dir == python ]]; then cp "$HOST_CA" "$ctx/ca-certificates.crt"; fi
  say "building the $tag stand-in ..."
  docker build -q --build-arg BASE="$BASE" --label corpmail.standin.version="$want" -t "$tag" "$ctx" >/dev/null \
    2> >(grep -v -i -e deprecated -e buildx -e 'legacy builder' -e '^ *$' >&2)
  rm -rf "$ctx"
}

standin_up python python:3.11-slim
standin_up postgres postgres:16
