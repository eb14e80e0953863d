#!/usr/bin/python3
"""Summarises skiff-proxy's /stats/prometheus for humans: requests by status code, latency
quantiles estimated from the histogram buckets, connection counts.

    tools/lib/prom_summary.py http://127.0.0.1:15000/stats/prometheus
    curl -s .../stats/prometheus | tools/lib/prom_summary.py -
"""

import collections
import re
import sys
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    samples = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = SAMPLE.match(line)
        if m:
            samples.append((m.group(1), dict(LABEL.findall(m.group(2) or "")),
                            float(m.group(3))))
    return samples


def quantile(buckets, q):
    """Linear interpolation inside the bucket, the way PromQL's histogram_quantile does."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def fmt_seconds(value):
    if value is None:
        return "-"
    return "%.2f ms" % (value * 1000) if value < 1 else "%.2f s" % value


def summarise(text):
    samples = parse(text)
    out = []

    def values(name, *group_by):
        result = collections.OrderedDict()
        for sample_name, labels, value in samples:
            if sample_name == name:
                key = tuple(labels.get(g, "") for g in group_by)
                result[key] = result.get(key, 0.0) + value
        return result

    out.append("requests by status code (downstream):")
    by_code = values("skiff_downstream_requests_total", "listener", "code")
    for (listener, code), value in sorted(by_code.items()):
        out.append("  %-10s %-4s %10d" % (listener, code, value))
    if not by_code:
        out.append("  (none yet)")

    for prefix, group in (("skiff_downstream_request_duration_seconds", "listener"),
                          ("skiff_upstream_request_duration_seconds", "cluster")):
        per_key = collections.defaultdict(list)
        for sample_name, labels, value in samples:
            if sample_name == prefix + "_bucket":
                le = labels.get("le", "+Inf")
                bound = float("inf") if le in ("+Inf", "Inf") else float(le)
                per_key[labels.get(group, "")].append((bound, value))
        counts = values(prefix + "_count", group)
        sums = values(prefix + "_sum", group)
        side = prefix.split("_")[1]
        out.append("%s latency (from histogram buckets):" % side)
        if not per_key:
            out.append("  (no samples)")
        for key, buckets in sorted(per_key.items()):
            # Buckets of several workers may be exported separately: merge by bound.
            merged = collections.defaultdict(float)
            for bound, value in buckets:
                merged[bound] += value
            merged = sorted(merged.items())
            count = counts.get((key,), 0.0)
            if not count:
                continue  # e.g. a TCP listener: no requests to time
            mean = sums.get((key,), 0.0) / count if count else None
            out.append("  %-10s n=%-8d mean=%-10s p50=%-10s p90=%-10s p99=%s" % (
                key, count, fmt_seconds(mean), fmt_seconds(quantile(merged, 0.5)),
                fmt_seconds(quantile(merged, 0.9)), fmt_seconds(quantile(merged, 0.99))))

    out.append("connections:")
    for name, group in (("skiff_downstream_connections_total", "listener"),
                        ("skiff_downstream_connections_active", "listener"),
                        ("skiff_upstream_connections_total", "cluster"),
                        ("skiff_upstream_connections_active", "cluster"),
                        ("skiff_upstream_connections_reused_total", "cluster"),
                        ("skiff_upstream_connect_failures_total", "cluster")):
        for (key,), value in sorted(values(name, group).items()):
            out.append("  %-42s %-10s %10d" % (name, key, value))
    for name in ("skiff_server_workers", "skiff_server_uptime_seconds", "skiff_server_draining"):
        for _, value in values(name).items():
            out.append("  %-42s %-10s %10.0f" % (name, "", value))
    return "\n".join(out)


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:15000/stats/prometheus"
    if source == "-":
        text = sys.stdin.read()
    else:
        with urllib.request.urlopen(source, timeout=5) as resp:
            text = resp.read().decode()
    print(summarise(text))


if __name__ == "__main__":
    main()
