#!/usr/bin/env bash
# Benchmarks refit against a plain-shell baseline on this machine's Docker engine, with a
# loopback registry of its own (own port, own storage under /tmp, access log on, stopped at
# the end). Workloads (docs/benchmarks.md says what each measures and the targets):
#
#   W1  check, nothing changed: 50 containers over 10 images
#   W2  update: 10 containers over 10 images, each with a new digest of a few MB
#   W3  idle daemon: `refit run` after its first pass over 50 containers, 30 s idle
#   W4  check at scale: 200 containers over 20 images, 1000 over 100
#
# refit and the baseline run alternately (A B A B ...); the output gives medians, min–max and
# the ratio refit / baseline pair by pair. Everything created is named refit-bench-<random>
# and removed on exit; nothing else on the engine is touched.
#
#   scripts/bench.sh [--quick] [--reps N]
#     --quick   1 repetition, W4 only at 200 containers (a few minutes)
#     --reps N  repetitions (default 3)
#   REFIT_BIN   the binary to measure (default: the static dist build, built when missing)
#   BENCH_PAYLOAD_MB   size of W2's new layer (default 3)
#
# Not part of the test suite or CI: timings are for reading, not asserting.
set -euo pipefail
cd "$(dirname "$0")/.."

reps=3
quick=false
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=true; reps=1 ;;
    --reps) reps="$2"; shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
payload_mb="${BENCH_PAYLOAD_MB:-3}"
health_wait=1 # seconds; REFIT_HEALTH_WAIT, reported and subtracted in W2
parallel=8    # xargs -P for setup and for the baseline's requests

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# --- tools ----------------------------------------------------------------------------------
command -v docker >/dev/null || die "no docker client (scripts/test-env.sh installs the engine)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "the Docker engine does not answer (scripts/test-env.sh)"
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/bin/busybox ] || missing+=(busybox-static)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

target=x86_64-unknown-linux-gnu
dist_dir="${CARGO_TARGET_DIR:-target}"
refit="${REFIT_BIN:-$dist_dir/$target/dist/refit}"
if [ ! -x "$refit" ]; then
  log "building the dist binary ($refit)"
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --locked --profile dist --target "$target" --bin refit
fi
refit="$(realpath "$refit")"

# --- names, registry ------------------------------------------------------------------------
prefix="refit-bench-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
work="/tmp/$prefix"
mkdir -p "$work"/{data,ctx}
port=""
for _ in $(seq 1 20); do
  p=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || die "no free loopback port"
reg="127.0.0.1:$port"
reglog="$work/registry.log"
registry_pid=""
events_pid=""

cleanup() {
  set +e
  [ -n "$events_pid" ] && kill "$events_pid" 2>/dev/null
  log "cleaning up $prefix"
  docker ps -aq --filter "label=bench.prefix=$prefix" | xargs -r -n 100 docker rm -f >/dev/null 2>&1
  docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | awk -v r="$reg/$prefix/" 'index($1, r) == 1 {print $1}' |
    xargs -r -n 50 docker rmi -f >/dev/null 2>&1
  docker images -q --filter "label=bench.prefix=$prefix" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $work/data
  delete:
    enabled: true
http:
  addr: $reg
  secret: $prefix
EOF
docker-registry serve "$work/registry.yml" >"$reglog" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do curl -sf -m 1 "http://$reg/v2/" >/dev/null && break; sleep 0.1; done
curl -sf -m 1 "http://$reg/v2/" >/dev/null || die "registry at $reg did not start"
log "registry $reg (pid $registry_pid), work dir $work, prefix $prefix"

# --- fixtures -------------------------------------------------------------------------------
# A FROM scratch rootfs with static busybox, as tests/it/support/image.rs builds, imported as
# one layer (docker import is much faster than a build); a label makes each image distinct.
rootfs="$work/ctx/rootfs"
mkdir -p "$rootfs"/{bin,etc,tmp}
cp /usr/bin/busybox "$rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$rootfs/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$work/ctx/rootfs.tar" .

# The W2 command: sh as PID 1 ignores SIGTERM unless it traps it; with the trap a stop is prompt.
w2_cmd='CMD ["sh","-c","trap \"exit 0\" TERM; sleep 86400 & wait"]'

# make_image REF N [PAYLOAD_MB]: imports the rootfs (plus a random payload) as REF, pushes it.
make_image() {
  local ref=$1 n=$2 mb=${3:-0} tarball="$work/ctx/rootfs.tar" cmd='CMD ["sleep","86400"]'
  if [ "$mb" -gt 0 ]; then
    local d="$work/ctx/p-$n-$RANDOM$RANDOM"
    mkdir -p "$d"
    head -c "$((mb * 1024 * 1024))" /dev/urandom >"$d/payload"
    tarball="$d.tar"
    tar -C "$rootfs" -cf "$tarball" . && tar -C "$d" -rf "$tarball" payload
    rm -rf "$d"
    cmd=$w2_cmd
  fi
  docker import --change "LABEL bench.prefix=$prefix bench.id=$n-$RANDOM" --change "$cmd" "$tarball" "$ref" >/dev/null
  [ "$tarball" = "$work/ctx/rootfs.tar" ] || rm -f "$tarball"
  docker push -q "$ref" >/dev/null 2>&1 || docker push "$ref" >/dev/null
}
export -f make_image
export work rootfs prefix w2_cmd

chk_image() { echo "$reg/$prefix/chk-$1:latest"; }
# ensure_check_images N: images chk-1..chk-N exist and are pushed.
check_images=0
ensure_check_images() {
  [ "$1" -le "$check_images" ] && return
  seq "$((check_images + 1))" "$1" | xargs -P 4 -I{} bash -c "make_image $reg/$prefix/chk-{}:latest {}"
  check_images=$1
}
# ensure_check_containers N IMAGES: the check scope holds N containers, container i on image
# ((i - 1) % IMAGES) + 1 for the ones it adds. Created in parallel.
check_containers=0
ensure_check_containers() {
  local n=$1 images=$2
  [ "$n" -le "$check_containers" ] && return
  ensure_check_images "$images"
  seq "$((check_containers + 1))" "$n" | awk -v im="$images" -v r="$reg/$prefix" '{ printf "%d %s/chk-%d:latest\n", $1, r, (($1 - 1) % im) + 1 }' |
    xargs -P "$parallel" -L 1 sh -c 'docker run -d -q --name '"$prefix"'-chk-$0 --label bench.prefix='"$prefix"' \
      --label refit.enable=true --label refit.scope='"$prefix"'-chk --network none --memory 8m "$1" >/dev/null'
  check_containers=$n
}

# --- measuring ------------------------------------------------------------------------------
reglines() { wc -l <"$reglog"; }
# requests SINCE_LINE: "ping token head get blob MB" for the access-log lines after SINCE_LINE.
requests() {
  sleep 0.2
  tail -n "+$(($1 + 1))" "$reglog" | awk '
    /\] "/ {
      s = substr($0, index($0, "] \"") + 3); split(s, q, "\""); split(q[1], w, " ")
      m = w[1]; p = w[2]; sub(/\?.*/, "", p); split(q[2], t, " "); st = t[1]; sz = t[2]
      if (p ~ /\/token$/) tok++
      else if (p == "/v2/" || p == "/v2") ping++
      else if (p ~ /\/manifests\//) { if (m == "HEAD") mh++; else if (m == "GET") mg++; else o++ }
      else if (p ~ /\/blobs\/sha256:/ && m == "GET") { bg++; if (sz ~ /^[0-9]+$/) by += sz }
      else o++
    }
    END { printf "%d %d %d %d %d %.1f\n", ping, tok, mh, mg, bg, by / 1048576 }'
}

refit_env=(env -i PATH="$PATH" HOME="$work" REFIT_CONFIG="$work/none.toml" REFIT_STATE_PATH="$work/refit.db"
  REFIT_LOG_LEVEL=warn REFIT_HEALTH_WAIT="${health_wait}s")
: >"$work/none.toml"

# The baseline check: list the containers' images, then per distinct image one HEAD of the
# manifest with Docker's Accept headers, compared with the local RepoDigests; in parallel.
baseline_check() {
  docker ps --filter "label=refit.scope=$prefix-chk" --format '{{.Image}}' | sort -u |
    xargs -P "$parallel" -I{} sh -c '
      ref={}; host=${ref%%/*}; rest=${ref#*/}; repo=${rest%:*}; tag=${rest##*:}
      remote=$(curl -sfI -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
        -H "Accept: application/vnd.docker.distribution.manifest.list.v2+json" \
        -H "Accept: application/vnd.oci.image.manifest.v1+json" \
        -H "Accept: application/vnd.oci.image.index.v1+json" \
        "http://$host/v2/$repo/manifests/$tag" | tr -d "\r" | awk -F": " "tolower(\$1)==\"docker-content-digest\" {print \$2}")
      local=$(docker image inspect --format "{{json .RepoDigests}}" "$ref")
      case "$local" in *"@$remote"*) echo "$ref up-to-date" ;; *) echo "$ref update" ;; esac' >"$work/out.txt"
}

# Results: lines "workload metric side rep value" in $work/results.
results="$work/results"
: >"$results"
record() { echo "$1 $2 $3 $4 $5" >>"$results"; }

# run_check WORKLOAD: reps × (refit, baseline), recording wall, rss and requests.
run_check() {
  local w=$1 rep side before r
  for rep in $(seq 1 "$reps"); do
    for side in refit baseline; do
      before=$(reglines)
      if [ "$side" = refit ]; then timed "$work/t" refit_check_cmd; else timed "$work/t" baseline_check_cmd; fi
      read -r wall rss <"$work/t"
      r=$(requests "$before")
      record "$w" wall "$side" "$rep" "$wall"
      record "$w" rss_mib "$side" "$rep" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
      set -- $r
      record "$w" req_ping "$side" "$rep" "$1"
      record "$w" req_token "$side" "$rep" "$2"
      record "$w" req_manifest_head "$side" "$rep" "$3"
      record "$w" req_manifest_get "$side" "$rep" "$4"
      record "$w" req_blob_get "$side" "$rep" "$5"
    done
  done
  if [ "$(jq '[.containers[] | select(.decision == "up-to-date")] | length' "$work/out.json")" != "$check_containers" ]; then
    log "$w: refit did not find every container up to date:"
    jq -r '.containers[] | "\(.name) \(.decision) \(.reason)"' "$work/out.json" | head -5 >&2
  fi
}
export -f baseline_check
export refit reg parallel
# timed OUT WHAT...: runs WHAT under /usr/bin/time (stdout to $work/out.json); OUT gets
# "wall_s maxrss_kib". /usr/bin/time runs programs, not functions: the checks are named.
timed() {
  local out=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  case "$1" in
    refit_check_cmd)
      /usr/bin/time -f '%M' -o "$out.rss" "${refit_env[@]}" REFIT_POLICY_SCOPE="$prefix-chk" "$refit" check --json >"$work/out.json" ||
        log "refit check exited $?" ;;
    baseline_check_cmd)
      /usr/bin/time -f '%M' -o "$out.rss" bash -c baseline_check ;;
    *)
      /usr/bin/time -f '%M' -o "$out.rss" "$@" >"$work/out.json" 2>"$work/cmd.err" || log "$* exited $?" ;;
  esac
  t1=$(date +%s%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(tail -n1 "$out.rss")" >"$out"
}

# --- W1 -------------------------------------------------------------------------------------
log "W1: 50 containers over 10 images"
ensure_check_containers 50 10
run_check W1

# --- W3 -------------------------------------------------------------------------------------
log "W3: refit run, first pass over 50 containers, then 30 s idle"
"${refit_env[@]}" REFIT_POLICY_SCOPE="$prefix-chk" REFIT_LOG_LEVEL=info REFIT_SCHEDULE_UPDATE_ON_START=true \
  REFIT_SCHEDULE_INTERVAL=24h "$refit" run >"$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 1 300); do grep -q "next pass scheduled" "$work/daemon.log" && break; sleep 0.1; done
grep -q "next pass scheduled" "$work/daemon.log" || { tail "$work/daemon.log" >&2; die "W3: the daemon's first pass did not finish in 30 s"; }
sleep 1
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$daemon/stat"; }
cpu0=$(cpu); before=$(reglines)
rss_after_pass=$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status")
sleep 30
cpu1=$(cpu)
r=$(requests "$before")
rss_idle=$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$daemon/status")
kill -TERM "$daemon"; wait "$daemon" || true
set -- $r
record W3 rss_after_pass_mib refit 1 "$(awk -v k="$rss_after_pass" 'BEGIN { printf "%.1f", k / 1024 }')"
record W3 rss_idle_mib refit 1 "$(awk -v k="$rss_idle" 'BEGIN { printf "%.1f", k / 1024 }')"
record W3 rss_peak_mib refit 1 "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')"
record W3 idle_cpu_s refit 1 "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$ticks" 'BEGIN { printf "%.2f", (b - a) / t }')"
record W3 idle_requests refit 1 "$(($1 + $2 + $3 + $4 + $5))"

# --- W2 -------------------------------------------------------------------------------------
log "W2: 10 containers over 10 images, new digests of $payload_mb MB each"
w2_ref() { echo "$reg/$prefix/upd-$1:latest"; }
seq 1 10 | xargs -P 4 -I{} bash -c "make_image $reg/$prefix/upd-{}:latest {} 1"
for i in $(seq 1 10); do
  docker run -d -q --name "$prefix-upd-$i" --label "bench.prefix=$prefix" --label refit.enable=true \
    --label "refit.scope=$prefix-upd" --network none --memory 8m "$(w2_ref "$i")" >/dev/null
done
# publish: a new digest for every W2 image; the local tag stays on the running image and the
# new image is not kept, so the pull is real.
publish_w2() {
  local i old
  for i in $(seq 1 10); do
    old=$(docker image inspect --format '{{.Id}}' "$(w2_ref "$i")")
    echo "$i $old"
  done >"$work/w2-old"
  seq 1 10 | xargs -P 4 -I{} bash -c "make_image $reg/$prefix/upd-{}:latest {} $payload_mb"
  while read -r i old; do
    new=$(docker image inspect --format '{{.Id}}' "$(w2_ref "$i")")
    docker tag "$old" "$(w2_ref "$i")"
    docker rmi "$new" >/dev/null
  done <"$work/w2-old"
}
baseline_update() {
  seq 1 10 | xargs -P 4 -I{} docker pull -q "$reg/$prefix/upd-{}:latest" >/dev/null
  local i
  for i in $(seq 1 10); do
    docker stop "$prefix-upd-$i" >/dev/null
    docker rm "$prefix-upd-$i" >/dev/null
    docker run -d -q --name "$prefix-upd-$i" --label "bench.prefix=$prefix" --label refit.enable=true \
      --label "refit.scope=$prefix-upd" --network none --memory 8m "$(w2_ref "$i")" >/dev/null
  done
}
export -f baseline_update w2_ref
for rep in $(seq 1 "$reps"); do
  for side in refit baseline; do
    publish_w2
    docker events --since "$(date +%s)" --filter "label=refit.scope=$prefix-upd" --filter event=die \
      --filter event=start --format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "name"}}' >"$work/events" &
    events_pid=$!
    sleep 0.5
    before=$(reglines)
    if [ "$side" = refit ]; then
      timed "$work/t" "${refit_env[@]}" REFIT_POLICY_SCOPE="$prefix-upd" REFIT_LOG_LEVEL=info REFIT_LOG_FORMAT=json "$refit" update --json
    else
      timed "$work/t" bash -c baseline_update
    fi
    sleep 1
    kill "$events_pid"; wait "$events_pid" 2>/dev/null || true; events_pid=""
    read -r wall rss <"$work/t"
    r=$(requests "$before")
    set -- $r
    if [ "$side" = refit ] && [ "$(jq '[.containers[] | select(.outcome == "updated")] | length' "$work/out.json")" != 10 ]; then
      log "W2 rep $rep: refit did not update all 10:"
      jq -r '.containers[] | "\(.name) \(.outcome) \(.reason)"' "$work/out.json" >&2
    fi
    updated=$(docker ps --filter "label=refit.scope=$prefix-upd" -q | wc -l)
    record W2 wall "$side" "$rep" "$wall"
    if [ "$side" = refit ]; then
      # The gates run one after the other: their waits, from refit's log, add up.
      health=$(grep -o '"waited_ms":[0-9]*' "$work/cmd.err" | awk -F: '{ s += $2 } END { printf "%.3f", s / 1000 }')
      record W2 health_wait_s "$side" "$rep" "$health"
      record W2 wall_minus_health "$side" "$rep" "$(awk -v w="$wall" -v h="$health" 'BEGIN { printf "%.3f", w - h }')"
    else
      record W2 health_wait_s "$side" "$rep" 0
      record W2 wall_minus_health "$side" "$rep" "$wall"
    fi
    record W2 rss_mib "$side" "$rep" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
    record W2 req_ping "$side" "$rep" "$1"
    record W2 req_manifest_head "$side" "$rep" "$3"
    record W2 req_manifest_get "$side" "$rep" "$4"
    record W2 req_blob_get "$side" "$rep" "$5"
    record W2 mb_pulled "$side" "$rep" "$6"
    # downtime per container: its die → the next start under the same name
    awk '$2 == "die" { d[$3] = $1 } $2 == "start" && ($3 in d) { printf "%.3f\n", ($1 - d[$3]) / 1e9; delete d[$3] }' "$work/events" |
      sort -n >"$work/down"
    [ "$(wc -l <"$work/down")" -eq 10 ] || log "W2 $side rep $rep: $(wc -l <"$work/down") of 10 restarts seen ($updated running)"
    record W2 downtime_median_s "$side" "$rep" "$(awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : "nan") }' "$work/down")"
    record W2 downtime_max_s "$side" "$rep" "$(tail -n1 "$work/down")"
  done
done

# --- W4 -------------------------------------------------------------------------------------
log "W4: 200 containers over 20 images"
ensure_check_containers 200 20
run_check W4-200
if ! $quick; then
  log "W4: 1000 containers over 100 images"
  ensure_check_containers 1000 100
  run_check W4-1000
fi

# --- report ---------------------------------------------------------------------------------
static_size=$(stat -c %s "$refit")
echo
echo "refit bench: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Docker $(docker version --format '{{.Server.Version}}'), $reps repetition(s), $(date -u +%FT%TZ)"
echo "binary: $refit ($(awk -v s="$static_size" 'BEGIN { printf "%.1f MB", s / 1e6 }'))"
echo "W2: REFIT_HEALTH_WAIT=${health_wait}s; health_wait_s sums refit's logged gate waits (waited_ms), subtracted in wall_minus_health"
echo
printf '| %-8s | %-20s | %-24s | %-24s | %-22s |\n' workload metric "refit median (min–max)" "baseline median (min–max)" "refit/baseline by pair"
printf '|%s|%s|%s|%s|%s|\n' ---------- ---------------------- -------------------------- -------------------------- ------------------------
awk '
  { k = $1 SUBSEP $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    v[k, $3, $4] = $5; cnt[k, $3]++; if ($4 > maxrep) maxrep = $4 }
  function stats(k, side,   i, m, a, t, j) {
    m = 0
    for (i = 1; i <= maxrep; i++) if ((k, side, i) in v) a[++m] = v[k, side, i] + 0
    if (m == 0) return "—"
    for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    if (m == 1) return sprintf("%g", med)
    return sprintf("%g (%g–%g)", med, a[1], a[m])
  }
  END {
    for (x = 1; x <= n; x++) {
      k = order[x]; split(k, p, SUBSEP)
      r = ""
      for (i = 1; i <= maxrep; i++)
        if (((k, "refit", i) in v) && ((k, "baseline", i) in v)) {
          b = v[k, "baseline", i] + 0; a = v[k, "refit", i] + 0
          r = r (r == "" ? "" : " ") (b == 0 ? (a == 0 ? "=" : "∞") : sprintf("%.2f", a / b))
        }
      printf "| %-8s | %-20s | %-24s | %-24s | %-22s |\n", p[1], p[2], stats(k, "refit"), stats(k, "baseline"), (r == "" ? "—" : r)
    }
  }' "$results"
