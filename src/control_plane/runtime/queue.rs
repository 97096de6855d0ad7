//! The work queue of a controller, as client-go's: keys (not objects) are queued, a key waiting is queued
//! once however often it is added, a key being worked on is never handed to a second worker (an add
//! meanwhile marks it dirty and it comes back after `done`), and failures are retried after a per-key
//! exponential back-off (5 ms doubling up to 1000 s, client-go's defaults) until the key succeeds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1000);

#[derive(Default)]
struct State {
    ready: VecDeque<String>,
    queued: HashSet<String>,
    processing: HashSet<String>,
    /// Added while processing: queued again by `done`.
    dirty: HashSet<String>,
    failures: HashMap<String, u32>,
}

#[derive(Clone, Default)]
pub struct WorkQueue {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
}

/// The delay before retry number `failures` (1 = the first retry).
pub fn backoff(failures: u32) -> Duration {
    let factor = 2u64.saturating_pow(failures.saturating_sub(1).min(40));
    BASE_DELAY.saturating_mul(factor.min(u32::MAX as u64) as u32).min(MAX_DELAY)
}

impl WorkQueue {
    pub fn add(&self, key: &str) {
        let mut state = self.state.lock().expect("work queue");
        if state.processing.contains(key) {
            state.dirty.insert(key.to_string());
            return;
        }
        if state.queued.insert(key.to_string()) {
            state.ready.push_back(key.to_string());
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Queue `key` after `delay` (a reconciler asked to look again later).
    pub fn add_after(&self, key: &str, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let (queue, key) = (self.clone(), key.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(&key);
        });
    }

    /// Queue `key` again after its back-off; returns the delay chosen.
    pub fn add_rate_limited(&self, key: &str) -> Duration {
        let failures = {
            let mut state = self.state.lock().expect("work queue");
            let n = state.failures.entry(key.to_string()).or_default();
            *n = n.saturating_add(1);
            *n
        };
        let delay = backoff(failures);
        self.add_after(key, delay);
        delay
    }

    /// The key succeeded: its next failure starts the back-off from the beginning.
    pub fn forget(&self, key: &str) {
        self.state.lock().expect("work queue").failures.remove(key);
    }

    /// The next key to work on; call `done` with it afterwards.
    pub async fn next(&self) -> String {
        loop {
            let notified = self.wake.notified();
            {
                let mut state = self.state.lock().expect("work queue");
                if let Some(key) = state.ready.pop_front() {
                    state.queued.remove(&key);
                    state.processing.insert(key.clone());
                    return key;
                }
            }
            notified.await;
        }
    }

    pub fn done(&self, key: &str) {
        let mut state = self.state.lock().expect("work queue");
        state.processing.remove(key);
        if state.dirty.remove(key) && state.queued.insert(key.to_string()) {
            state.ready.push_back(key.to_string());
            drop(state);
            self.wake.notify_one();
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().expect("work queue").ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_queued_once_and_never_worked_on_twice_at_a_time() {
        let queue = WorkQueue::default();
        queue.add("a");
        queue.add("b");
        queue.add("a");
        assert_eq!(queue.len(), 2);
        let first = queue.next().await;
        assert_eq!(first, "a");
        // Added while processing: not handed out again until done.
        queue.add("a");
        assert_eq!(queue.next().await, "b");
        assert!(queue.is_empty());
        queue.done("a");
        assert_eq!(queue.next().await, "a", "the dirty key comes back after done");
        queue.done("a");
        queue.done("b");
        assert!(queue.is_empty());
    }

    #[test]
    fn back_off_doubles_from_5ms_up_to_1000s() {
        let table = [(1, 5), (2, 10), (3, 20), (4, 40), (11, 5120)];
        for (failures, ms) in table {
            assert_eq!(backoff(failures), Duration::from_millis(ms), "failure {failures}");
        }
        assert_eq!(backoff(30), MAX_DELAY);
        assert_eq!(backoff(u32::MAX), MAX_DELAY);
    }

    #[tokio::test]
    async fn failures_are_retried_later_and_forget_resets() {
        let queue = WorkQueue::default();
        assert_eq!(queue.add_rate_limited("k"), Duration::from_millis(5));
        assert_eq!(queue.add_rate_limited("k"), Duration::from_millis(10));
        let key = tokio::time::timeout(Duration::from_secs(1), queue.next()).await.expect("retried");
        assert_eq!(key, "k");
        queue.done("k");
        queue.forget("k");
        assert_eq!(queue.add_rate_limited("k"), Duration::from_millis(5));
    }
}
