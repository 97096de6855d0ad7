//! The controller runtime, kube-controller-manager's skeleton: one informer keeps a cache of the watched
//! kinds current from the server's watch; each controller (a reconciler: plain functions over that cache
//! returning a plan) has a work queue and workers that carry plans out through the API's own handlers.
//! Only the holder of the kube-controller-manager Lease runs them (the scheduler and the service allocation
//! repair too: every once-per-cluster loop), so a second master changes nothing.

pub mod actions;
pub mod cache;
pub mod controller;
pub mod hub_source;
pub mod informer;
pub mod leader;
pub mod local_api;
pub mod metrics;
pub mod queue;

use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::task::JoinSet;

use crate::control_plane::api::ApiState;
pub use actions::{Action, EventNote, Plan};
pub use cache::Cache;
pub use controller::{Controller, Reconciler};
pub use informer::Change;
pub use local_api::LocalApi;

/// Workers per controller (kube-controller-manager's default concurrent syncs is 5 for most; 2 cores here).
pub const WORKERS: usize = 2;

/// The store prefixes the informer follows: every built-in kind but Events (nothing owns or reconciles
/// them), and the one root of every custom kind's objects, those defined later included.
fn watched_prefixes() -> Vec<String> {
    let mut prefixes: Vec<String> =
        crate::resources::kinds::KINDS.iter().filter(|k| k.kind != "Event").map(|k| k.prefix(None)).collect();
    prefixes.push(crate::resources::kinds::CUSTOM_ROOT.to_string());
    prefixes.sort();
    prefixes.dedup();
    prefixes
}

fn candidate_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "kubeboot".into());
    format!("{}_{}", host.trim(), crate::resources::meta::random_suffix())
}

/// Start the informer and every controller's workers; they run until the set is dropped or aborted.
fn start(state: &Arc<ApiState>, reconcilers: &[Arc<dyn Reconciler>]) -> JoinSet<()> {
    let cache = Arc::new(RwLock::new(Cache::default()));
    let (observed_tx, observed_rx) = tokio::sync::watch::channel(0u64);
    let controllers: Arc<Vec<Arc<Controller>>> =
        Arc::new(reconcilers.iter().map(|r| Arc::new(Controller::new(r.clone()))).collect());
    let notified = controllers.clone();
    let informer = informer::Informer::new(cache.clone(), observed_tx, move |change, cache| {
        for controller in notified.iter() {
            controller.notice(change, cache);
        }
    });
    let source = hub_source::HubSource::new(state.store.clone(), state.watch.clone(), watched_prefixes());
    let mut tasks = JoinSet::new();
    tasks.spawn(informer.run(source));
    let api = LocalApi::new(state.registry.clone());
    for controller in controllers.iter() {
        for _ in 0..controller.reconciler.workers() {
            tasks.spawn(controller.clone().work(cache.clone(), observed_rx.clone(), api.clone()));
        }
    }
    tasks.spawn(repair_allocations(state.store.clone()));
    tasks.spawn(read_usage_for_autoscalers(state.clone()));
    tasks
}

/// Keep the resource metrics reading current for the HPA controller (which cannot wait on the network)
/// while any HorizontalPodAutoscaler exists: one reading of every node per sync period.
async fn read_usage_for_autoscalers(state: Arc<ApiState>) {
    use crate::control_plane::controllers::horizontal_pod_autoscaler::{autoscalers, SYNC_PERIOD};
    let prefix = autoscalers().prefix(None);
    loop {
        let any = state.store.list(&prefix).is_ok_and(|(found, _)| !found.is_empty());
        if any {
            state.resource_metrics.current(&state).await;
        }
        tokio::time::sleep(SYNC_PERIOD).await;
    }
}

/// How often ClusterIPs and NodePorts no Service holds are looked for, as kube-apiserver's repair loops.
const ALLOCATION_REPAIR_PERIOD: std::time::Duration = std::time::Duration::from_secs(180);

/// Free ClusterIPs and NodePorts no Service holds (left by older versions, which wrote them apart from
/// their Service): when leading starts and every 3 minutes while it lasts.
async fn repair_allocations(store: Arc<dyn crate::control_plane::store::Store>) {
    loop {
        let s = store.clone();
        let repaired =
            tokio::task::spawn_blocking(move || crate::control_plane::registry::service_allocation::repair(s.as_ref()))
                .await;
        match repaired {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => eprintln!("kubeboot controller-manager: freed {n} service allocations no Service holds"),
            Ok(Err(e)) => eprintln!("kubeboot controller-manager: service allocation repair: {e}"),
            Err(e) => eprintln!("kubeboot controller-manager: service allocation repair: {e}"),
        }
        tokio::time::sleep(ALLOCATION_REPAIR_PERIOD).await;
    }
}

/// kube-controller-manager: wait to lead, run the controllers while leading, stop them when the Lease is lost.
pub async fn run(state: Arc<ApiState>, reconcilers: Vec<Arc<dyn Reconciler>>) {
    let mut election = leader::LeaderElection::new(LocalApi::new(state.registry.clone()), candidate_identity());
    loop {
        loop {
            match election.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => eprintln!("kubeboot controller-manager: leader election: {e}"),
            }
            tokio::time::sleep(leader::RETRY_PERIOD).await;
        }
        eprintln!(
            "kubeboot controller-manager: {} leads (Lease kube-system/{})",
            election.identity,
            leader::LEASE_NAME
        );
        let mut tasks = start(&state, &reconcilers);
        let mut renewed = Instant::now();
        while renewed.elapsed() < leader::RENEW_DEADLINE {
            tokio::time::sleep(leader::RETRY_PERIOD).await;
            // A renewal the store holds up (no quorum) must not keep the controllers past the deadline.
            let left = leader::RENEW_DEADLINE.saturating_sub(renewed.elapsed());
            match tokio::time::timeout(left, election.try_acquire_or_renew()).await {
                Ok(Ok(true)) => renewed = Instant::now(),
                Ok(Ok(false)) => break,
                Ok(Err(e)) => eprintln!("kubeboot controller-manager: renewing the lease: {e}"),
                Err(_) => {}
            }
        }
        tasks.abort_all();
        eprintln!("kubeboot controller-manager: lost the lease; controllers stopped");
    }
}
