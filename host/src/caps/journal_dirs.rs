//! The system journal's files as journalctl finds them without
//! `--directory`: systemd 252's `sd_journal_open` with
//! `SD_JOURNAL_LOCAL_ONLY` (journalctl without `--merge`). In each of
//! `/run/log/journal` and `/var/log/journal`: the `*.journal` and
//! `*.journal~` files directly in it, and those of its subdirectories
//! named by a 128-bit ID (no journal namespace suffix), where that ID is
//! this machine's or the directory is under `/run` (volatile journals are
//! always local). Subdirectories are not searched further, and
//! `/var/log/journal/remote` is not read.
//!
//! Listed again for every query, as journalctl lists them for every run,
//! so files journald creates later (rotation, a first persistent file)
//! are found.

use std::path::{Path, PathBuf};

/// Where the system journal is: its two roots (with whether each is
/// volatile) and this machine's ID.
#[derive(Debug)]
pub struct SystemJournal {
    roots: [(PathBuf, bool); 2],
    machine_id: Option<String>,
}

/// A 128-bit ID as systemd writes one (32 hex digits, or the UUID form),
/// normalised to 32 lowercase hex digits.
fn id128(name: &str) -> Option<String> {
    let hex: String = match name.len() {
        32 => name.into(),
        36 if [8, 13, 18, 23].iter().all(|&i| name.as_bytes()[i] == b'-') => {
            name.split('-').collect()
        }
        _ => return None,
    };
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

fn is_journal_file(name: &str) -> bool {
    name.ends_with(".journal") || name.ends_with(".journal~")
}

/// The entries of `dir` (name, path, type), skipping names that are not
/// UTF-8 (no journal file or ID has one).
fn entries(dir: &Path) -> Vec<(String, PathBuf, std::fs::FileType)> {
    // A root that is missing or unreadable holds nothing, as for journalctl.
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((name, e.path(), e.file_type().ok()?))
        })
        .collect()
}

fn journal_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for (name, path, ty) in entries(dir) {
        if is_journal_file(&name) && (ty.is_file() || ty.is_symlink()) {
            out.push(path);
        }
    }
}

impl SystemJournal {
    /// This machine's journal (`/etc/machine-id`).
    pub fn local() -> Self {
        let machine_id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
        Self::under(Path::new("/"), id128(machine_id.trim()))
    }

    /// The layout below `prefix` instead of `/`, for a machine with this ID
    /// (`None`: unknown, so only volatile subdirectories are local).
    pub fn under(prefix: &Path, machine_id: Option<String>) -> Self {
        SystemJournal {
            roots: [
                (prefix.join("run/log/journal"), true),
                (prefix.join("var/log/journal"), false),
            ],
            machine_id,
        }
    }

    /// The journal files to read now.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (root, volatile) in &self.roots {
            for (name, path, ty) in entries(root) {
                if is_journal_file(&name) && (ty.is_file() || ty.is_symlink()) {
                    out.push(path);
                } else if (ty.is_dir() || ty.is_symlink())
                    && let Some(id) = id128(&name)
                    && (*volatile || self.machine_id.as_ref() == Some(&id))
                {
                    journal_files(&path, &mut out);
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: &str = "0123456789abcdef0123456789abcdef";
    const OTHER: &str = "fedcba9876543210fedcba9876543210";

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    /// Pins the defect: the default set was only the two machine-ID
    /// directories, so files directly in the roots and other volatile
    /// machine directories, which journalctl reads, were never read.
    #[test]
    fn the_default_set_is_journalctls() {
        let base =
            std::env::temp_dir().join(format!("nodelogd-journal-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let read = [
            format!("var/log/journal/{MACHINE}/system.journal"),
            format!("var/log/journal/{MACHINE}/system@x.journal~"),
            "var/log/journal/top.journal".to_string(),
            "run/log/journal/top.journal~".to_string(),
            format!("run/log/journal/{MACHINE}/system.journal"),
            format!("run/log/journal/{OTHER}/system.journal"),
        ];
        let ignored = [
            format!("var/log/journal/{OTHER}/system.journal"),
            format!("var/log/journal/{MACHINE}.ns/system.journal"),
            format!("var/log/journal/{MACHINE}/nested/system.journal"),
            format!("var/log/journal/{MACHINE}/{MACHINE}/system.journal"),
            "var/log/journal/remote/remote-x.journal".to_string(),
            "var/log/journal/notes.txt".to_string(),
            "var/log/other/system.journal".to_string(),
        ];
        for f in read.iter().chain(&ignored) {
            touch(&base.join(f));
        }
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            &MACHINE[..8],
            &MACHINE[8..12],
            &MACHINE[12..16],
            &MACHINE[16..20],
            &MACHINE[20..]
        );
        let found = SystemJournal::under(&base, id128(&uuid.to_uppercase())).files();
        let mut want: Vec<PathBuf> = read.iter().map(|f| base.join(f)).collect();
        want.sort();
        assert_eq!(found, want);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn ids_are_systemds() {
        assert_eq!(id128(MACHINE).as_deref(), Some(MACHINE));
        for bad in [
            "",
            "remote",
            &MACHINE[1..],
            &format!("{MACHINE}.ns"),
            &"g".repeat(32),
        ] {
            assert_eq!(id128(bad), None, "{bad:?}");
        }
    }
}
