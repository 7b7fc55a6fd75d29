//! The vocabulary every stage shares: image references, digests, platforms, the facts
//! observed about containers and images, and the registries' answers. Plain data; no IO, no
//! Docker or registry client types.

mod container;
mod digest;
mod image_ref;
mod platform;
mod remote;

pub use container::{
    Container, ContainerId, ImageSource, LocalImage, NetworkMode, RunState, Snapshot,
};
pub use digest::{Digest, DigestError};
pub use image_ref::{ImageRef, ImageRefError, host_without_port, with_written_tag};
pub use platform::Platform;
pub use remote::{PlatformManifest, RemoteDigests, RemoteImage, ResolveFailure, TagLists};

#[cfg(test)]
pub(crate) use digest::test_digest;
