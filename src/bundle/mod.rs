//! Air-gapped installs: one file with what hosts without internet need. `bundle create` collects, on a
//! machine with access, the packages the preparation installs on each of the inventory's systems (with
//! their dependencies, as a local apt or rpm-md repository), the images the workloads run, and the
//! kubeboot binary; `bundle list-images` and `up` with `airgap: {bundle: …}` read it back, checked.

pub mod archive;
pub mod create;
pub mod error;
pub mod images;
pub mod local;
pub mod manifest;
pub mod packages;
pub mod registry;

pub use error::BundleError;
pub use manifest::Manifest;
