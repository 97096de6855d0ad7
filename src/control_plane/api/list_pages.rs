//! Lists in pages (`limit` and `continue`), as kube-apiserver pages them: every page of one list is read
//! at the first page's resourceVersion, each page says how many items remain (`remainingItemCount`,
//! when no selector filters the list), and a continue token the server can no longer serve consistently
//! answers 410 Expired, on which clients start the list again.
//!
//! kube-apiserver reads later pages from etcd at the first page's revision until compaction (5 minutes).
//! Here the rest of a paged list (its stored bytes, not parsed objects) is kept in memory for as long, at
//! most SNAPSHOT_BYTES of them in all, which serves the redb and the etcd backends alike; a continue that
//! reaches another master, or comes after its list was let go, is told to start again. Only a page's own
//! items are parsed: a first page of 500 of 1000 nodes reads 500.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::control_plane::store::Stored;

/// How long the rest of a paged list stays servable (etcd's compaction interval in kube-apiserver).
const KEPT_FOR: Duration = Duration::from_secs(300);
/// How many bytes of paged lists are kept at most; the oldest go first.
const SNAPSHOT_BYTES: usize = 32 * 1024 * 1024;

/// The rest of one list whose first page was served: its stored items (key order) at `revision`, for the
/// query `scope` names.
struct Snapshot {
    scope: String,
    revision: u64,
    items: Arc<Vec<Stored>>,
    bytes: usize,
    taken: Instant,
}

#[derive(Default)]
pub struct ListPages {
    snapshots: Mutex<VecDeque<Snapshot>>,
}

/// One page: its stored items, the revision the whole list is read at, and what the list metadata says.
pub struct Page {
    pub items: Vec<Stored>,
    pub revision: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not a token this server wrote.
    #[error("continue key is not valid: {0}")]
    Invalid(String),
    /// A token whose list is no longer kept.
    #[error(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
    )]
    Expired,
}

/// What a continue token carries (kube-apiserver's shape: the version of the token, the revision, the
/// key the next page starts after).
#[derive(serde::Serialize, serde::Deserialize)]
struct Token {
    v: String,
    rv: u64,
    start: String,
}

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

fn encode(revision: u64, start: &str) -> String {
    let token = Token { v: TOKEN_VERSION.into(), rv: revision, start: start.to_string() };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&token).expect("json"))
}

fn decode(text: &str) -> Result<Token, PageError> {
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|e| PageError::Invalid(e.to_string()))?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|e| PageError::Invalid(e.to_string()))?;
    if token.v != TOKEN_VERSION {
        return Err(PageError::Invalid(format!("continue key version {:?} is not {TOKEN_VERSION:?}", token.v)));
    }
    Ok(token)
}

impl ListPages {
    /// The page a request asks for. `list` reads the whole (filtered) list, in key order, and its
    /// revision; it is called only for a first page. `scope` names the list (its path and selectors): a
    /// token answers only the same list. `counted`: whether the list is unfiltered, so that the
    /// remaining items can be told.
    pub fn page<E>(
        &self,
        scope: &str,
        limit: Option<usize>,
        token: Option<&str>,
        counted: bool,
        list: impl FnOnce() -> Result<(Vec<Stored>, u64), E>,
    ) -> Result<Result<Page, PageError>, E> {
        let limit = limit.filter(|n| *n > 0);
        let (items, revision) = match token.filter(|t| !t.is_empty()) {
            None => {
                let (items, revision) = list()?;
                (Arc::new(items), revision)
            }
            Some(text) => {
                let token = match decode(text) {
                    Ok(token) => token,
                    Err(e) => return Ok(Err(e)),
                };
                let Some(rest) = self.kept(scope, token.rv) else { return Ok(Err(PageError::Expired)) };
                let start = rest.partition_point(|item| item.key <= token.start);
                (Arc::new(rest[start..].to_vec()), token.rv)
            }
        };
        let end = limit.map_or(items.len(), |n| n.min(items.len()));
        let page: Vec<Stored> = items[..end].to_vec();
        let rest = items.len() - end;
        let continue_token =
            (rest > 0).then(|| encode(revision, &page.last().map(|s| s.key.clone()).unwrap_or_default()));
        if rest > 0 && token.is_none_or(str::is_empty) {
            self.keep(scope, revision, Arc::new(items[end..].to_vec()));
        }
        let remaining = (counted && rest > 0).then_some(rest);
        Ok(Ok(Page { items: page, revision, continue_token, remaining }))
    }

    fn keep(&self, scope: &str, revision: u64, items: Arc<Vec<Stored>>) {
        let bytes = items.iter().map(|s| s.value.len() + s.key.len()).sum();
        let mut snapshots = self.snapshots.lock().expect("list pages");
        snapshots.retain(|s| s.taken.elapsed() < KEPT_FOR && !(s.scope == scope && s.revision == revision));
        while !snapshots.is_empty() && snapshots.iter().map(|s| s.bytes).sum::<usize>() + bytes > SNAPSHOT_BYTES {
            snapshots.pop_front();
        }
        snapshots.push_back(Snapshot { scope: scope.to_string(), revision, items, bytes, taken: Instant::now() });
    }

    fn kept(&self, scope: &str, revision: u64) -> Option<Arc<Vec<Stored>>> {
        let snapshots = self.snapshots.lock().expect("list pages");
        snapshots
            .iter()
            .find(|s| s.scope == scope && s.revision == revision && s.taken.elapsed() < KEPT_FOR)
            .map(|s| s.items.clone())
    }
}

/// A list's metadata with its page's continue token and remaining count.
pub fn list_metadata(page: &Page) -> Value {
    let mut metadata = json!({"resourceVersion": page.revision.to_string()});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = page.remaining {
        metadata["remainingItemCount"] = json!(remaining);
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Stored> {
        (0..n)
            .map(|i| Stored { key: format!("/configmaps/ns/cm-{i:02}"), value: b"{}".to_vec(), revision: 1 })
            .collect()
    }

    #[test]
    fn pages_walk_one_revision_and_count_what_remains() {
        let pages = ListPages::default();
        let first = pages.page("s", Some(2), None, true, || Ok::<_, ()>((items(5), 7))).unwrap().unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!((first.revision, first.remaining), (7, Some(3)));
        let token = first.continue_token.unwrap();
        // Later pages never read the store again: they are the first page's list.
        let second = pages.page("s", Some(2), Some(&token), true, || Err(())).unwrap().unwrap();
        assert_eq!(second.items[0].key, "/configmaps/ns/cm-02");
        let last = pages.page("s", Some(2), second.continue_token.as_deref(), true, || Err(())).unwrap().unwrap();
        assert_eq!((last.items.len(), last.continue_token, last.remaining), (1, None, None));
        let elsewhere = pages.page("other", Some(2), Some(&token), true, || Err(())).unwrap();
        assert!(matches!(elsewhere, Err(PageError::Expired)), "a token answers only its own list");
        let forged = encode(3, "/configmaps/ns/cm-01");
        assert!(matches!(pages.page("s", Some(2), Some(&forged), true, || Err(())).unwrap(), Err(PageError::Expired)));
        assert!(matches!(pages.page("s", Some(2), Some("%%"), true, || Err(())).unwrap(), Err(PageError::Invalid(_))));
    }

    #[test]
    fn a_list_within_its_limit_is_one_page() {
        let pages = ListPages::default();
        let all = pages.page("s", Some(10), None, true, || Ok::<_, ()>((items(3), 1))).unwrap().unwrap();
        assert_eq!((all.items.len(), all.continue_token, all.remaining), (3, None, None));
    }
}
