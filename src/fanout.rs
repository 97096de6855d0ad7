//! Work on many hosts at once, at most `forks` at a time, results in inventory order.

use std::future::Future;

use futures::stream::{self, StreamExt};

pub async fn for_each_host<'a, H, R, F, Fut>(hosts: &'a [H], forks: usize, work: F) -> Vec<R>
where
    F: Fn(&'a H) -> Fut,
    Fut: Future<Output = R> + 'a,
{
    stream::iter(hosts.iter().map(work)).buffered(forks.max(1)).collect().await
}
