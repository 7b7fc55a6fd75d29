#!/usr/bin/env bash
# Runs all the tests: brings up the test environment (Docker engine, local registry), then the
# doc tests and every test target under cargo-nextest. Extra arguments go to `cargo nextest run`
# (a filter, `--no-capture`, ...); with arguments the doc tests are skipped.
# Exit status: the tests'.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-env.sh

if [ "${CI:-}" = true ]; then
  export NEXTEST_PROFILE="${NEXTEST_PROFILE:-ci}"
fi

# The container image the image tests deploy (tests/it/image.rs): the Dockerfile's runtime
# stage around a static debug binary (quicker to build than the size-tuned release one).
REFIT_IMAGE_PROFILE=dev bash scripts/build-image.sh refit:test

status=0
if [ "$#" -eq 0 ]; then
  # nextest does not run doc tests. They run first, so that nextest's summary closes the output.
  cargo test --doc --quiet || status=$?
fi
cargo nextest run --workspace --all-targets "$@" || status=$?
exit "$status"
