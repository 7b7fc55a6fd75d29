//! The command line as clap sees it: global flags and subcommands. `main.rs` turns it into
//! configuration overrides and a command to run.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{LogFormat, LogLevel};

/// Keeps the containers of a Docker host on their newest image, safely.
#[derive(Debug, Parser)]
#[command(name = "refit", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file [default: /etc/refit/refit.toml; built-in defaults when absent]
    #[arg(long, global = true, value_name = "FILE", env = "REFIT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Docker engine address, e.g. unix:///var/run/docker.sock or tcp://127.0.0.1:2376
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub docker_host: Option<String>,

    /// Log format on stderr
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,

    /// Log level: error, warn, info, debug or trace
    #[arg(long, global = true, value_name = "LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<LogLevel>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One read-only pass: every container and what refit would do with it
    Check {
        /// Only these containers (they must still be selected by policy)
        names: Vec<String>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// One pass now, applying what policy allows
    Update {
        /// Only these containers (they must still be selected by policy)
        names: Vec<String>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// The daemon: a pass at each tick of the schedule until SIGTERM or SIGINT
    Run,
    /// Recreate a container from the image it ran before its last update
    Rollback {
        /// The container's name
        name: String,
    },
    /// The journal's finished updates, newest first
    History {
        /// Print them as JSON
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 when the daemon (`refit run`) is alive: the container image's HEALTHCHECK
    Healthcheck,
    /// Validate and print the effective configuration, secrets redacted
    Config,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    s.parse()
        .map_err(|e: crate::config::InvalidValue| e.to_string())
}

fn parse_log_level(s: &str) -> Result<LogLevel, String> {
    s.parse()
        .map_err(|e: crate::config::InvalidValue| e.to_string())
}
