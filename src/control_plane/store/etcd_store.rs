//! The store on etcd, for clusters with several masters: every key lives under one prefix of an etcd
//! cluster (kube-apiserver's /registry, here /kubeboot), a resourceVersion is etcd's mod revision, a
//! transaction is etcd's (compares, then puts and deletes at one revision), and the watch feed is one
//! etcd watch over the prefix: a write through any master reaches every master's watchers.
//!
//! The Store trait is synchronous (its callers run on blocking threads); the etcd client is async, so the
//! store owns a small runtime of its own and every call is a task on it, answered over a channel. A call
//! etcd does not answer within REQUEST_TIMEOUT fails instead of holding its caller.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Certificate, Client, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, Identity, KvClient,
    PutOptions, TlsOptions, TxnOp, TxnOpResponse, WatchOptions,
};
use tokio::sync::broadcast;

use super::{Compare, Event, EventKind, Gone, Op, Store, StoreError, Stored, Subscription, Txn, WatchError};

/// Where the keys live in etcd unless the settings say otherwise.
pub const DEFAULT_PREFIX: &str = "/kubeboot";
/// How long one call may wait for etcd (a quorum lost, every member down) before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Objects per page of a list (every page read at the first one's revision).
const LIST_PAGE: i64 = 500;
/// gRPC messages up to this size (a page of large objects); etcd itself caps one value at 1.5 MiB.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// How far a live watcher may fall behind before it is told to watch again from where it was.
const LIVE_BUFFER: usize = 1024;
/// kube-apiserver's compaction interval: each one drops the history older than the interval before.
pub const COMPACT_EVERY: Duration = Duration::from_secs(300);

/// How to reach the etcd cluster.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// Client URLs of the members, e.g. https://10.0.0.1:2379.
    pub endpoints: Vec<String>,
    /// The key prefix every key of this store is under.
    pub prefix: String,
    /// The etcd CA and this API server's client certificate and key (PEM); None for plain http.
    pub tls: Option<EtcdTls>,
    /// How often the history is compacted (COMPACT_EVERY but in tests).
    pub compact_every: Duration,
}

#[derive(Clone)]
pub struct EtcdTls {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for EtcdTls {
    // The key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EtcdTls { .. }")
    }
}

pub struct EtcdStore {
    /// Taken out only when the store is dropped (shut down in the background: drop may run on an async
    /// worker, where a runtime may not block).
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    prefix: String,
    live: broadcast::Sender<Arc<Event>>,
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn etcd_error(e: etcd_client::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("database space exceeded") {
        StoreError::NoSpace(text)
    } else {
        StoreError::Backend(format!("etcd: {text}"))
    }
}

/// Whether `e` says the request was not served because a member died or the cluster was electing a
/// leader: sent again, the balanced channel takes it to another member. Safe also for a write etcd may
/// have applied before the leader changed: every write here compares revisions first, so its second
/// sending fails (a conflict) instead of writing twice.
fn unsent(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(status) => {
            let message = status.message();
            ["connect error", "no leader", "leader changed"].iter().any(|m| message.contains(m))
        }
        _ => false,
    }
}

/// The first key after every key that starts with `prefix` (etcd's range end for a prefix).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn revision_of(header: Option<&etcd_client::ResponseHeader>) -> u64 {
    header.map_or(0, |h| h.revision().max(0) as u64)
}

/// How kubeboot's etcd clients connect: timeouts, keep-alives, and mutual TLS when `tls` is given.
pub fn connect_options(tls: Option<&EtcdTls>) -> ConnectOptions {
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(REQUEST_TIMEOUT)
        .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
        .with_keep_alive_while_idle(true);
    match tls {
        Some(tls) => options.with_tls(
            TlsOptions::new()
                .ca_certificate(Certificate::from_pem(&tls.ca))
                .identity(Identity::from_pem(&tls.cert, &tls.key)),
        ),
        None => options,
    }
}

impl EtcdStore {
    /// Connect to the cluster and start following its changes under the prefix.
    pub fn open(config: &EtcdConfig) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("etcd-client")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("starting the etcd client: {e}")))?;
        let options = connect_options(config.tls.as_ref());
        let endpoints = config.endpoints.clone();
        let client =
            wait(&runtime, async move { Client::connect(endpoints, Some(options)).await.map_err(etcd_error) })?;
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let store =
            EtcdStore { runtime: Some(runtime), client, prefix: config.prefix.trim_end_matches('/').into(), live };
        let from = store.revision()?;
        let feed = forward(store.client.clone(), store.prefix.clone(), from + 1, store.live.clone());
        store.runtime().spawn(feed);
        store.runtime().spawn(compact_periodically(store.client.clone(), config.compact_every));
        Ok(store)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives as long as the store")
    }

    fn kv(&self) -> KvClient {
        self.client.kv_client().max_decoding_message_size(MAX_MESSAGE)
    }

    fn etcd_key(&self, key: &str) -> Vec<u8> {
        format!("{}{key}", self.prefix).into_bytes()
    }

    /// Run `call` on the store's runtime and wait for its answer.
    fn call<T: Send + 'static>(
        &self,
        call: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        wait(self.runtime(), call)
    }

    /// One KV request (`make` sends it), sent again while it did not reach a member that could serve it
    /// (until REQUEST_TIMEOUT): a member that died is one the next try avoids.
    fn request<T, F, Fut>(&self, make: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(KvClient) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, etcd_client::Error>> + Send,
    {
        let kv = self.kv();
        self.call(async move {
            let mut pause = Duration::from_millis(50);
            loop {
                match make(kv.clone()).await {
                    Ok(answer) => return Ok(answer),
                    Err(e) if unsent(&e) => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(1));
                    }
                    Err(e) => return Err(etcd_error(e)),
                }
            }
        })
    }

    /// The events after `from`, up to the revision `until`, from an etcd watch of their own.
    fn replay(&self, from: u64, until: u64) -> Result<Result<Vec<Arc<Event>>, Gone>, StoreError> {
        let (client, prefix) = (self.client.clone(), self.prefix.clone());
        self.call(async move {
            let options = WatchOptions::new()
                .with_range(prefix_end(prefix.as_bytes()))
                .with_start_revision(from as i64 + 1)
                .with_prev_key();
            let mut stream = loop {
                match client.watch_client().watch(prefix.as_bytes(), Some(options.clone())).await {
                    Ok(stream) => break stream,
                    Err(e) if unsent(&e) => tokio::time::sleep(Duration::from_millis(100)).await,
                    Err(e) => return Err(etcd_error(e)),
                }
            };
            let mut events = Vec::new();
            loop {
                // etcd answers a progress request once the watch has sent everything up to its revision:
                // that is the end when `until` was not a write under the prefix.
                let message = match tokio::time::timeout(Duration::from_millis(200), stream.message()).await {
                    Ok(message) => message.map_err(etcd_error)?,
                    Err(_) => {
                        stream.request_progress().await.map_err(etcd_error)?;
                        continue;
                    }
                };
                let Some(response) = message else {
                    return Err(StoreError::Backend("etcd closed the watch".into()));
                };
                if response.canceled() {
                    let compacted = response.compact_revision();
                    if compacted > 0 {
                        return Ok(Err(Gone { requested: from, oldest: compacted as u64 - 1 }));
                    }
                    return Err(StoreError::Backend(format!("etcd canceled the watch: {}", response.cancel_reason())));
                }
                for event in response.events() {
                    events.push(Arc::new(convert(&prefix, event)));
                }
                let reached = events.last().map_or(0, |e: &Arc<Event>| e.revision);
                let progress = response.events().is_empty() && !response.created();
                if reached >= until || (progress && revision_of(response.header()) >= until) {
                    return Ok(Ok(events));
                }
            }
        })
    }
}

/// Wait on any thread (also an async worker's) for `call` run on `runtime`.
fn wait<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    call: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (answer, answered) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let result = tokio::time::timeout(REQUEST_TIMEOUT, call).await.unwrap_or_else(|_| {
            Err(StoreError::Backend(format!("etcd did not answer in {} s", REQUEST_TIMEOUT.as_secs())))
        });
        let _ = answer.send(result);
    });
    answered.recv().unwrap_or_else(|_| Err(StoreError::Backend("the etcd client stopped".into())))
}

/// An etcd watch event as the store's: the key without the prefix, the revision of the change, and for a
/// deletion the last value.
fn convert(prefix: &str, event: &etcd_client::Event) -> Event {
    let kv = event.kv();
    let key = kv.map(|kv| String::from_utf8_lossy(kv.key()).into_owned()).unwrap_or_default();
    let key = key.strip_prefix(prefix).map(String::from).unwrap_or(key);
    let revision = kv.map_or(0, |kv| kv.mod_revision().max(0) as u64);
    match event.event_type() {
        EventType::Put => {
            let created = kv.is_some_and(|kv| kv.create_revision() == kv.mod_revision());
            let kind = if created { EventKind::Added } else { EventKind::Modified };
            Event { kind, key, revision, value: kv.map(|kv| kv.value().to_vec()).unwrap_or_default() }
        }
        EventType::Delete => {
            let value = event.prev_kv().map(|kv| kv.value().to_vec()).unwrap_or_default();
            Event { kind: EventKind::Deleted, key, revision, value }
        }
    }
}

/// Compact etcd's history every `interval` up to the revision it had one interval before, as each
/// kube-apiserver does: a watch may resume from any revision of the last interval; etcd's database stays
/// bounded. Every master does it; compacting to a revision another master compacted already changes
/// nothing.
async fn compact_periodically(client: Client, interval: Duration) {
    let mut previous: Option<i64> = None;
    loop {
        tokio::time::sleep(interval).await;
        let mut kv = client.kv_client();
        let Ok(now) = kv.get("/", Some(GetOptions::new().with_count_only())).await else { continue };
        let now = now.header().map_or(0, |h| h.revision());
        if let Some(revision) = previous.filter(|r| *r > 0) {
            if let Err(e) = kv.compact(revision, None).await {
                if !e.to_string().contains("required revision has been compacted") {
                    eprintln!("kubeboot server: compacting etcd to {revision}: {e}");
                }
            }
        }
        previous = Some(now);
    }
}

/// The live feed: one etcd watch over the prefix from `next`, every event sent to `live` in revision
/// order; watched again from the next revision when the stream breaks (a member went away).
async fn forward(client: Client, prefix: String, mut next: u64, live: broadcast::Sender<Arc<Event>>) {
    loop {
        let options = WatchOptions::new()
            .with_range(prefix_end(prefix.as_bytes()))
            .with_start_revision(next as i64)
            .with_prev_key();
        let mut stream = match client.watch_client().watch(prefix.as_bytes(), Some(options)).await {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("kubeboot server: watching etcd: {e}; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            match stream.message().await {
                Ok(Some(response)) if response.canceled() => {
                    // Only a compaction past `next` cancels it: what was between is lost to this feed,
                    // and the watchers behind it list again when they see the gap (410).
                    let compacted = response.compact_revision();
                    eprintln!("kubeboot server: etcd's watch feed fell behind its compaction ({compacted})");
                    next = next.max(compacted.max(0) as u64);
                    break;
                }
                Ok(Some(response)) => {
                    for event in response.events() {
                        let event = convert(&prefix, event);
                        next = event.revision + 1;
                        let _ = live.send(Arc::new(event));
                    }
                }
                Ok(None) | Err(_) => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

impl Store for EtcdStore {
    fn get(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let etcd_key = self.etcd_key(key);
        let response = self.request(move |mut kv| {
            let etcd_key = etcd_key.clone();
            async move { kv.get(etcd_key, None).await }
        })?;
        Ok(response.kvs().first().map(|found| Stored {
            key: key.to_string(),
            value: found.value().to_vec(),
            revision: found.mod_revision().max(0) as u64,
        }))
    }

    fn list(&self, prefix: &str) -> Result<(Vec<Stored>, u64), StoreError> {
        let (start, strip) = (self.etcd_key(prefix), self.prefix.len());
        let end = prefix_end(&start);
        let (mut items, mut from, mut at) = (Vec::new(), start, 0i64);
        loop {
            let (page_start, end) = (from.clone(), end.clone());
            let response = self.request(move |mut kv| {
                let mut options = GetOptions::new().with_range(end.clone()).with_limit(LIST_PAGE);
                if at > 0 {
                    // Every page at the first one's revision: one consistent list.
                    options = options.with_revision(at);
                }
                let page_start = page_start.clone();
                async move { kv.get(page_start, Some(options)).await }
            })?;
            if at == 0 {
                at = revision_of(response.header()) as i64;
            }
            for found in response.kvs() {
                let key = String::from_utf8_lossy(&found.key()[strip..]).into_owned();
                let revision = found.mod_revision().max(0) as u64;
                items.push(Stored { key, value: found.value().to_vec(), revision });
            }
            match (response.more(), response.kvs().last()) {
                (true, Some(last)) => {
                    from = last.key().to_vec();
                    from.push(0);
                }
                _ => return Ok((items, at as u64)),
            }
        }
    }

    fn txn(&self, txn: Txn) -> Result<Vec<Arc<Event>>, StoreError> {
        let key = |k: &str| self.etcd_key(k);
        let compares: Vec<etcd_client::Compare> = txn
            .compares
            .iter()
            .map(|c| match c {
                Compare::Absent(k) => etcd_client::Compare::version(key(k), CompareOp::Equal, 0),
                Compare::Present(k) => etcd_client::Compare::version(key(k), CompareOp::Greater, 0),
                Compare::At(k, revision) => {
                    etcd_client::Compare::mod_revision(key(k), CompareOp::Equal, *revision as i64)
                }
            })
            .collect();
        let ops: Vec<TxnOp> = txn
            .ops
            .iter()
            .map(|op| match op {
                Op::Put(k, value) => TxnOp::put(key(k), value.clone(), Some(PutOptions::new().with_prev_key())),
                Op::Delete(k) => TxnOp::delete(key(k), Some(DeleteOptions::new().with_prev_key())),
            })
            .collect();
        // When a compare fails, the keys compared are read in the same transaction to say which.
        let reads: Vec<TxnOp> = txn.compares.iter().map(|c| TxnOp::get(key(c.key()), None)).collect();
        let request = etcd_client::Txn::new().when(compares).and_then(ops).or_else(reads);
        let response = self.request(move |mut kv| {
            let request = request.clone();
            async move { kv.txn(request).await }
        })?;
        let answers = response.op_responses();
        if !response.succeeded() {
            for (compare, answer) in txn.compares.iter().zip(&answers) {
                let current = match answer {
                    TxnOpResponse::Get(got) => got.kvs().first().map(|kv| kv.mod_revision().max(0) as u64),
                    _ => None,
                };
                compare.check(current)?;
            }
            return Err(StoreError::Backend("etcd refused a transaction whose compares hold".into()));
        }
        let revision = revision_of(response.header());
        let mut events = Vec::new();
        for (op, answer) in txn.ops.into_iter().zip(answers) {
            match (op, answer) {
                (Op::Put(key, value), TxnOpResponse::Put(put)) => {
                    let kind = if put.prev_key().is_some() { EventKind::Modified } else { EventKind::Added };
                    events.push(Arc::new(Event { kind, key, revision, value }));
                }
                (Op::Delete(key), TxnOpResponse::Delete(deleted)) => {
                    if let Some(last) = deleted.prev_kvs().first() {
                        let value = last.value().to_vec();
                        events.push(Arc::new(Event { kind: EventKind::Deleted, key, revision, value }));
                    }
                }
                _ => return Err(StoreError::Backend("etcd answered a transaction out of order".into())),
            }
        }
        Ok(events)
    }

    fn revision(&self) -> Result<u64, StoreError> {
        let key = self.etcd_key("/");
        let response = self.request(move |mut kv| {
            let key = key.clone();
            async move { kv.get(key, Some(GetOptions::new().with_count_only())).await }
        })?;
        Ok(revision_of(response.header()))
    }

    fn watch(&self, from: u64) -> Result<Subscription, WatchError> {
        // Joined first: what commits after the replay's end arrives live (perhaps twice: readers skip
        // what they have seen).
        let live = self.live.subscribe();
        let now = self.revision()?;
        let replay = if from >= now { Vec::new() } else { self.replay(from, now)?? };
        Ok(Subscription { replay, live })
    }

    fn compact(&self, revision: u64) -> Result<(), StoreError> {
        match self.request(move |mut kv| async move { kv.compact(revision as i64, None).await }) {
            Ok(_) => Ok(()),
            // Compacted there already (by another master): what was asked holds.
            Err(StoreError::Backend(e)) if e.contains("required revision has been compacted") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_at_its_last_byte_plus_one() {
        assert_eq!(prefix_end(b"/kubeboot/pods/"), b"/kubeboot/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
