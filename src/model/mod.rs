//! The vocabulary every stage shares: image references, digests, platforms and the facts
//! observed about containers and images. Plain data; no IO, no Docker or registry client types.

mod container;
mod digest;
mod image_ref;
mod platform;

pub use container::{
    Container, ContainerId, ImageSource, LocalImage, NetworkMode, RunState, Snapshot,
};
pub use digest::{Digest, DigestError};
pub use image_ref::{ImageRef, ImageRefError};
pub use platform::Platform;
