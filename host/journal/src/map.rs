//! Maps of journal files that survive the file shrinking under them.
//!
//! Reading a page of a map that lies past the end of its file (truncated
//! since it was mapped) or that the disk cannot read raises SIGBUS, whose
//! default action would end the whole host and every response in flight.
//! As journalctl does (systemd's `sigbus.c`), the handler installed here
//! puts a page of zeros in place of the missing one and marks the map: the
//! read goes on and finds zeros, which the reader takes as corruption, and
//! the reader drops the file at its next entry ([`Map::faulted`]), as it
//! drops any file it cannot iterate. A shrunk file has lost everything
//! past its new end, so the zeros go from the faulting page to the end of
//! the map: one more kernel map area, and one signal, per map.
//!
//! Any other SIGBUS goes to the disposition there was before ours (on
//! Linux, the Rust runtime's stack-overflow handler, which restores the
//! default action; wasmtime's traps come by SIGSEGV and SIGILL here, and
//! wasmtime's handler on other systems passes on what is not its own). One
//! sent with `kill` takes the default action: nodelogd gives SIGBUS no
//! meaning.
//!
//! The handler may only touch what is safe in a signal handler, so the maps
//! it knows are a fixed table of atomics ([`SLOTS`]), claimed and released
//! without locks.

use std::ffi::c_void;
use std::ops::Deref;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memmap2::Mmap;

/// How many maps can be open at once: journald keeps at most a few hundred
/// files, each mapped once by the cache and once more by a query reading
/// the file being written. A map beyond this is refused (`Unsupported`:
/// journalctl answers that query) rather than left unprotected.
const MAX_MAPS: usize = 4096;

struct Slot {
    /// The map's first byte; 0 while the slot is free.
    start: AtomicUsize,
    /// Its length; 0 while it is being claimed or released.
    len: AtomicUsize,
    faulted: AtomicBool,
}

static SLOTS: [Slot; MAX_MAPS] = [const {
    Slot {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        faulted: AtomicBool::new(false),
    }
}; MAX_MAPS];

static PAGE: AtomicUsize = AtomicUsize::new(0);
/// The SIGBUS disposition before ours; set before ours is installed.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// A read-only private map of a whole file, known to the SIGBUS handler.
pub struct Map {
    map: Mmap,
    /// None for an empty map, which has no page to fault.
    slot: Option<&'static Slot>,
}

/// The error of [`Map::new`].
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{MAX_MAPS} journal files are mapped already")]
    Full,
}

impl Map {
    /// Maps `file` as long as it is now.
    pub fn new(file: &std::fs::File) -> Result<Self, MapError> {
        install()?;
        // SAFETY: read-only and private, so nothing here writes through it;
        // what another process does to the file shows in it, and a page
        // that the file no longer backs is turned into zeros by the
        // handler rather than ending the process.
        let map = unsafe { Mmap::map(file) }?;
        if map.is_empty() {
            return Ok(Map { map, slot: None });
        }
        let start = map.as_ptr() as usize;
        let slot = SLOTS
            .iter()
            .find(|slot| {
                slot.start.load(Ordering::Relaxed) == 0
                    && slot
                        .start
                        .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
            })
            .ok_or(MapError::Full)?;
        slot.faulted.store(false, Ordering::Release);
        slot.len.store(map.len(), Ordering::Release);
        Ok(Map {
            map,
            slot: Some(slot),
        })
    }

    /// Whether a page of it was missing (the file shrank, or the disk
    /// failed) and reads as zeros now.
    pub fn faulted(&self) -> bool {
        self.slot
            .is_some_and(|slot| slot.faulted.load(Ordering::Acquire))
    }

    /// Drops its pages from this process's resident set; they are read
    /// again from the page cache when next touched.
    pub fn release_pages(&self) {
        // SAFETY: a private read-only map: DONTNEED only drops the pages,
        // which refault from the file with the same contents (or, where the
        // handler put zeros, as zeros again).
        let _ = unsafe {
            self.map
                .unchecked_advise(memmap2::UncheckedAdvice::DontNeed)
        };
    }
}

impl Deref for Map {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // Released before the map goes (the field drops after this), and
        // length first: the handler ignores a slot without a length.
        if let Some(slot) = self.slot {
            slot.len.store(0, Ordering::Release);
            slot.start.store(0, Ordering::Release);
        }
    }
}

/// Installs the handler, once.
fn install() -> std::io::Result<()> {
    static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
    let failed = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let installed = INSTALLED.get_or_init(|| {
        // SAFETY: sysconf and sigaction with valid arguments; the old
        // disposition is saved before ours can run.
        unsafe {
            PAGE.store(
                libc::sysconf(libc::_SC_PAGESIZE) as usize,
                Ordering::Relaxed,
            );
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                return Err(failed());
            }
            let _ = PREVIOUS.set(previous);
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_sigbus as *const () as usize;
            // NODEFER as wasmtime's own: a handler we pass a signal on to
            // may leave by another way than returning.
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut ours.sa_mask);
            if libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut()) != 0 {
                return Err(failed());
            }
        }
        Ok(())
    });
    installed.map_err(std::io::Error::from_raw_os_error)
}

/// The first byte and length of a map of ours that holds `addr`, marking
/// as faulted every slot that does. The faulting thread holds its map, so
/// that slot is steady; another may be claimed or released meanwhile, so
/// its length is read on both sides of its start and must not change.
fn faulted_map(addr: usize) -> Option<(usize, usize)> {
    let mut found = None;
    for slot in &SLOTS {
        let len = slot.len.load(Ordering::Acquire);
        let start = slot.start.load(Ordering::Acquire);
        if len == 0 || slot.len.load(Ordering::Acquire) != len {
            continue;
        }
        if addr >= start && addr - start < len {
            slot.faulted.store(true, Ordering::Release);
            found = Some((start, len));
        }
    }
    found
}

extern "C" fn on_sigbus(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // Only a fault has an address: one sent by a process (code <= 0) has
    // the sender's pid in its place.
    if code <= 0 {
        // SAFETY: sigaction and raise are async-signal-safe.
        unsafe {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(signum, &default, std::ptr::null_mut());
            libc::raise(signum);
        }
        return;
    }
    if code == libc::BUS_ADRERR
        && let Some((start, len)) = faulted_map(addr)
    {
        let page = PAGE.load(Ordering::Relaxed);
        let from = addr & !(page - 1);
        let to = (start + len).next_multiple_of(page);
        // SAFETY: the pages lie inside a live map of ours (its reader is
        // the thread that faulted, and holds it); a fixed anonymous map
        // replaces just them, and munmap of the whole map removes it.
        let zeros = unsafe {
            libc::mmap(
                from as *mut c_void,
                to - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            return;
        }
    }
    // SAFETY: as the kernel called us.
    unsafe { pass_on(signum, info, context) }
}

/// Hands the signal to the disposition there was before ours.
unsafe fn pass_on(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let Some(previous) = PREVIOUS.get() else {
        return;
    };
    let handler = previous.sa_sigaction;
    // SAFETY: the previous disposition's handler, called as it asked to be.
    unsafe {
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // Put back: the faulting instruction runs again and the kernel
            // takes the default action (a fault's SIGBUS cannot be ignored).
            libc::sigaction(signum, previous, std::ptr::null_mut());
        } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                std::mem::transmute(handler);
            handler(signum, info, context);
        } else {
            let handler: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            handler(signum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_file(name: &str, len: usize) -> (std::path::PathBuf, std::fs::File) {
        let dir = std::env::temp_dir().join(format!("nodelogd-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, vec![7u8; len]).unwrap();
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (dir, file)
    }

    /// A SIGBUS outside our maps takes the action it had before ours, here
    /// the default: it ends the process; and so does one sent by `kill`.
    /// So in a child, this test again, once for each.
    #[test]
    fn a_sigbus_elsewhere_is_not_swallowed() {
        const CHILD: &str = "NODELOGD_TEST_SIGBUS_CHILD";
        if let Some(how) = std::env::var_os(CHILD) {
            let (dir, file) = scratch_file("elsewhere", 4 << 16);
            let _ours = Map::new(&file).unwrap();
            // SAFETY: it is meant to fault.
            let theirs = unsafe { Mmap::map(&file) }.unwrap();
            file.set_len(0).unwrap();
            std::fs::remove_dir_all(dir).unwrap();
            if how == "kill" {
                // SAFETY: a plain syscall.
                unsafe { libc::kill(libc::getpid(), libc::SIGBUS) };
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
            // SAFETY: inside the map (whose file no longer backs it).
            let byte = unsafe { std::ptr::read_volatile(theirs.as_ptr().add(3 << 16)) };
            panic!("read {byte} past the end of the file");
        }
        for how in ["fault", "kill"] {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "map::tests::a_sigbus_elsewhere_is_not_swallowed",
                    "--test-threads=1",
                ])
                .env(CHILD, how)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // A handler that swallowed the fault would fault forever.
            let started = std::time::Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if started.elapsed() > std::time::Duration::from_secs(20) {
                    child.kill().unwrap();
                    panic!("{how}: the child still runs: the SIGBUS was swallowed");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGBUS), "{how}: {status:?}");
        }
    }

    /// The page past the new end of a truncated file reads as zeros and
    /// marks the map, instead of ending the process.
    #[test]
    fn a_file_truncated_under_its_map_reads_as_zeros() {
        let (dir, file) = scratch_file("shrinks", 5 << 16);
        let map = Map::new(&file).unwrap();
        let other = Map::new(&file).unwrap();
        assert_eq!(map[4 << 16], 7);
        assert!(!map.faulted());
        file.set_len(1 << 16).unwrap();
        // Volatile: a read the compiler may not keep from the last one.
        // SAFETY: inside the map.
        let read = |at: usize| unsafe { std::ptr::read_volatile(map.as_ptr().add(at)) };
        assert_eq!(read(4 << 16), 0, "the page past the end");
        assert_eq!(read(0), 7, "a page still backed");
        assert!(map.faulted());
        assert!(!other.faulted(), "only the map that faulted");
        map.release_pages();
        assert_eq!(read(4 << 16), 0, "released, still zeros");
        drop(map);
        drop(other);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
