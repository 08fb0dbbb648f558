#!/usr/bin/env python3
"""Admission under attack, on loopback only: nodelogd's RSS, /healthz latency
and 429 ratio while hostile or merely numerous clients hit it.

  listing N    N slow clients (1 KiB read per second) on a 100,000-entry
               listing, each from its own address (127.0.1.x)
  queries      16 clients (127.0.0.2) open whole-journal queries and never
               read; 4 honest clients (127.0.0.3) query meanwhile
  honest N     N honest clients, each from its own address, each asking
               small queries (tailLines 1..2000) back to back
  proxied N    the same N clients all from one address (as behind a proxy)

usage: bench/limits.py [--bin NODELOGD] SCENARIO [ARG]...
       e.g. bench/limits.py listing 40 listing 300 queries honest 50
Needs a release build (cargo build --release -p nodelogd -p nodelogd-tests
--bins); data is cached in target/bench-limits and /dev/shm. Not a test: the machine is
shared, so read the figures as orders of magnitude.
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "target", "bench-limits")
# The log root lives in memory when it can: creating 100,000 names on a busy
# disk takes minutes.
LOG = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else WORK, "nodelogd-bench-limits", "log")
ENTRIES = 100_000
JOURNAL_ENTRIES = 200_000
ATTACK_SECONDS = 10
HEALTH_TIMEOUT = 5
EVERYTHING = "/logs/?query=kubelet&query=containerd&query=kube-proxy&query=sshd"


def prepare(fixtures):
    many = os.path.join(LOG, "many")
    if not os.path.isdir(many):
        os.makedirs(many + ".tmp", exist_ok=True)
        for i in range(ENTRIES):
            os.symlink("target", os.path.join(many + ".tmp", f"{(i * 7919) % ENTRIES:05}-entry.log"))
        os.rename(many + ".tmp", many)
    journal = os.path.join(WORK, f"journal-{JOURNAL_ENTRIES}")
    if not os.path.isdir(journal):
        subprocess.run([fixtures, "journal", str(JOURNAL_ENTRIES), journal + ".tmp"], check=True)
        os.rename(journal + ".tmp", journal)
    return LOG, journal


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def connect(port, source="127.0.0.1", timeout=30):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def send(port, target, source="127.0.0.1", timeout=30):
    s = connect(port, source, timeout)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    return s


def get_status(port, target, source="127.0.0.1", timeout=30):
    """Status of a whole request, read to the end; None if it failed."""
    try:
        with send(port, target, source, timeout) as s:
            head = b""
            while b"\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                head += chunk
            while s.recv(65536):
                pass
            return int(head.split(b" ", 2)[1])
    except OSError:
        return None


def healthz_ms(port):
    started = time.monotonic()
    ok = get_status(port, "/healthz", timeout=HEALTH_TIMEOUT) == 200
    return (time.monotonic() - started) * 1000 if ok else float("inf")


class Sampler:
    """Samples RSS and, on a thread of its own, /healthz latency (a probe
    that gets no answer within 5 s counts as 5 s and as failed)."""

    def __init__(self, pid, port):
        self.pid, self.port = pid, port
        self.rss, self.health, self.failed = [], [], 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.sample_rss, self.sample_health)]
        for t in self.threads:
            t.start()

    def sample_rss(self):
        while not self.stop.is_set():
            self.rss.append(rss_mib(self.pid))
            time.sleep(0.1)

    def sample_health(self):
        while not self.stop.is_set():
            ms = healthz_ms(self.port)
            if ms > HEALTH_TIMEOUT * 1000:
                self.failed += 1
                ms = HEALTH_TIMEOUT * 1000
            self.health.append(ms)
            time.sleep(0.1)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()

    def report(self, baseline):
        h = sorted(self.health)
        return (
            f"RSS peak {max(self.rss):.0f} MiB (+{max(self.rss) - baseline:.0f}), "
            f"/healthz median {statistics.median(h):.1f} ms, max {h[-1]:.0f} ms, "
            f"{self.failed} of {len(h)} probes unanswered within {HEALTH_TIMEOUT} s"
        )


def slow_reader(port, source, statuses, stop):
    try:
        s = send(port, "/logs/many/", source)
        first = s.recv(1024)
        statuses.append(int(first.split(b" ", 2)[1]) if first else None)
        while not stop.is_set() and s.recv(1024):
            stop.wait(1.0)
        s.close()
    except OSError:
        statuses.append(None)


def never_reader(port, target, source, sockets):
    try:
        s = send(port, target, source)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sockets.append(s)
    except OSError:
        pass


def honest(port, source, target_fn, statuses, latencies, stop):
    while not stop.is_set():
        started = time.monotonic()
        status = get_status(port, target_fn(), source)
        statuses.append(status)
        if status == 200:
            latencies.append((time.monotonic() - started) * 1000)


def summary(statuses):
    n = len(statuses)
    busy = sum(1 for s in statuses if s == 429)
    ok = sum(1 for s in statuses if s == 200)
    return f"{n} answers: {ok} x 200, {busy} x 429 ({100 * busy / max(n, 1):.0f}%), {n - ok - busy} other"


def attack(pid, port, name, start_clients):
    baseline = rss_mib(pid)
    sampler = Sampler(pid, port)
    stop = threading.Event()
    result = start_clients(stop)
    time.sleep(ATTACK_SECONDS)
    stop.set()
    sampler.finish()
    during = sampler.report(baseline)
    cleanup = result.get("cleanup")
    if cleanup:
        cleanup()
    for t in result.get("threads", []):
        t.join(timeout=30)
    time.sleep(5)
    after = rss_mib(pid)
    print(f"{name}: baseline {baseline:.0f} MiB; during: {during}; 5 s after: {after:.0f} MiB")
    for label, statuses in result.get("statuses", {}).items():
        print(f"  {label}: {summary(statuses)}")
    for label, lat in result.get("latencies", {}).items():
        if lat:
            lat = sorted(lat)
            print(f"  {label} latency ms: median {statistics.median(lat):.0f}, p90 {lat[int(len(lat) * 0.9)]:.0f}")
    sys.stdout.flush()


def listing(n):
    def start(stop):
        statuses = []
        threads = [
            threading.Thread(target=slow_reader, args=(PORT, f"127.0.1.{i % 250 + 1}", statuses, stop), daemon=True)
            for i in range(n)
        ]
        for t in threads:
            t.start()
        return {"threads": threads, "statuses": {"slow listing clients": statuses}}

    return f"{n} slow clients on a {ENTRIES}-entry listing", start


def queries():
    def start(stop):
        held = []
        for _ in range(16):
            never_reader(PORT, EVERYTHING, "127.0.0.2", held)
        time.sleep(1)
        statuses, latencies = [], []
        threads = [
            threading.Thread(
                target=honest,
                args=(PORT, "127.0.0.3", lambda: "/logs/?query=kubelet&tailLines=10", statuses, latencies, stop),
                daemon=True,
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()

        def cleanup():
            for s in held:
                s.close()

        return {
            "threads": threads,
            "cleanup": cleanup,
            "statuses": {"honest queries": statuses},
            "latencies": {"honest": latencies},
        }

    return "16 never-reading whole-journal queries + 4 honest clients", start


def honest_many(n, one_address=False):
    def start(stop):
        statuses, latencies = [], []
        target = lambda: f"/logs/?query=kubelet&tailLines={random.randint(1, 2000)}"
        threads = [
            threading.Thread(
                target=honest,
                args=(PORT, "127.0.0.4" if one_address else f"127.0.2.{i % 250 + 1}", target, statuses, latencies, stop),
                daemon=True,
            )
            for i in range(n)
        ]
        for t in threads:
            t.start()
        return {"threads": threads, "statuses": {"honest queries": statuses}, "latencies": {"honest": latencies}}

    return f"{n} honest clients" + (" from one address" if one_address else ""), start


def main():
    global PORT, ATTACK_SECONDS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "nodelogd"))
    parser.add_argument("--port", type=int, default=10298)
    parser.add_argument("--seconds", type=int, default=ATTACK_SECONDS, help="length of each attack")
    parser.add_argument("scenarios", nargs="+")
    args = parser.parse_args()
    PORT, ATTACK_SECONDS = args.port, args.seconds
    os.makedirs(WORK, exist_ok=True)
    log, journal = prepare(os.path.join(os.path.dirname(args.bin), "nodelogd-fixtures"))
    words = list(args.scenarios)
    while words:
        word = words.pop(0)
        if word == "listing":
            name, start = listing(int(words.pop(0)))
        elif word == "queries":
            name, start = queries()
        elif word == "honest":
            name, start = honest_many(int(words.pop(0)))
        elif word == "proxied":
            name, start = honest_many(int(words.pop(0)), one_address=True)
        else:
            parser.error(f"unknown scenario {word}")
        # A fresh server for each, so that one attack's leftovers do not
        # count against the next.
        server = subprocess.Popen(
            [args.bin, "serve", "--listen", f"127.0.0.1:{PORT}", "--log-dir", log, "--journal-dir", journal,
             "--cache-dir", os.path.join(WORK, "cache"),
             # The data path under attack, not authentication: open access.
             "--anonymous-auth=true", "--authorization-mode=AlwaysAllow"],
            stderr=open(os.path.join(WORK, "nodelogd.log"), "a"),
        )
        try:
            for _ in range(300):
                if get_status(PORT, "/healthz") == 200:
                    break
                time.sleep(0.1)
            time.sleep(1)
            attack(server.pid, PORT, name, start)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
