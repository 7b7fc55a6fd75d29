//! Every label key refit reads, in one place, with the Watchtower label it falls back to.

pub const ENABLE: &str = "refit.enable";
pub const UPDATE: &str = "refit.update";
pub const MONITOR_ONLY: &str = "refit.monitor-only";
pub const PULL: &str = "refit.pull";
pub const SCOPE: &str = "refit.scope";
pub const DEPENDS_ON: &str = "refit.depends-on";
pub const WINDOW: &str = "refit.window";
pub const TAGS: &str = "refit.tags";
pub const STOP_SIGNAL: &str = "refit.stop-signal";
pub const STOP_TIMEOUT: &str = "refit.stop-timeout";
pub const HEALTH_TIMEOUT: &str = "refit.health-timeout";
pub const ROLLBACK: &str = "refit.rollback";
pub const MIN_AGE: &str = "refit.min-age";
pub const COPY: &str = "refit.copy";
pub const HOOK_PRE_CHECK: &str = "refit.hook.pre-check";
pub const HOOK_PRE_UPDATE: &str = "refit.hook.pre-update";
pub const HOOK_POST_UPDATE: &str = "refit.hook.post-update";
pub const HOOK_POST_CHECK: &str = "refit.hook.post-check";
pub const HOOK_TIMEOUT: &str = "refit.hook.timeout";

pub const WATCHTOWER_ENABLE: &str = "com.centurylinklabs.watchtower.enable";
pub const WATCHTOWER_MONITOR_ONLY: &str = "com.centurylinklabs.watchtower.monitor-only";
pub const WATCHTOWER_NO_PULL: &str = "com.centurylinklabs.watchtower.no-pull";
pub const WATCHTOWER_SCOPE: &str = "com.centurylinklabs.watchtower.scope";
pub const WATCHTOWER_DEPENDS_ON: &str = "com.centurylinklabs.watchtower.depends-on";
pub const WATCHTOWER_STOP_SIGNAL: &str = "com.centurylinklabs.watchtower.stop-signal";
/// From the Watchtower fork that added cooling-off (`cooldown-delay`).
pub const WATCHTOWER_COOLDOWN: &str = "com.centurylinklabs.watchtower.cooldown-delay";
/// From the Watchtower fork that added file copies.
pub const WATCHTOWER_COPY: &str = "com.centurylinklabs.watchtower.copy-file";
pub const WATCHTOWER_PRE_CHECK: &str = "com.centurylinklabs.watchtower.lifecycle.pre-check";
pub const WATCHTOWER_PRE_UPDATE: &str = "com.centurylinklabs.watchtower.lifecycle.pre-update";
pub const WATCHTOWER_POST_UPDATE: &str = "com.centurylinklabs.watchtower.lifecycle.post-update";
pub const WATCHTOWER_POST_CHECK: &str = "com.centurylinklabs.watchtower.lifecycle.post-check";
/// Minutes, as Watchtower reads it.
pub const WATCHTOWER_PRE_UPDATE_TIMEOUT: &str =
    "com.centurylinklabs.watchtower.lifecycle.pre-update-timeout";

/// Compose's own labels: `depends_on` as `service:condition:restart`, comma-separated, naming
/// services of the same project.
pub const COMPOSE_DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
