//! The patched ruzstd (`third_party/ruzstd`) copies a match that overlaps
//! its own output in doubling chunks. Periodic data of every small period,
//! compressed by libzstd (the `zstd` program; journald uses the same
//! library) into matches that overlap, must come back byte for byte.
//! ruzstd's own encoder never writes such matches, so it cannot be the
//! peer. The golden suites cover the same path in journal files.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use ruzstd::decoding::StreamingDecoder;

/// Bytes that do not repeat, so each periodic run is preceded by text the
/// encoder cannot reuse.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        })
        .collect()
}

/// `period` bytes of noise repeated to `len` bytes.
fn periodic(seed: u64, period: usize, len: usize) -> Vec<u8> {
    noise(seed, period).into_iter().cycle().take(len).collect()
}

/// `data` as one frame from the `zstd` program at `level`.
fn libzstd(data: &[u8], level: u32) -> Vec<u8> {
    let mut zstd = Command::new("zstd")
        .args([&format!("-{level}"), "-q", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the zstd program (Debian package zstd) is needed");
    let mut stdin = zstd.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = zstd.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn round_trip(data: &[u8]) -> Vec<u8> {
    decode(&libzstd(data, 3))
}

fn decode(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    StreamingDecoder::new(frame)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn overlapping_matches_of_every_small_period_decode_exactly() {
    // One frame per level holds every case, so the program runs thrice.
    let mut data = Vec::new();
    let mut cases = Vec::new();
    for period in 1..=40 {
        for len in [period + 1, 3 * period + 1, 100, 4097, 70_000] {
            data.extend(noise((period * len) as u64, 64));
            let start = data.len();
            data.extend(periodic(len as u64, period, len));
            cases.push((period, len, start));
        }
    }
    for level in [1, 3, 19] {
        let back = decode(&libzstd(&data, level));
        for &(period, len, start) in &cases {
            assert_eq!(
                back.get(start..start + len),
                Some(&data[start..start + len]),
                "level {level}, period {period}, length {len}"
            );
        }
        assert_eq!(back, data, "level {level}");
    }
}

#[test]
fn long_runs_are_matches_not_literals() {
    // Proves the test above exercises overlapping matches: a 70,000-byte
    // run of period 8 compresses to a few hundred bytes.
    let data = periodic(1, 8, 70_000);
    let frame = libzstd(&data, 3);
    assert!(frame.len() < 1000, "{} bytes", frame.len());
    assert_eq!(decode(&frame), data);
}

#[test]
fn several_runs_in_one_frame() {
    // journald's padded messages: text, a long repeated word, text, a run
    // of spaces.
    let mut data = b"I000007 probe succeeded pod=\"default/web-00ff\" seq=7".to_vec();
    data.extend(b" padding".repeat(750));
    data.extend(noise(9, 300));
    data.extend([b' '; 5000]);
    data.extend(b"\n\tat main.go:42".repeat(40));
    assert_eq!(round_trip(&data), data);
}
