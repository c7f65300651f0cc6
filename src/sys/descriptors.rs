//! Room for a plan's connections in the process's file descriptor table,
//! made before its load starts.
//!
//! Linux grows a process's descriptor table by doubling it when a new
//! descriptor does not fit (64, 256, 512, ...), and in a multi-threaded
//! process each growth waits for an RCU grace period: the thread opening the
//! connection sleeps 12-20 ms here (`perf`: `socket` -> `expand_files` ->
//! `synchronize_rcu`), with every arrival due meanwhile late. That happens
//! exactly when the target slows down and VUs pile up on new connections.
//! The table never shrinks, so growing it once up front costs one wait,
//! before the schedule starts. The open-files limit is raised to fit the
//! plan too, up to the hard limit, as Go's runtime does at start.

/// Descriptors the process holds besides its VUs' connections: the runtime's
/// event queues, the /metrics listener and scrapes, logs, reports.
const HEADROOM: u64 = 256;

/// Makes room for the connections of `vus` VUs before their load starts;
/// warns when the open-files limit cannot hold them.
pub fn make_room_for(vus: u64) {
    let wanted = vus + HEADROOM;
    if let Some(limit) = reserve(wanted).filter(|limit| *limit < wanted) {
        tracing::warn!(
            vus,
            limit,
            "the open-files limit is below what this many VUs' connections may need: requests beyond it fail \
             with \"Too many open files\"; raise it (ulimit -n, or LimitNOFILE= under systemd)"
        );
    }
}

/// The soft limit to set and the table size to reserve for `wanted`
/// descriptors under the limits `(soft, hard)`.
fn sizes(wanted: u64, soft: u64, hard: u64) -> (u64, u64) {
    let limit = soft.max(wanted.min(hard));
    (limit, wanted.min(limit))
}

/// Makes room for `wanted` open descriptors: raises the soft open-files limit
/// as far as the hard limit allows and grows the descriptor table to match.
/// Returns the open-files limit now in force (None where that is unknown).
pub fn reserve(wanted: u64) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        linux::reserve(wanted)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = wanted;
        None
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    use std::os::fd::{FromRawFd, OwnedFd};

    pub fn reserve(wanted: u64) -> Option<u64> {
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
        let (limit, table) = super::sizes(wanted, soft, hard);
        if limit > soft && setrlimit(Resource::RLIMIT_NOFILE, limit, hard).is_err() {
            return Some(soft);
        }
        grow_table(table);
        Some(limit)
    }

    /// Grows the table to hold descriptor `size - 1`: duplicates a descriptor
    /// to the lowest free number at or above it and closes the copy.
    fn grow_table(size: u64) {
        use nix::fcntl::{fcntl, FcntlArg};
        let Ok(null) = std::fs::File::open("/dev/null") else { return };
        let Ok(at) = i32::try_from(size.saturating_sub(1)) else { return };
        if let Ok(copy) = fcntl(&null, FcntlArg::F_DUPFD_CLOEXEC(at)) {
            // SAFETY: fcntl(F_DUPFD_CLOEXEC) just returned `copy`, a new descriptor nothing else owns.
            drop(unsafe { OwnedFd::from_raw_fd(copy) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_rises_to_fit_the_plan_but_never_past_the_hard_one() {
        assert_eq!(sizes(3000, 1024, 524_288), (3000, 3000));
        assert_eq!(sizes(3000, 1024, 2048), (2048, 2048), "capped by the hard limit");
        assert_eq!(sizes(500, 1024, 524_288), (1024, 500), "a limit that fits is left alone");
        assert_eq!(sizes(500, 4096, 4096), (4096, 500));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_descriptor_table_holds_the_reserved_descriptors_and_none_is_left_open() {
        let limit = reserve(3000).expect("the open-files limit is readable on Linux");
        let wanted = 3000.min(limit);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let table: u64 = status.lines().find_map(|l| l.strip_prefix("FDSize:")).unwrap().trim().parse().unwrap();
        assert!(table >= wanted, "FDSize {table} for {wanted} descriptors");
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap();
        assert!(highest < wanted - 1, "descriptor {highest} is still open");
    }
}
