//! The hybrid-overlay drop-in example (plugins/hybrid-overlay, on the
//! guest SDK) over HTTP: its klog file and rotated siblings oldest first,
//! multi-line entries kept whole, smart-case `pattern`, `tailLines` counted
//! in entries across rotated and gzip files, and a time window on klog
//! stamps. Before issue 7 nothing served hybrid-overlay-node: the file
//! fallback answered "log not found", and no source could tail a file
//! without reading all of it (the sparse-file case pins that).

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use nodelogd_tests::{dropin, http};

fn klog(t: DateTime<Utc>, msg: &str) -> String {
    format!("I{} 1 node.go:42] {msg}\n", t.format("%m%d %H:%M:%S%.6f"))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn hybrid_overlay_serves_its_rotated_klog_files() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hybrid-overlay");
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("log");
    let dir = root.join("hybrid-overlay");
    std::fs::create_dir_all(&dir).unwrap();
    // Whole seconds, so the RFC 3339 window below is exact.
    let start = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap() - Duration::days(3);
    let t = |i: i64| start + Duration::minutes(i);
    let dated = klog(t(0), "dated");
    let gz = klog(t(1), "gz one") + &klog(t(2), "gz two");
    let stack = klog(t(4), "panic: boom") + "goroutine 1 [running]:\n\tmain.go:3\n";
    let one = klog(t(3), "one") + &stack;
    let current = klog(t(5), "current a") + &klog(t(6), "current b") + &klog(t(7), "ERROR last");
    std::fs::write(dir.join("hybrid-overlay.log-20261125"), &dated).unwrap();
    std::fs::write(dir.join("hybrid-overlay.log.2.gz"), gzip(&gz)).unwrap();
    std::fs::write(dir.join("hybrid-overlay.log.1"), &one).unwrap();
    std::fs::write(dir.join("hybrid-overlay.log"), &current).unwrap();
    std::fs::write(dir.join("hybrid-overlay.logger"), "not a sibling\n").unwrap();
    std::fs::write(root.join("hybrid-overlay-node.log"), "the file fallback\n").unwrap();

    let config = dropin::hybrid_overlay_as_documented(&base);
    // Compiled plugins persist across runs (debug hosts compile slowly).
    let cache = base.parent().unwrap().join("plugin-cache");
    let addr = dropin::serve(&root, &cache, 3, Default::default(), Some(config));
    let get = |params: &str| {
        let resp = http::get(addr, &format!("/logs/?query=hybrid-overlay-node{params}"));
        assert_eq!(resp.status, 200, "{params}: {}", resp.text());
        resp.text()
    };

    // No powershell is provided here, so the built-in winevent source is
    // not loaded and a would-be event provider falls through to files.
    let resp = http::get(addr, "/logs/?query=winsvc-app");
    assert_eq!(resp.text(), "\nlog not found for winsvc-app\n");

    let all = format!("{dated}{gz}{one}{current}");
    assert_eq!(get(""), all);
    assert_eq!(get("&tailLines=100"), all);
    assert_eq!(
        get("&pattern=panic"),
        stack,
        "a multi-line entry stays whole"
    );
    assert_eq!(
        get("&pattern=error"),
        klog(t(7), "ERROR last"),
        "smart case"
    );
    assert_eq!(
        get("&pattern=Error"),
        "",
        "an upper-case letter makes it exact"
    );
    assert_eq!(get("&tailLines=3"), current);
    assert_eq!(get("&tailLines=4"), format!("{stack}{current}"));
    assert_eq!(
        get("&tailLines=6"),
        format!("{}{one}{current}", klog(t(2), "gz two")),
        "the tail starts inside the gzip file"
    );
    assert_eq!(get("&tailLines=1&pattern=gz"), klog(t(2), "gz two"));
    assert_eq!(get("&tailLines=0"), "");
    let window = format!("&sinceTime={}&untilTime={}", rfc3339(t(2)), rfc3339(t(4)));
    assert_eq!(get(&window), format!("{}{one}", klog(t(2), "gz two")));

    // A current file with 16 GiB of hole before its last lines: a tail
    // that read the whole file would not end before the 3 s deadline.
    for name in [
        "hybrid-overlay.log-20261125",
        "hybrid-overlay.log.2.gz",
        "hybrid-overlay.log.1",
    ] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let file = std::fs::File::create(dir.join("hybrid-overlay.log")).unwrap();
    file.set_len(16 << 30).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("hybrid-overlay.log"))
        .unwrap();
    file.write_all(format!("\n{current}").as_bytes()).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        get("&tailLines=2"),
        klog(t(6), "current b") + &klog(t(7), "ERROR last")
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // Sparse, but tools that copy target/ may not know it.
    std::fs::remove_file(dir.join("hybrid-overlay.log")).unwrap();
}
