//! The one integration-test binary (`cargo nextest run --test it`). Every module runs against the real
//! Docker engine and the local registry that `scripts/test-env.sh` starts; each test owns a `TestEnv`
//! that names, labels and removes what the test creates.

// The harness: TestEnv, fixture images, container helpers, counting registry, running refit.
mod support;

// Tests of the harness itself: images, containers, the counting registry, cleanup.
mod harness_smoke;

// `refit update` end to end: digest updates, what is left alone, sharers, stopped containers.
mod update;

// Configuration fidelity: every operator-set field survives, image defaults follow the new image.
mod fidelity;

// `refit check`: request counts, decisions (JSON and table), selection, monitor-only, skips.
mod check;

// The command line: exit statuses, config errors and `refit config`, failures isolated per registry.
mod cli;

// Multi-arch indexes: only a change of the container's own platform manifest is an update.
mod multiarch;

// Policy labels: lifecycle hooks, refit.pull=false, refit.update=none.
mod policy;

// What holds updates back: refit.min-age, maintenance windows, scopes.
mod gates;

// `refit run`: passes on a schedule, SIGTERM mid-update, WATCHTOWER_RUN_ONCE.
mod daemon;

// Semver strategies: the highest newer tag within the step, precision and flavour kept, no pre-release.
mod semver;

// How refit reaches the engine (unix, tcp) and private registries (token auth, config.json).
mod access;

// The HTTP API of `refit run`: the token, update/status/history, metrics, no second concurrent pass.
mod api;

// Notifications: every notifier against a loopback catcher, announce-once, a notifier that is down.
mod notify;

// Trust: cosign signatures required by [[trust.signatures]], registries outside allowed_registries.
mod trust;

// A TLS registry with htpasswd auth: credentials from config.json, a helper and the TOML file.
mod tls_auth;

// Politeness: a 429 with Retry-After is waited out; tokens are cached across the daemon's passes.
mod politeness;

// The health gate: rollback of a new image that exits or turns unhealthy, the skipped digest, refit rollback.
mod rollback;

// Crash recovery: refit killed after stop, rename, create and during the health wait; the next pass recovers.
mod recovery;

// Dependency order: depends-on labels (refit, Watchtower, compose), restart order, cycles.
mod ordering;

// Outages mid-pass: the engine cut behind a proxy, a registry dropping blob requests.
mod outage;

// The container image: refit in its own container updates a neighbour, then itself.
mod image;

// Compose coherence with real Docker Compose v2: ps, a no-op `up -d`, refit.copy of a config file.
mod compose;
