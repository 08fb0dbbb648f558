//! A plugin that misbehaves on request, for the sandbox tests. The first
//! service name picks the behaviour; `run:PROGRAM:ARG:ARG...` runs a granted
//! program and streams its output (service names cannot hold spaces or
//! slashes, so `:` separates the argv elements).

use exports::nodelogd::plugin::source::{
    Guest, GuestLogStream, LogStream, Query, SourceError, SourceInfo,
};
use nodelogd::plugin::{log, logfile, process};

wit_bindgen::generate!({ path: "../../../wit", world: "log-source" });

struct Misbehave;

impl Guest for Misbehave {
    type LogStream = Stream;

    fn info() -> SourceInfo {
        SourceInfo {
            name: "misbehave".into(),
            version: "0".into(),
            description: "misbehaves for tests".into(),
            supports_options: true,
        }
    }

    fn serves(services: Vec<String>) -> Result<Vec<bool>, SourceError> {
        match services.first().map(String::as_str) {
            Some("trap-in-serves") => unreachable!("asked to trap"),
            // Blocks in a host call, where only the wall clock can end it.
            Some("hang-in-serves") => {
                let child = process::spawn("sleep", &["8765433".into()])
                    .map_err(SourceError::Denied)?;
                while child.read(1024).map_err(SourceError::Io)?.is_some() {}
            }
            _ => {}
        }
        Ok(vec![true; services.len()])
    }

    fn open(q: Query) -> Result<LogStream, SourceError> {
        let mode = q.services.first().cloned().unwrap_or_default();
        Ok(LogStream::new(Stream {
            mode: mode.into(),
            child: None.into(),
            done: false.into(),
        }))
    }
}

struct Stream {
    mode: std::cell::RefCell<String>,
    child: std::cell::RefCell<Option<process::Child>>,
    /// Set once a mode has said its piece: the next pull ends the stream.
    done: std::cell::Cell<bool>,
}

fn text(s: impl Into<String>) -> Result<Option<Vec<u8>>, SourceError> {
    Ok(Some(s.into().into_bytes()))
}

impl GuestLogStream for Stream {
    fn next_batch(&self, max_bytes: u32) -> Result<Option<Vec<u8>>, SourceError> {
        if let Some(child) = self.child.borrow().as_ref() {
            return child.read(max_bytes).map_err(SourceError::Io);
        }
        if self.done.replace(true) {
            return Ok(None);
        }
        let mode = self.mode.borrow().clone();
        match mode.as_str() {
            "hello" => text("hello\n"),
            "trap" => panic!("asked to trap"),
            "hello-then-trap" => {
                // Traps on the second pull, once the 200 is on its way.
                *self.mode.borrow_mut() = "trap".into();
                self.done.set(false);
                text("hello\n")
            }
            // Tries to forge lines in the host's log, and to flood it.
            "log-forge" => {
                for n in 0..100 {
                    let forged = format!("{n}\nforged line\x1b[31m\0");
                    log::log(log::Level::Error, &forged);
                }
                text("logged\n")
            }
            "open-many" => {
                let mut readers = Vec::new();
                for n in 0..5000 {
                    match logfile::open("containers/web-1_default_app-abc.log") {
                        Ok(reader) => readers.push(reader),
                        Err(e) => return text(format!("opened {n}, then {e:?}")),
                    }
                }
                text(format!("opened {}", readers.len()))
            }
            // 15 MiB of `a/`: the host used to expand each `/` into a
            // separate allocation, 380 MiB in all.
            "huge-path" => text(format!("{:?}", logfile::open(&"a/".repeat(15 << 19)).err())),
            "two-children" => {
                let first = process::spawn("sleep", &["8765434".into()]);
                let second = process::spawn("sleep", &["8765434".into()]);
                text(format!("{:?} {:?}", first.is_ok(), second.err()))
            }
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hog);
                }
            }
            "oversized" => Ok(Some(vec![b'x'; max_bytes as usize + 1])),
            "spawn-sh" => match process::spawn("sh", &["-c".into(), "id".into()]) {
                Ok(_) => text("sh started\n"),
                Err(e) => text(e),
            },
            "sleep-bad-arg" => match process::spawn("sleep", &["--help".into()]) {
                Ok(_) => text("sleep started\n"),
                Err(e) => text(e),
            },
            mode if mode.starts_with("run:") => {
                let mut argv = mode["run:".len()..].split(':').map(String::from);
                let program = argv.next().unwrap_or_default();
                let args: Vec<String> = argv.collect();
                let child = process::spawn(&program, &args).map_err(SourceError::Denied)?;
                *self.child.borrow_mut() = Some(child);
                self.next_batch(max_bytes)
            }
            mode if mode.starts_with("sleep-") => {
                let secs = mode.trim_start_matches("sleep-").to_string();
                let child = process::spawn("sleep", &[secs]).map_err(SourceError::Denied)?;
                *self.child.borrow_mut() = Some(child);
                self.next_batch(max_bytes)
            }
            mode if mode.starts_with("read:") => match logfile::open(&mode["read:".len()..]) {
                Ok(reader) => {
                    let mut out = Vec::new();
                    while let Some(chunk) = reader.read(max_bytes).map_err(SourceError::Io)? {
                        out.extend(chunk);
                    }
                    Ok(Some(out))
                }
                Err(e) => text(format!("{e:?}")),
            },
            _ => Ok(None),
        }
    }
}

export!(Misbehave);
