//! A stand-in for PowerShell, for the winevent tests on Linux: nodelogd
//! runs it as the program it provides as `powershell` (`[programs.powershell]`
//! names a link to this binary), and each run appends one line to the record
//! file `<the path it was run as>.runs`: `{:?}` of (its arguments, the whole
//! environment sorted), so a test sees exactly what PowerShell would have
//! received.
//!
//! It answers like Get-WinEvent would in outline: the native check
//! (`-ListProvider`) succeeds for providers whose name starts with
//! `winsvc` and exits 1 for others; a query prints a header and the
//! `kubelet_*` variables it was given.

use std::io::Write;

fn main() {
    let mut args = std::env::args();
    let record = format!("{}.runs", args.next().expect("the path it was run as"));
    let args: Vec<String> = args.collect();
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.sort();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&record)
        .expect("opening the record file");
    writeln!(file, "{:?}", (&args, &env)).expect("recording");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if args.last().is_some_and(|c| c.contains("-ListProvider")) {
        if var("kubelet_provider0").starts_with("winsvc") {
            println!("Name     : {}", var("kubelet_provider0"));
            return;
        }
        eprintln!("Get-WinEvent : There is not an event provider on the localhost computer");
        std::process::exit(1);
    }
    println!("stand-in Get-WinEvent");
    for (name, value) in env.iter().filter(|(n, _)| n.starts_with("kubelet_")) {
        println!("{name}={value:?}");
    }
}
