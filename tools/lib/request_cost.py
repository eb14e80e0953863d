"""Cost per request (tools/bench --cost): what one proxied request costs the proxy, in numbers
that do not move with the neighbours on a shared machine.

- Instructions: the proxy runs under `valgrind --tool=callgrind` (one worker); after a warm-up
  `callgrind_control -z PID` zeroes the counters, h2load sends N requests through it, and
  `callgrind_control -d PID` dumps them; the dump's total (its `summary:` line, what
  callgrind_annotate calls the program total) divided by N. User space only: the kernel's side
  of the syscalls is not in it.
- Syscalls: a separate run without valgrind; after the same warm-up `strace -c -f -p PID` is
  attached over the same N requests; total calls divided by N.

Every product is a fresh process for each of the two runs. The caller (tools/bench) owns the
configs and how a product is started: a product is a function start(prefix) -> handle that
starts the proxy with `prefix` (the valgrind command, or nothing) in front of its program, plus
the functions stop, pids_of and url_of on that handle (the same shape as idle_connections)."""

import glob
import os
import re
import signal
import statistics
import subprocess
import time

CLIENTS = 8
H2_STREAMS = 10
WARMUP = 2000  # requests before the counters are zeroed (at most N)


def callgrind_prefix(workdir):
    """The valgrind command put in front of the proxy; each process dumps into workdir."""
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s" % os.path.join(
        workdir, "callgrind.out.%p")]


def h2load_args(url, requests, http2):
    """h2load with CLIENTS connections sending `requests` in all, keep-alive (HTTP/1.1) or
    h2c prior knowledge with H2_STREAMS streams per connection."""
    mode = ["-m%d" % H2_STREAMS] if http2 else ["--h1"]
    return ["h2load"] + mode + ["-c%d" % CLIENTS, "-t1", "-n%d" % requests, url]


def run_load(wrap, url, requests, http2):
    """Sends `requests` requests; RuntimeError unless every one was answered 2xx."""
    out = subprocess.run(wrap(h2load_args(url, requests, http2)), capture_output=True,
                         text=True, timeout=120 + requests / 20.0).stdout
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    ok = re.search(r"status codes: (\d+) 2xx", out)
    if not m or int(m.group(1)) != requests or not ok or int(ok.group(1)) != requests:
        raise RuntimeError("h2load did not get %d answers:\n%s" % (requests, out[-1500:]))


def _callgrind_control(flag, pid):
    out = subprocess.run(["callgrind_control", flag, str(pid)], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0 or "OK." not in out.stdout:
        raise RuntimeError("callgrind_control %s %d failed:\n%s%s" % (flag, pid, out.stdout,
                                                                     out.stderr))


def dump_total(workdir, pid, timeout=30.0):
    """Instructions in the last dump pid wrote (callgrind.out.PID.K, K the highest)."""
    deadline = time.monotonic() + timeout
    while True:
        parts = sorted(glob.glob(os.path.join(workdir, "callgrind.out.%d.*" % pid)),
                       key=lambda p: int(p.rsplit(".", 1)[1]))
        if parts:
            with open(parts[-1]) as fh:
                text = fh.read()
            m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(
                r"^totals:\s+(\d+)", text, re.M)
            if m:
                return int(m.group(1))
        if time.monotonic() > deadline:
            raise RuntimeError("no callgrind dump from pid %d in %s" % (pid, workdir))
        time.sleep(0.1)


def instructions_per_request(product, load, requests, workdir):
    start, stop, pids_of, url_of = product
    handle = start(callgrind_prefix(workdir))
    try:
        url = url_of(handle)
        load(url, min(WARMUP, requests))
        pids = pids_of(handle)  # all of them under callgrind (nghttpx forks its worker)
        for pid in pids:
            _callgrind_control("-z", pid)
        load(url, requests)
        total = 0
        for pid in pids:
            _callgrind_control("-d", pid)
            total += dump_total(workdir, pid)
        return total / float(requests)
    finally:
        stop(handle)


def _traced(pid):
    """True once every thread of pid has a tracer."""
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, tid)) as fh:
                if re.search(r"^TracerPid:\s+0$", fh.read(), re.M):
                    return False
    except OSError:
        return False
    return True


def strace_total(path):
    """Total calls from an `strace -c` summary (the `total` row: % time, seconds,
    usecs/call, calls, [errors], total)."""
    with open(path) as fh:
        for line in fh:
            fields = line.split()
            if fields and fields[-1] == "total":
                return int(fields[3])
    raise RuntimeError("no total in the strace summary %s" % path)


def syscalls_per_request(product, load, requests, workdir):
    start, stop, pids_of, url_of = product
    handle = start([])
    try:
        url = url_of(handle)
        load(url, min(WARMUP, requests))
        pids = pids_of(handle)
        summary = os.path.join(workdir, "strace-%d.txt" % pids[0])
        args = ["strace", "-c", "-f", "-o", summary]
        for pid in pids:
            args += ["-p", str(pid)]
        with open(summary + ".log", "wb") as log:
            tracer = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while not all(_traced(pid) for pid in pids):
                if tracer.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("strace did not attach to %s" % pids)
                time.sleep(0.05)
            load(url, requests)
        finally:
            if tracer.poll() is None:
                tracer.send_signal(signal.SIGINT)
            tracer.wait(30)
        return strace_total(summary) / float(requests)
    finally:
        stop(handle)


def measure(product, load, requests, workdir):
    """{"instructions": per request, "syscalls": per request} for one product."""
    return {"instructions": instructions_per_request(product, load, requests, workdir),
            "syscalls": syscalls_per_request(product, load, requests, workdir)}


def run_rounds(products, rounds, load, requests, workdir, log=print):
    """products: [(name, product, http2)]; alternates them `rounds` times.
    Returns {name: [measure() or None, ...]}."""
    results = {name: [] for name, _, _ in products}
    for i in range(rounds):
        for name, product, http2 in products:
            log("cost per request: %s, %d requests (round %d of %d)" % (
                name, requests, i + 1, rounds))
            t = time.monotonic()
            try:
                results[name].append(measure(
                    product, lambda url, n, http2=http2: load(url, n, http2), requests,
                    workdir))
                log("  %.0f instructions, %.2f syscalls per request (%.0f s)" % (
                    results[name][-1]["instructions"], results[name][-1]["syscalls"],
                    time.monotonic() - t))
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                results[name].append(None)
                log("%s failed: %s" % (name, e))
    return results


def summarize(results):
    """{name: {"instructions": (median, min, max), "syscalls": (...)} or None}."""
    out = {}
    for name, runs in results.items():
        ok = [r for r in runs if r is not None]
        out[name] = {key: (statistics.median(v), min(v), max(v))
                     for key in ("instructions", "syscalls")
                     for v in [[r[key] for r in ok]]} if ok else None
    return out


def table(summary, rounds):
    """Rows for one protocol: names like "HTTP/1.1 skiff"; ratios to that protocol's
    HAProxy row."""
    header = ["proxy", "instructions/request", "syscalls/request",
              "relative to HAProxy (instructions, syscalls)"]
    if rounds > 1:
        header.append("spread over %d rounds (instructions, syscalls)" % rounds)
    rows = []
    for name, v in summary.items():
        protocol = name.split(" ", 1)[0]
        if v is None:
            rows.append([name, "failed", "", ""] + ([""] if rounds > 1 else []))
            continue
        base = summary.get(protocol + " haproxy")
        rel = "-" if not base else "%.2fx, %.2fx" % (
            v["instructions"][0] / base["instructions"][0],
            v["syscalls"][0] / base["syscalls"][0])
        row = [name, "%.0f" % v["instructions"][0], "%.2f" % v["syscalls"][0], rel]
        if rounds > 1:
            row.append(", ".join("%.2f%%" % (100.0 * (hi - lo) / med if med else 0)
                                 for med, lo, hi in (v["instructions"], v["syscalls"])))
        rows.append(row)
    return header, rows


def markdown(marker, md_table, summary, facts):
    """The "Cost per request" section of docs/benchmarks.md, starting with `marker`. facts:
    date, machine, versions, skiff, baseline (or None), requests, rounds, command."""
    out = [marker, "", "## Cost per request", "",
           "Written by `%s` (re-run it; do not edit by hand)." % facts["command"], "",
           "Which figure to trust for what: the wall-clock tables above (requests per second, "
           "latency, CPU per request) come from interleaved rounds on shared 2-core machines "
           "and move by about ±30% between runs of the same binary; use them for the order of "
           "magnitude and for ratios within one run. The figures below are deterministic "
           "(instructions and syscalls counted, not timed): compare changes by them.", "",
           "- Date: %s; %s" % (facts["date"], facts["machine"]),
           "- Versions: skiff %s; %s" % (facts["skiff"], facts["versions"])]
    if facts.get("baseline"):
        out.append("- skiff (baseline): %s, measured in the same run" % facts["baseline"])
    out += [
        "- Upstream: nginx `return 200 \"hello\\n\"`, keep-alive. One worker per proxy: "
        "skiff-proxy `--concurrency 1`; HAProxy `nbthread 1`; nginx `master_process off`, "
        "`worker_processes 1`, `keepalive_requests 1000000`; nghttpx `-n1 --single-process` "
        "(its forked worker cannot be reached by `callgrind_control`). Otherwise the same "
        "configs as the sections above.",
        "- Load: h2load, %d connections, %d requests after %d warm-up requests; HTTP/1.1 "
        "keep-alive `h2load --h1 -c%d -n%d`, HTTP/2 h2c prior knowledge `h2load -c%d -m%d "
        "-n%d` (HTTP/1.1 to the upstream)." % (
            CLIENTS, facts["requests"], min(WARMUP, facts["requests"]), CLIENTS,
            facts["requests"], CLIENTS, H2_STREAMS, facts["requests"]),
        "- Instructions: user-space instructions (Ir) of the proxy under `valgrind "
        "--tool=callgrind`, counters zeroed with `callgrind_control -z` after the warm-up, "
        "dumped with `callgrind_control -d` after the N requests, divided by N (the kernel's "
        "work for the syscalls is not in it).",
        "- Syscalls: a second fresh process without valgrind, `strace -c -f -p PID` attached "
        "after the same warm-up over the same N requests; total calls divided by N. How many "
        "events one `epoll_wait` returns depends on timing, so this figure can move by a few "
        "percent, more with HTTP/2's multiplexing.",
        "- %d round(s), products alternating; median%s." % (
            facts["rounds"], " and spread ((max - min) / median)" if facts["rounds"] > 1
            else ""), ""]
    for protocol, title in (("HTTP/1.1", "HTTP/1.1 keep-alive"),
                            ("HTTP/2", "HTTP/2 (h2c, %d streams per connection)" %
                             H2_STREAMS)):
        part = {k: v for k, v in summary.items() if k.startswith(protocol + " ")}
        if part:
            out += ["### " + title, "", md_table(*table(part, facts["rounds"])), ""]
    out += ["Mutual TLS keep-alive: not measured yet (tools/bench-mtls's two-proxy setup; "
            "see the \"Mutual TLS\" section for its wall-clock figures).", ""]
    return "\n".join(out)
