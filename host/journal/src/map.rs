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
//!
//! Each map starts one page past the boundary of what one page table maps
//! (2 MiB with 4 KiB pages; [`place`]). Linux places a large file's map on
//! such a boundary, and since 6.18 a fault on a page held in a large folio
//! of the page cache (which ext4 and xfs build from large reads and
//! writes, up to 2 MiB) maps the whole folio when it lies within one page
//! table: a query's first steps through six files' hash tables and
//! entry arrays, a few hundred faults, took the resident set from 35 to
//! 175 MiB after the files had been read once with `cat`. Off the boundary
//! no 2 MiB folio lies within one page table, and a fault maps a smaller
//! folio (up to 1 MiB) or what fault-around maps (64 KiB), as on older
//! kernels: 82 MiB. A walk that streams on lets the pages it faulted in
//! go after each file ([`Map::release_after`]): 42 MiB.

use std::ffi::c_void;
use std::ops::Deref;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// A read-only map of a whole file, known to the SIGBUS handler.
pub struct Map {
    /// The first byte; dangling when `len` is 0.
    start: *const u8,
    len: usize,
    /// None for an empty map, which has no page to fault.
    slot: Option<&'static Slot>,
}

// SAFETY: the map is read-only and lives until the Map drops; nothing in
// it is tied to a thread.
unsafe impl Send for Map {}
// SAFETY: as for Send: shared reads of read-only memory.
unsafe impl Sync for Map {}

/// What one page table maps (a page of 8-byte entries, each for a page):
/// 2 MiB with 4 KiB pages. A folio within one is mapped whole on a fault.
fn table_span() -> usize {
    let page = PAGE.load(Ordering::Relaxed);
    page * (page / 8)
}

/// Faults a walk through a map may take and keep its pages: a fault maps
/// at most a 1 MiB folio (see the module documentation), most far less
/// (64 KiB); a cold seek touches a few dozen index pages, and the thread's
/// own allocations may fault a few times.
const FAULTS_KEPT: u64 = 8;

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
        // A slice is at most isize::MAX long.
        let len = isize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::FileTooLarge))?
            as usize;
        if len == 0 {
            return Ok(Map {
                start: std::ptr::NonNull::dangling().as_ptr(),
                len,
                slot: None,
            });
        }
        let mut map = Map {
            start: place(file, len)?,
            len,
            slot: None,
        };
        let start = map.start as usize;
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
        slot.len.store(len, Ordering::Release);
        map.slot = Some(slot);
        Ok(map)
    }

    /// Whether a page of it was missing (the file shrank, or the disk
    /// failed) and reads as zeros now.
    pub fn faulted(&self) -> bool {
        self.slot
            .is_some_and(|slot| slot.faulted.load(Ordering::Acquire))
    }

    /// Drops its pages if this thread took more than [`FAULTS_KEPT`]
    /// faults since `mark`: a walk through its indexes that found them
    /// cold. A warm walk faults nothing and keeps them.
    pub fn release_after(&self, mark: &FaultMark) {
        if mark.since() > FAULTS_KEPT {
            self.release_pages();
        }
    }

    /// Drops its pages from this process's resident set; they are read
    /// again from the page cache when next touched.
    pub fn release_pages(&self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: a read-only map of ours: DONTNEED only drops the
        // pages, which refault from the file with the same contents (or,
        // where the handler put zeros, as zeros again).
        unsafe {
            libc::madvise(self.start as *mut c_void, self.len, libc::MADV_DONTNEED);
        }
    }
}

/// This thread's page faults when it was taken: a walk through a map's
/// indexes (hash tables, entry arrays) maps a page, or a whole folio, at
/// each step, and only the faults tell how many it brought in.
pub struct FaultMark(u64);

impl FaultMark {
    pub fn now() -> Self {
        FaultMark(thread_faults())
    }

    /// Faults this thread took since the mark.
    pub fn since(&self) -> u64 {
        thread_faults().saturating_sub(self.0)
    }
}

fn thread_faults() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    (usage.ru_minflt + usage.ru_majflt) as u64
}

impl Deref for Map {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len` readable bytes from `start` until the Map drops.
        unsafe { std::slice::from_raw_parts(self.start, self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // Released before the map goes, and length first: the handler
        // ignores a slot without a length.
        if let Some(slot) = self.slot {
            slot.len.store(0, Ordering::Release);
            slot.start.store(0, Ordering::Release);
        }
        if self.len > 0 {
            // SAFETY: our map, which no one reads once the Map is gone.
            unsafe {
                libc::munmap(self.start as *mut c_void, self.len);
            }
        }
    }
}

/// Maps `len` bytes of `file` read-only, one page past a page table's
/// boundary (see the module documentation): the file goes over a span
/// reserved with room to spare, and the spare is given back.
fn place(file: &std::fs::File, len: usize) -> std::io::Result<*const u8> {
    use std::os::fd::AsRawFd;
    let page = PAGE.load(Ordering::Relaxed);
    let table = table_span();
    let span = len
        .checked_add(table + page)
        .ok_or(std::io::ErrorKind::FileTooLarge)?;
    // SAFETY: a new inaccessible anonymous span, then a fixed map inside
    // it, so no other map of the process is touched; the spare on either
    // side is unmapped by its exact bounds. Read-only, so
    // nothing here writes through it; what another process does to the
    // file shows in it, and a page that the file no longer backs is turned
    // into zeros by the handler rather than ending the process.
    unsafe {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        let reserved = libc::mmap(std::ptr::null_mut(), span, libc::PROT_NONE, flags, -1, 0);
        if reserved == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = reserved as usize;
        let start = base.next_multiple_of(table) + page;
        let end = (start + len).next_multiple_of(page);
        let map = libc::mmap(
            start as *mut c_void,
            len,
            libc::PROT_READ,
            // Shared, as journald's appends to the file being written
            // must show in it (a private map shows them too on Linux, while
            // no page is copied, but only a shared one is meant to).
            libc::MAP_SHARED | libc::MAP_FIXED,
            file.as_raw_fd(),
            0,
        );
        if map == libc::MAP_FAILED {
            let error = std::io::Error::last_os_error();
            libc::munmap(reserved, span);
            return Err(error);
        }
        libc::munmap(reserved, start - base);
        if base + span > end {
            libc::munmap(end as *mut c_void, base + span - end);
        }
        Ok(start as *const u8)
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
        let dir = std::env::temp_dir().join(format!("nodelogd-map-{}-{name}", std::process::id()));
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
            // SAFETY: a new read-only map of the file; it is meant to fault.
            let theirs = unsafe {
                use std::os::fd::AsRawFd;
                let len = 4 << 16;
                let flags = libc::MAP_PRIVATE;
                let map = libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    flags,
                    file.as_raw_fd(),
                    0,
                );
                assert_ne!(map, libc::MAP_FAILED);
                std::slice::from_raw_parts(map as *const u8, len)
            };
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

    /// The resident bytes of the map that holds `addr`, from smaps.
    fn resident_bytes(addr: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((from, to)) = range.split_once('-')
                && let (Ok(from), Ok(to)) = (
                    usize::from_str_radix(from, 16),
                    usize::from_str_radix(to, 16),
                )
            {
                inside = (from..to).contains(&addr);
            } else if inside && let Some(kb) = line.strip_prefix("Rss:") {
                return kb.trim().trim_end_matches(" kB").parse::<usize>().unwrap() << 10;
            }
        }
        panic!("no map holds {addr:#x}");
    }

    /// A map starts one page past a page table's boundary, so that a fault
    /// maps no folio of a page table's size whole: touching one byte in
    /// each 2 MiB of a file just written (which a kernel with large folios,
    /// such as 6.18 on ext4, keeps in folios up to 2 MiB) maps a small part
    /// of each.
    #[test]
    fn a_fault_maps_no_whole_large_folio() {
        let (dir, file) = scratch_file("folios", 16 << 20);
        let map = Map::new(&file).unwrap();
        let (page, table) = (PAGE.load(Ordering::Relaxed), table_span());
        assert_eq!(map.as_ptr() as usize % table, page);
        // With larger pages a page table spans more than the file.
        if table == 2 << 20 {
            let touched = (table..map.len()).step_by(table);
            let faults = touched.len();
            for at in touched {
                // SAFETY: inside the map.
                assert_eq!(unsafe { std::ptr::read_volatile(map.as_ptr().add(at)) }, 7);
            }
            let resident = resident_bytes(map.as_ptr() as usize);
            // At most a 1 MiB folio for each fault, and fault-around's
            // 64 KiB from the folio before.
            assert!(
                resident <= faults * (1 << 20) + faults * (64 << 10),
                "{} KiB resident after {faults} faults",
                resident >> 10,
            );
        }
        map.release_pages();
        assert_eq!(resident_bytes(map.as_ptr() as usize), 0, "released");
        drop(map);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A walk that faulted its pages in lets them go; one that found them
    /// mapped keeps them.
    #[test]
    fn a_cold_walk_lets_its_pages_go() {
        const LEN: usize = 64 << 20;
        let (dir, file) = scratch_file("walks", LEN);
        let map = Map::new(&file).unwrap();
        let walk = || {
            let mark = FaultMark::now();
            // 2 MiB apart: one fault each, whatever the folios.
            for at in (0..LEN).step_by(LEN / 32) {
                // SAFETY: inside the map.
                assert_eq!(unsafe { std::ptr::read_volatile(map.as_ptr().add(at)) }, 7);
            }
            map.release_after(&mark);
            resident_bytes(map.as_ptr() as usize)
        };
        assert_eq!(walk(), 0, "cold: released");
        // Warm the pages without a mark, then walk them again.
        for at in (0..LEN).step_by(LEN / 32) {
            // SAFETY: inside the map.
            unsafe { std::ptr::read_volatile(map.as_ptr().add(at)) };
        }
        assert!(walk() > 0, "warm: kept");
        drop(map);
        std::fs::remove_dir_all(dir).unwrap();
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
