#!/usr/bin/env bash
# Make a Docker engine and compose usable here: install docker.io (and debootstrap for the base-image
# stand-ins, and compose v1 when no v2 plugin is present) from Debian, then start dockerd in the
# background if it is not running. Idempotent; prints what it does on stderr. Exit 1 when it cannot.
set -euo pipefail

say() { echo "docker: $*" >&2; }
sudo=""
[[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo="sudo -n"

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  say "installing $* (apt-get) ..."
  $sudo apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null; }
}

has_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ! command -v docker >/dev/null || ! has_compose; then
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
fi
if ((${#missing[@]})); then
  apt_install "${missing[@]}" || { say "could not install ${missing[*]}"; exit 1; }
fi

if docker info >/dev/null 2>&1; then exit 0; fi
if [[ $(id -u) -ne 0 && -z $sudo ]]; then
  say "dockerd is not answering and starting it needs root (or sudo): $(docker info 2>&1 | tail -n 1)"
  exit 1
fi
log=/var/log/corpmail-dockerd.log
if pgrep -x dockerd >/dev/null; then
  say "dockerd is running but not answering yet; waiting ..."
else
  say "starting dockerd in the background (log: $log) ..."
  # no inherited output: a caller that reads this script's output must not wait on dockerd
  $sudo setsid sh -c 'exec dockerd >>"$0" 2>&1' "$log" >/dev/null 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
say "dockerd did not answer within 30 s; last lines of its log:"
tail -n 15 "$log" >&2 || true
exit 1
