//! Finds live processes by their argv, for the "no child left behind"
//! checks. Zombies are counted as gone: they hold no resources and their
//! parent reaps them.

pub fn matching(needle: &str) -> Vec<u32> {
    matching_all(&[needle])
}

/// Live processes whose argv holds every one of `needles`.
pub fn matching_all(needles: &[&str]) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            let argv = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            !zombie && needles.iter().all(|n| argv.contains(n))
        })
        .collect()
}

/// Waits up to `within` for no process to match `needle`.
pub fn gone_within(needle: &str, within: std::time::Duration) -> bool {
    until(within, || matching(needle).is_empty())
}

/// Waits up to `within` for a process to match all of `needles` (a fixed
/// sleep failed on a loaded machine, where journalctl took longer to start).
pub fn running_within(needles: &[&str], within: std::time::Duration) -> bool {
    until(within, || !matching_all(needles).is_empty())
}

fn until(within: std::time::Duration, done: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    done()
}
