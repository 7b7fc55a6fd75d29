//! refit keeps the containers of a Docker host on their newest image, safely.
//!
//! # Layout
//! A pass is observe → decide → act → report:
//! - [`model`]: the shared vocabulary (image references, digests, container facts). No IO.
//! - [`registry`]: the `Registry` trait and its HTTP implementation.

pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod execute;
pub mod heartbeat;
pub mod history;
pub mod ledger;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod observe;
pub mod own_container;
pub mod pass;
pub mod plan;
pub mod policy;
pub mod publish;
pub mod recreate;
pub mod registry;
pub mod report;
pub mod schedule;
pub mod secret;
pub mod state;
pub mod trust;
pub mod window;
