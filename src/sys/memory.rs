//! Handing freed heap pages back to the OS.
//!
//! glibc keeps the heap pages a burst freed (a stalled target makes hundreds
//! of requests pile up, each with its connection's buffers), so without this
//! a daemon's RSS would stay at its highest point ever instead of following
//! what it uses.

use std::time::Duration;

/// How often freed memory is handed back to the OS.
const TRIM_EVERY: Duration = Duration::from_secs(30);

/// Releases freed memory every [`TRIM_EVERY`], forever.
pub async fn release_freed_memory_periodically() {
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        release_freed_memory();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed_memory() {
    // SAFETY: malloc_trim takes a plain integer and only walks glibc's own arenas, under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() {}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn heap_pages_freed_after_a_burst_go_back_to_the_os() {
        // 100 MiB in small blocks, all freed but the last, which pins the heap's top.
        let mut blocks: Vec<Box<[u8; 1024]>> = (0..100 * 1024).map(|_| Box::new([1u8; 1024])).collect();
        let last = blocks.pop();
        drop(blocks);
        let before = rss_kib();
        super::release_freed_memory();
        let after = rss_kib();
        drop(last);
        assert!(before - after.min(before) > 50 * 1024, "RSS {before} KiB before the trim, {after} KiB after");
    }
}
