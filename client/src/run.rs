//! Asking the nodes: concurrently up to --max-concurrency, each node's
//! lines printed as they arrive, or with --unify merged by time.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::cli::Cli;
use crate::fetch::{Answer, FetchError, Node, chain};
use crate::output::{self, Event, Events, Printer};
use crate::request::LogsRequest;
use crate::stamp::{Anchor, Years};
use crate::timespec;
use crate::unify::{self, EntryBuilder};

/// Returns the process's exit status.
pub async fn run(cli: &Cli, request: &LogsRequest) -> i32 {
    let nodes = match crate::targets::resolve(cli).await {
        Ok(nodes) => nodes,
        Err(e) => {
            eprintln!("error: {}", output::escape(&format!("{e:#}")));
            return 1;
        }
    };
    if cli.unify && nodes.len() > usize::from(cli.max_concurrency) {
        eprintln!(
            "error: --unify reads all {} nodes at once; raise --max-concurrency to at least {0}",
            nodes.len()
        );
        return 2;
    }
    let printer = Printer::new(nodes.iter().map(|n| n.name.clone()).collect(), cli.raw);
    let (events, rx) = output::channel();
    let printing = tokio::spawn(printer.run(rx));
    let ask = Ask {
        path_and_query: &request.path_and_query,
        timeout: cli.timeout,
    };
    if cli.unify {
        unified(&ask, nodes, anchor(cli), events).await;
    } else {
        futures::stream::iter(nodes.iter().enumerate())
            .for_each_concurrent(usize::from(cli.max_concurrency), |(i, node)| {
                let events = events.clone();
                let ask = &ask;
                async move {
                    let sink = |bytes| {
                        let events = &events;
                        async move { events.send(Event::Lines { node: i, bytes }).await }
                    };
                    finish(i, ask.node(node, sink).await, &events).await;
                }
            })
            .await;
        drop(events);
    }
    match printing.await {
        Ok(Ok(0)) => 0,
        Ok(Ok(_failed)) => 1,
        // stdout closed (e.g. `| head`): nothing more to say.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Ok(Err(e)) => {
            eprintln!("error: writing the output: {e}");
            1
        }
        Err(_) => 1,
    }
}

struct Ask<'a> {
    path_and_query: &'a str,
    timeout: Duration,
}

impl Ask<'_> {
    /// Streams one node's whole lines into `sink`, within the timeout.
    async fn node<F, Fut>(&self, node: &Node, mut sink: F) -> Result<(), String>
    where
        F: FnMut(Vec<u8>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let work = async {
            let mut answer: Answer = node.get(self.path_and_query).await?;
            while let Some(lines) = answer.next_lines().await? {
                sink(lines).await;
            }
            Ok::<_, FetchError>(())
        };
        if self.timeout.is_zero() {
            return work.await.map_err(|e| chain(&e));
        }
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result.map_err(|e| chain(&e)),
            Err(_) => Err(format!(
                "timed out after {}",
                humantime::format_duration(self.timeout)
            )),
        }
    }
}

async fn finish(node: usize, result: Result<(), String>, events: &Events) {
    events
        .send(match result {
            Ok(()) => Event::Done,
            Err(message) => Event::Failed { node, message },
        })
        .await;
}

/// Every node read at once into its own small entry queue, merged by time.
async fn unified(ask: &Ask<'_>, nodes: Vec<Node>, anchor: Anchor, events: Events) {
    let mut inputs = Vec::new();
    let readers = futures::future::join_all(nodes.iter().enumerate().map(|(i, node)| {
        let (tx, rx) = mpsc::channel(unify::NODE_BUFFER);
        inputs.push(rx);
        let events = events.clone();
        async move {
            let mut builder = EntryBuilder::new(Years::new(anchor));
            let sink = |chunk: Vec<u8>| {
                let done: Vec<_> = crate::lines::split(&chunk)
                    .filter_map(|line| builder.push(line))
                    .collect();
                let tx = &tx;
                async move {
                    for entry in done {
                        let _ = tx.send(entry).await;
                    }
                }
            };
            let result = ask.node(node, sink).await;
            if let Some(last) = builder.finish() {
                let _ = tx.send(last).await;
            }
            drop(tx);
            finish(i, result, &events).await;
        }
    }));
    let merging = unify::merge(inputs, &events);
    futures::future::join(readers, merging).await;
}

/// Where yearless timestamps lie: after --since, else before --until, else
/// before now.
fn anchor(cli: &Cli) -> Anchor {
    let now = Utc::now();
    let time = |relative: &Option<String>, rfc3339: &Option<String>| -> Option<NaiveDateTime> {
        let value = relative.as_deref().or(rfc3339.as_deref())?;
        timespec::resolve(value, now).ok().map(|t| t.naive_utc())
    };
    if let Some(since) = time(&cli.since, &cli.since_time) {
        Anchor::NotBefore(since)
    } else if let Some(until) = time(&cli.until, &cli.until_time) {
        Anchor::NotAfter(until)
    } else {
        Anchor::NotAfter(now.naive_utc())
    }
}
