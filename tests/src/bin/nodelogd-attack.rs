//! Hostile clients against a running nodelogd, for bench/attack.sh: the
//! connection attacks of issue 5, loopback only, bounded in count and time.
//!
//!   nodelogd-attack ADDR PID ATTACK COUNT SECONDS [PATH]
//!
//! ATTACK, each from 127.0.0.2, holding its connections for SECONDS:
//!   idle          COUNT connections that send nothing
//!   idle-spread   the same, each from its own address (127.0.2.0 on)
//!   h2-preface    COUNT connections that send the HTTP/2 preface only
//!   h1-stall      COUNT HTTP/1 requests for PATH, never read
//!   h2-stall      COUNT HTTP/2 connections of 200 streams for PATH, with
//!                 a zero window
//!
//! Meanwhile /healthz is fetched from 127.0.0.3 every 200 ms. Printed: the
//! slowest /healthz, nodelogd's peak RSS and open fds during the attack,
//! its fds when the attack ends, and its RSS 30 s after the attack ends.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nodelogd_tests::clients::{self, H2_PREFACE_AND_SETTINGS};
use tokio::io::AsyncWriteExt;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const PROBE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const MAX_COUNT: usize = 1100;
const MAX_SECONDS: u64 = 60;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, pid, attack, count, seconds, rest @ ..] = args.as_slice() else {
        bail!("usage: nodelogd-attack ADDR PID ATTACK COUNT SECONDS [PATH]");
    };
    let addr: SocketAddr = addr.parse().context("ADDR")?;
    if !addr.ip().is_loopback() {
        bail!("loopback targets only");
    }
    let pid: u32 = pid.parse().context("PID")?;
    let count: usize = count.parse().context("COUNT")?;
    let seconds: u64 = seconds.parse().context("SECONDS")?;
    if count > MAX_COUNT || seconds > MAX_SECONDS {
        bail!("at most {MAX_COUNT} connections for {MAX_SECONDS} s");
    }
    let path = rest
        .first()
        .cloned()
        .unwrap_or_else(|| "/logs/?query=kubelet&query=containerd".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(addr, pid, attack, count, seconds, path))
}

async fn run(
    addr: SocketAddr,
    pid: u32,
    attack: &str,
    count: usize,
    seconds: u64,
    path: String,
) -> anyhow::Result<()> {
    let baseline = rss_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(baseline));
    let peak_fds = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn(sample(
        pid,
        stop.clone(),
        peak_rss.clone(),
        peak_fds.clone(),
    ));
    let mut held = tokio::task::JoinSet::new();
    for i in 0..count {
        let path = path.clone();
        let attack = attack.to_string();
        held.spawn(async move {
            // Errors (refusals, resets) are the server defending itself.
            let _ = hold(&attack, i, addr, &path).await;
        });
        if i % 50 == 49 {
            tokio::task::yield_now().await;
        }
    }
    let slowest = tokio::task::spawn_blocking({
        let stop = stop.clone();
        move || probe(addr, &stop)
    });
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let slowest = slowest.await?;
    sampler.await?;
    let fds_at_end = fds(pid);
    held.abort_all();
    while held.join_next().await.is_some() {}
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after = rss_kib(pid);
    println!(
        "{attack:<12} x{count:<5} {seconds:>3} s: /healthz slowest {:>6} ms | RSS {:>4} MiB before, \
         {:>4} MiB peak, {:>4} MiB 30 s after | fds peak {:>5}, at end {:>5}",
        slowest.as_millis(),
        baseline >> 10,
        peak_rss.load(Ordering::Relaxed) >> 10,
        after >> 10,
        peak_fds.load(Ordering::Relaxed),
        fds_at_end,
    );
    Ok(())
}

/// One attacking connection, held until the task is aborted.
async fn hold(attack: &str, i: usize, addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    let from = match attack {
        // 127.0.2.0 onwards: one address per connection.
        "idle-spread" => IpAddr::V4(Ipv4Addr::from(0x7f00_0200 + u32::try_from(i)?)),
        _ => ATTACKER,
    };
    match attack {
        "idle" | "idle-spread" => {
            let _tcp = clients::connect_from(from, addr, None).await?;
            std::future::pending::<()>().await;
        }
        "h2-preface" => {
            let mut tcp = clients::connect_from(from, addr, None).await?;
            tcp.write_all(H2_PREFACE_AND_SETTINGS).await?;
            std::future::pending::<()>().await;
        }
        "h1-stall" => {
            let mut tcp = clients::connect_from(from, addr, Some(4096)).await?;
            let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            tcp.write_all(head.as_bytes()).await?;
            std::future::pending::<()>().await;
        }
        "h2-stall" => {
            let tcp = clients::connect_from(from, addr, None).await?;
            let mut builder = h2::client::Builder::new();
            builder.initial_window_size(0);
            let (send, _conn) = clients::h2_handshake(tcp, builder).await?;
            let mut streams = tokio::task::JoinSet::new();
            for _ in 0..200 {
                let mut send = send.clone();
                let path = path.to_string();
                streams.spawn(async move {
                    if let Ok(resp) = clients::h2_get(&mut send, &path).await {
                        let _body = resp.into_body();
                        std::future::pending::<()>().await;
                    }
                });
            }
            std::future::pending::<()>().await;
        }
        other => bail!("unknown attack {other:?}"),
    }
    Ok(())
}

/// Fetches /healthz every 200 ms from another address until `stop`;
/// returns the slowest answer (a failure counts as 5 s).
fn probe(addr: SocketAddr, stop: &AtomicBool) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut slowest = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let ok = (|| -> std::io::Result<bool> {
            let mut s = clients::connect_from_blocking(&rt, PROBE, addr, None)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out.ends_with("ok"))
        })()
        .unwrap_or(false);
        let took = if ok {
            started.elapsed()
        } else {
            Duration::from_secs(5)
        };
        slowest = slowest.max(took);
        std::thread::sleep(Duration::from_millis(200));
    }
    slowest
}

async fn sample(
    pid: u32,
    stop: Arc<AtomicBool>,
    peak_rss: Arc<AtomicU64>,
    peak_fds: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        peak_rss.fetch_max(rss_kib(pid), Ordering::Relaxed);
        peak_fds.fetch_max(fds(pid), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_or(0, |d| u64::try_from(d.count()).unwrap_or(u64::MAX))
}
