//! What the lab has made, in one JSON file, so `up` can add hosts, recover after a kill, and `down` can
//! remove exactly what was made.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{io, LabError};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabState {
    pub hosts: Vec<LabHost>,
    /// The machine's net.ipv4.ip_forward before the lab set it, restored by `down`.
    #[serde(default)]
    pub ip_forward_before: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabHost {
    pub name: String,
    #[serde(default)]
    pub flavor: Flavor,
    /// Position in the lab: gives the address and interface names.
    pub index: u32,
    pub address: String,
}

/// What a lab host identifies as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    #[default]
    Debian,
    El,
}

impl LabHost {
    pub fn netns(&self) -> String {
        format!("kblab-{}", self.index)
    }
    /// The veth end on the bridge (interface names are limited to 15 characters).
    pub fn veth_host(&self) -> String {
        format!("kblab{}h", self.index)
    }
    pub fn veth_peer(&self) -> String {
        format!("kblab{}p", self.index)
    }
}

impl LabState {
    pub fn load(path: &Path) -> Result<Self, LabError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| LabError::State { path: path.display().to_string(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LabState::default()),
            Err(e) => Err(io(format!("reading {}", path.display()))(e)),
        }
    }

    /// Atomic write: a killed `lab up` leaves the old or the new state, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), LabError> {
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let text = serde_json::to_string_pretty(self).expect("plain data");
        std::fs::write(&tmp, text).map_err(io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, path).map_err(io(format!("renaming {}", tmp.display())))
    }
}
