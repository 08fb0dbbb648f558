//! The journald log source: answers with the bytes journalctl prints for
//! the kubelet's arguments, so responses are byte-identical to what a
//! kubelet returns. The host's native reader (`native.rs`) answers when it
//! can; otherwise, and with `--journal-reader=journalctl`, journalctl runs
//! and its output is streamed untouched. See `argv.rs` for the arguments
//! and where they differ from the kubelet's.

mod argv;
mod native;

use nodelogd_plugin_sdk::journal::{self, JournalError};
use nodelogd_plugin_sdk::process::Child;
use nodelogd_plugin_sdk::program::{self, Output};
use nodelogd_plugin_sdk::{Guest, LogStream, Query, SourceError, SourceInfo};

/// The logical program name this plugin's grant must give.
const JOURNALCTL: &str = "journalctl";
/// `journalctl --field` lists one unit a line; a node has a few hundred at
/// most, so this bounds memory without ever cutting a real list.
const MAX_UNIT_LIST: usize = 16 << 20;
const READ_CHUNK: u32 = 64 << 10;

struct Journald;

fn run(args: &[String]) -> Result<Child, SourceError> {
    program::start(JOURNALCTL, args, &[])
}

/// What the kubelet prints when it cannot run journalctl at all (not
/// found, say), and only for the current boot.
const UNAVAILABLE: &str = "\nerror: journal output not available\n";

/// journalctl answering `q`, with the kubelet's arguments. When it cannot
/// start (a host without journalctl grants this plugin none, and the
/// native reader answers alone), the kubelet's answer without it.
fn journalctl(q: &Query) -> Result<native::Source, SourceError> {
    let started = || -> Result<Child, SourceError> {
        let args = match argv::tail_plan(q) {
            argv::Tail::Direct => argv::entries(q, argv::Start::Query),
            argv::Tail::FromCursor(n) => match nth_newest_cursor(q, n)? {
                Some(cursor) => argv::entries(q, argv::Start::Cursor(cursor)),
                None => argv::entries(q, argv::Start::All),
            },
        };
        run(&args)
    };
    match started() {
        // journalctl's own exit status is deliberately ignored, as the
        // kubelet does: whatever it printed (stderr included) is the answer.
        Ok(child) => Ok(native::Source::Journalctl(Output(child))),
        Err(SourceError::Denied(why)) => {
            warn(&format!("journalctl cannot run: {why}"));
            let current_boot = q.boot.unwrap_or(0) == 0;
            Ok(native::Source::Message(
                current_boot.then(|| UNAVAILABLE.as_bytes().to_vec()),
            ))
        }
        Err(e) => Err(e),
    }
}

fn warn(message: &str) {
    nodelogd_plugin_sdk::log::log(nodelogd_plugin_sdk::log::Level::Warn, message);
}

/// The units journald knows (`journalctl --field _SYSTEMD_UNIT`), one a
/// line. Empty when journalctl cannot run: the kubelet then takes every
/// service for a file-logged one.
fn unit_list() -> Result<String, SourceError> {
    match journal::field_values("_SYSTEMD_UNIT") {
        Ok(units) => return Ok(units.join("\n")),
        Err(JournalError::Unsupported(_)) => {}
        Err(JournalError::Refused(why) | JournalError::Failed(why)) => {
            return Err(SourceError::Io(why));
        }
    }
    let child = match run(&argv::unit_list()) {
        Ok(child) => child,
        Err(SourceError::Denied(why)) => {
            warn(&format!("journalctl cannot run: {why}"));
            return Ok(String::new());
        }
        Err(e) => return Err(e),
    };
    let units = program::output(&child, MAX_UNIT_LIST)?;
    Ok(String::from_utf8_lossy(&units).into_owned())
}

impl Guest for Journald {
    type LogStream = native::Stream;

    fn info() -> SourceInfo {
        SourceInfo {
            name: "journald".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "the systemd journal, read natively or through journalctl".into(),
            supports_options: true,
        }
    }

    /// The kubelet's test (`checkForNativeLogger`): a service is journald's
    /// when `journalctl --field _SYSTEMD_UNIT` mentions `<svc>.service`. It
    /// is a substring match on purpose, for parity with the kubelet.
    fn serves(services: Vec<String>) -> Result<Vec<bool>, SourceError> {
        let units = unit_list()?;
        Ok(services
            .iter()
            .map(|s| units.contains(&format!("{s}.service")))
            .collect())
    }

    fn open(q: Query) -> Result<LogStream, SourceError> {
        let stream = match native::open(&q)? {
            Some(stream) => stream,
            None => native::Stream::of(journalctl(&q)?),
        };
        Ok(LogStream::new(stream))
    }
}

/// The cursor of the `n`th newest entry matching `q`, or `None` when fewer
/// than `n` entries match. Reads newest first, one JSON line per entry, and
/// stops (killing journalctl) as soon as it has the answer. Lines that are
/// not JSON (journalctl's own messages) are skipped: the printing pass that
/// follows shows them where they belong.
fn nth_newest_cursor(q: &Query, n: u32) -> Result<Option<String>, SourceError> {
    let child = run(&argv::newest_first_cursors(q))?;
    let mut seen = 0u32;
    let mut line = Vec::new();
    while let Some(chunk) = child.read(READ_CHUNK).map_err(SourceError::Io)? {
        for &b in &chunk {
            if b != b'\n' {
                line.push(b);
                continue;
            }
            if line.first() != Some(&b'{') {
                line.clear();
                continue;
            }
            seen += 1;
            if seen == n {
                return cursor_of(&line)
                    .map(Some)
                    .ok_or_else(|| SourceError::Io("journalctl printed no cursor".into()));
            }
            line.clear();
        }
    }
    Ok(None)
}

/// `__CURSOR` from one line of `journalctl --output=json`. Cursors are
/// `key=hex;...`, so they never contain a quote or an escape.
fn cursor_of(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let start = text.find("\"__CURSOR\":\"")? + "\"__CURSOR\":\"".len();
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_string())
}

nodelogd_plugin_sdk::export!(Journald);
