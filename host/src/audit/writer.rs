//! The audit log's writer: a thread of its own behind a bounded channel,
//! so that a slow disk never holds a response up; when the channel is
//! full, records are counted and dropped.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use super::record::Record;

/// Records waiting for the writer; a burst of this many finished requests
/// is absorbed while the disk is slow.
const QUEUE: usize = 4096;

#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Record>,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    pub fn open(path: &Path) -> std::io::Result<Writer> {
        let out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stderr())
        } else {
            Box::new(
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(path)?,
            )
        };
        let (queue, records) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || write_all(records, out))?;
        Ok(Writer {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues `record`, or drops it if the writer is behind.
    pub fn write(&self, record: Record) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.queue.try_send(record)
        {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // 1, 2, 4, 8...: told, but never a flood of warnings.
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "audit log writer is behind: records dropped");
            }
        }
    }
}

/// Writes records as they come, flushing whenever the queue is empty.
fn write_all(records: Receiver<Record>, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::new(out);
    let mut failures: u64 = 0;
    while let Ok(first) = records.recv() {
        let written = std::iter::once(first)
            .chain(records.try_iter())
            .try_for_each(|record| {
                serde_json::to_writer(&mut out, &record)?;
                out.write_all(b"\n")
            })
            .and_then(|()| out.flush());
        if let Err(e) = written {
            failures += 1;
            if failures.is_power_of_two() {
                tracing::error!(failures, "writing the audit log: {e}");
            }
        }
    }
}
