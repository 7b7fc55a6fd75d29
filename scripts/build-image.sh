#!/usr/bin/env bash
# Builds refit's container image from a static binary built on this machine, offline: the
# Dockerfile's runtime stage with DIST=context. Prints the image id, size and binary size.
#
#   scripts/build-image.sh [TAG]        default tag: refit:local
#   REFIT_IMAGE_PROFILE=dev|dist        dist (default): the small release binary; dev: a debug
#                                       build, much faster to compile (what the tests use)
#   CARGO_TARGET_DIR                    as cargo reads it
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-refit:local}"
profile="${REFIT_IMAGE_PROFILE:-dist}"
target=x86_64-unknown-linux-gnu
target_dir="${CARGO_TARGET_DIR:-target}"

# The explicit --target keeps RUSTFLAGS off build scripts and proc-macros (FINDINGS.md).
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --quiet --locked --profile "$profile" --target "$target" --bin refit
case "$profile" in
  dev) out_dir=debug ;;
  *) out_dir="$profile" ;;
esac
binary="$target_dir/$target/$out_dir/refit"
# A static binary needs no shared library: a FROM scratch image has none to give it.
if readelf -d "$binary" 2>/dev/null | grep -q '(NEEDED)'; then
  echo "build-image: $binary is not static" >&2
  exit 1
fi

root=target/image-root
rm -rf "$root"
mkdir -p "$root/etc/ssl/certs" "$root/var/lib/refit" "$root/etc/refit"
cp "$binary" "$root/refit"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"

# BuildKit builds only the stages DIST=context needs, so the Rust image is never pulled. A
# current docker CLI needs its buildx plugin for that; Debian's docker.io client (20.10) has
# BuildKit built in.
if docker buildx version >/dev/null 2>&1; then
  client=docker
elif [ -x /usr/bin/docker ]; then
  client=/usr/bin/docker
else
  echo "build-image: no docker client with BuildKit (install the buildx plugin)" >&2
  exit 1
fi
DOCKER_BUILDKIT=1 "$client" build --quiet --build-arg DIST=context --target runtime -t "$tag" . >/dev/null
size=$(docker image inspect --format '{{.Size}}' "$tag")
echo "image $tag: $((size / 1000)) kB ($(stat -c %s "$binary") bytes of binary, profile $profile)"
