//! One linker per plugin, holding only what that plugin may use.
//!
//! Every plugin gets this part of WASI 0.2, which a Rust `wasm32-wasip2`
//! program imports to start at all, backed by an empty context (see
//! `state`):
//! - `wasi:io/{error,poll,streams}`;
//! - `wasi:clocks/wall-clock` (the time of day; no monotonic clock, so no
//!   timers to wait on);
//! - `wasi:filesystem/{types,preopens}` with no preopened directory, so
//!   there is no descriptor to open anything from;
//! - `wasi:cli/{exit,environment,stdin,stdout,stderr}` and the five
//!   `wasi:cli/terminal-*` interfaces: an empty environment (but for the
//!   operator's settings for the plugin, winevent's channels), no
//!   arguments, no initial cwd, stdin at end of file, stdout and stderr
//!   discarding what is written, no terminals.
//!
//! Then `nodelogd:plugin/log`, and `process`, `logfile` and `journal`
//! only when granted. Sockets, random, the monotonic clock, HTTP and the rest of
//! WASI are never linked, so a plugin that imports them, or an ungranted
//! capability, fails at load time, naming the import.

use wasmtime::Engine;
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem};
use wasmtime_wasi_io::bindings::wasi::io;

use super::State;
use super::bindings::nodelogd::plugin;
use crate::caps::Grants;

struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

pub fn for_grants(engine: &Engine, grants: &Grants) -> wasmtime::Result<Linker<State>> {
    let mut l = Linker::new(engine);
    io::error::add_to_linker::<State, Io>(&mut l, |s| &mut s.table)?;
    io::poll::add_to_linker::<State, Io>(&mut l, |s| &mut s.table)?;
    io::streams::add_to_linker::<State, Io>(&mut l, |s| &mut s.table)?;
    clocks::wall_clock::add_to_linker::<State, WasiClocks>(&mut l, State::clocks)?;
    filesystem::types::add_to_linker::<State, WasiFilesystem>(&mut l, State::filesystem)?;
    filesystem::preopens::add_to_linker::<State, WasiFilesystem>(&mut l, State::filesystem)?;
    cli::exit::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::environment::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::stdin::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::stdout::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::stderr::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_input::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_output::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_stdin::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_stdout::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;
    cli::terminal_stderr::add_to_linker::<State, WasiCli>(&mut l, State::cli)?;

    plugin::types::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    plugin::log::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    if grants.may_exec() {
        plugin::process::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    }
    if grants.may_read_logs() {
        plugin::logfile::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    }
    if grants.journal.is_some() {
        plugin::journal::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    }
    Ok(l)
}
