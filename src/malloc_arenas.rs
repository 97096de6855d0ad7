//! glibc's malloc gives each thread that allocates concurrently an arena of its own, up to 8 per core, and
//! memory freed into one arena is not handed back while others hold pages. The API server commits on
//! tokio's blocking pool (many threads), so with the default its RSS under 1000 heartbeating nodes grew to
//! twice what it holds (213 MiB against 121 MiB with two arenas: docs/benchmarks.md). Two arenas are
//! plenty on the small hosts kubeboot runs on; set before any thread starts.

pub fn limit() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tuning parameter; called before the runtime starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
