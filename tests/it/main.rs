//! The one integration-test binary (`cargo nextest run --test it`). Every module runs against the real
//! Docker engine and the local registry that `scripts/test-env.sh` starts; each test owns a `TestEnv`
//! that names, labels and removes what the test creates.

// The harness: TestEnv, fixture images, container helpers, counting registry, running refit.
mod support;

// Tests of the harness itself: images, containers, the counting registry, cleanup.
mod harness_smoke;

// `refit update` end to end: digest updates, what is left alone, sharers, stopped containers.
mod update;
