//! End-to-end tests of `kubectl node-logs` against real nodelogd processes,
//! a stand-in for kube-apiserver over HTTPS, and the real `kubectl`.

mod apiserver;
mod direct;
mod kubectl;
mod lifecycle;
mod standin;
mod support;
mod unify;
mod validation;
