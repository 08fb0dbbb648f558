//! Test support: real data and a real server, built by the project's own
//! code. `journal` writes a systemd journal through systemd-journal-remote,
//! `logtree` lays out a log root with files and symlinks, `http` is a tiny
//! HTTP/1.1 client that sees exactly the bytes on the wire, `clients` opens
//! raw, HTTP/2 and TLS connections from chosen loopback addresses, and
//! `fixture` starts nodelogd in-process over them; `misbehave` is the misbehaving
//! test plugin with its grant, and `dropin` serves plugins that are not
//! built in (the examples in `plugins/`) over log roots of their own.
//! `pki` makes certificates, `https` serves stand-ins over TLS, and
//! `apiserver_standin` stands in for kube-apiserver's review APIs.

pub mod apiserver_standin;
pub mod clients;
pub mod dropin;
pub mod edge_journal;
pub mod fixture;
pub mod http;
pub mod https;
pub mod journal;
pub mod logtree;
pub mod misbehave;
pub mod pki;
pub mod procs;
