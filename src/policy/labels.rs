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

pub const WATCHTOWER_ENABLE: &str = "com.centurylinklabs.watchtower.enable";
pub const WATCHTOWER_MONITOR_ONLY: &str = "com.centurylinklabs.watchtower.monitor-only";
pub const WATCHTOWER_NO_PULL: &str = "com.centurylinklabs.watchtower.no-pull";
pub const WATCHTOWER_SCOPE: &str = "com.centurylinklabs.watchtower.scope";
pub const WATCHTOWER_DEPENDS_ON: &str = "com.centurylinklabs.watchtower.depends-on";
pub const WATCHTOWER_STOP_SIGNAL: &str = "com.centurylinklabs.watchtower.stop-signal";
