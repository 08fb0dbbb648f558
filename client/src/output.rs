//! The only writer of stdout and stderr while nodes are being read: whole
//! lines from each node with its prefix (coloured per node on a terminal),
//! one stderr line per failed node, and on a terminal a progress line while
//! nodes are still pending.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

/// Events in flight between the nodes and the printer.
const QUEUE: usize = 64;
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub enum Event {
    /// Whole lines, each ending in `\n`.
    Lines {
        node: usize,
        bytes: Vec<u8>,
    },
    Done,
    Failed {
        node: usize,
        message: String,
    },
}

#[derive(Clone)]
pub struct Events(mpsc::Sender<Event>);

impl Events {
    pub async fn send(&self, event: Event) {
        // The printer outlives every sender; a closed channel means the
        // process is exiting anyway.
        let _ = self.0.send(event).await;
    }
}

pub fn channel() -> (Events, mpsc::Receiver<Event>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (Events(tx), rx)
}

pub struct Printer {
    names: Vec<String>,
    /// `None`: lines are printed as they are.
    prefixes: Option<Vec<Vec<u8>>>,
    progress: bool,
}

impl Printer {
    /// Prefixes unless `raw` or there is one node; colours and progress only
    /// on a terminal (and no colours with `NO_COLOR`).
    pub fn new(names: Vec<String>, raw: bool) -> Self {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let prefixes = (!raw && names.len() > 1).then(|| {
            names
                .iter()
                .enumerate()
                .map(|(i, name)| prefix(name, colour.then_some(i)))
                .collect()
        });
        let progress = std::io::stderr().is_terminal() && names.len() > 1;
        Printer {
            names,
            prefixes,
            progress,
        }
    }

    /// Prints until every sender is gone; returns how many nodes failed.
    pub async fn run(self, mut events: mpsc::Receiver<Event>) -> std::io::Result<usize> {
        let mut stdout = BufWriter::with_capacity(64 * 1024, tokio::io::stdout());
        let mut pending = self.names.len();
        let mut failed = 0;
        let mut progress_shown = false;
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
        loop {
            let event = tokio::select! {
                event = events.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
                _ = tick.tick(), if self.progress && pending > 0 => {
                    stdout.flush().await?;
                    eprint!(
                        "\r\x1b[Kwaiting for {pending} of {} nodes...",
                        self.names.len()
                    );
                    progress_shown = true;
                    continue;
                }
            };
            if std::mem::take(&mut progress_shown) {
                eprint!("\r\x1b[K");
            }
            match event {
                Event::Lines { node, bytes } => self.write(&mut stdout, node, &bytes).await?,
                Event::Done => pending -= 1,
                Event::Failed { node, message } => {
                    pending -= 1;
                    failed += 1;
                    stdout.flush().await?;
                    let mut stderr = std::io::stderr().lock();
                    writeln!(
                        stderr,
                        "error: {}: {}",
                        escape(&self.names[node]),
                        escape(&message)
                    )?;
                }
            }
            if events.is_empty() {
                stdout.flush().await?;
            }
        }
        stdout.flush().await?;
        Ok(failed)
    }

    async fn write(
        &self,
        out: &mut BufWriter<tokio::io::Stdout>,
        node: usize,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        let Some(prefixes) = &self.prefixes else {
            return out.write_all(bytes).await;
        };
        for line in crate::lines::split(bytes) {
            out.write_all(&prefixes[node]).await?;
            out.write_all(line).await?;
        }
        Ok(())
    }
}

/// `NODE ` in one of six colours picked by the node's position.
fn prefix(name: &str, colour: Option<usize>) -> Vec<u8> {
    let name = escape(name);
    match colour {
        Some(i) => format!("\x1b[3{}m{name}\x1b[0m ", [2, 3, 4, 5, 6, 1][i % 6]).into_bytes(),
        None => format!("{name} ").into_bytes(),
    }
}

/// Text from a node (its name, its error message) cannot move the cursor
/// or hide itself: control characters are shown escaped.
pub fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped = c.is_control().then(|| c.escape_default());
            escaped
                .into_iter()
                .flatten()
                .chain((!c.is_control()).then_some(c))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_only() {
        assert_eq!(escape("a \"b\"\x1b[2J\n"), "a \"b\"\\u{1b}[2J\\n");
        assert_eq!(prefix("n1", None), b"n1 ");
        assert_eq!(prefix("n1", Some(0)), b"\x1b[32mn1\x1b[0m ");
    }
}
