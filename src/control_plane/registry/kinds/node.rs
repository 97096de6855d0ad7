//! Nodes: the agent writes its node and that node's status in one object (kubelet's registration), so
//! an update of the main resource keeps the status it carries.

use crate::control_plane::registry::strategy::Strategy;
use crate::resources::kinds::ResourceKind;

pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    fn status_is_subresource(&self, _kind: &ResourceKind) -> bool {
        false
    }
}
