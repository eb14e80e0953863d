"""JSON access log lines for HTTP listeners."""

import json
import time

from harness import bootstrap, cluster, curl, http_listener, route, vhost

FIELDS = {"time", "method", "authority", "path", "protocol", "status", "bytes_received",
          "bytes_sent", "duration_ms", "upstream_cluster", "upstream_host", "flags",
          "request_id", "downstream_remote"}


def _read_lines(path, want, timeout=3.0):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        if path.exists():
            lines = [l for l in path.read_text().splitlines() if l.strip()]
            if len(lines) >= want:
                break
        time.sleep(0.05)
    return [json.loads(l) for l in lines]


def test_access_log_lines(proxy_factory, upstream, tmp_path):
    log_path = tmp_path / "access.log"
    config = bootstrap(
        [http_listener([vhost([route("backend", prefix="/api/")], domains=["*"])],
                       access_log={"path": str(log_path)})],
        [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config)
    curl(["-o", "/dev/null", "-H", "X-Request-Id: req-1", "--data-binary", "0123456789",
          proxy.url("/api/thing?q=1")])
    curl(["-o", "/dev/null", "-H", "X-Request-Id: req-2", proxy.url("/nowhere")])
    entries = _read_lines(log_path, 2)
    assert len(entries) == 2, entries
    ok, no_route = entries
    for entry in entries:
        assert FIELDS <= set(entry), "missing fields: %s" % (FIELDS - set(entry))

    assert ok["method"] == "POST"
    assert ok["path"] == "/api/thing?q=1"
    assert ok["authority"] == "127.0.0.1:%d" % proxy.port()
    assert ok["protocol"] == "HTTP/1.1"
    assert int(ok["status"]) == 200
    assert int(ok["bytes_received"]) == 10
    assert int(ok["bytes_sent"]) > 0
    assert float(ok["duration_ms"]) >= 0
    assert ok["upstream_cluster"] == "backend"
    assert ok["upstream_host"] == "127.0.0.1:%d" % upstream.port
    assert ok["flags"] in ("", "-", None)
    assert ok["request_id"] == "req-1"
    assert ok["downstream_remote"].startswith("127.0.0.1:")

    assert int(no_route["status"]) == 404
    assert no_route["flags"] == "NR"
    assert no_route["request_id"] == "req-2"
    assert no_route["upstream_cluster"] in ("", "-", None)


def test_stdout_pipe_nobody_reads_stalls_no_request(proxy_factory, upstream):
    """In Kubernetes, stdout is a pipe the container runtime reads. When it stops reading, the
    pipe fills (64 KiB); requests must keep flowing and the lines that do not fit be counted
    as dropped, not written by the workers with the request waiting (issue 10)."""
    import os
    import subprocess
    read_end, write_end = os.pipe()  # nobody ever reads read_end
    try:
        config = bootstrap(
            [http_listener([vhost([route("backend")])], access_log={"path": "/dev/stdout"})],
            [cluster("backend", [upstream.port])])
        proxy = proxy_factory(config, stdout=write_end)
        os.close(write_end)
        # 20,000 lines of ~330 bytes: 100 times what the pipe holds, past the sink's 4 MiB queue.
        started = time.monotonic()
        result = subprocess.run(["h2load", "--h1", "-n", "20000", "-c", "8", proxy.url("/")],
                                capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - started
        assert "20000 succeeded" in result.stdout, result.stdout + result.stderr
        # A worker that waited on the pipe would stall ~1 s per 16 KiB of lines (minutes here).
        assert elapsed < 60, "20,000 requests took %.1f s" % elapsed
        dropped = proxy.metric("skiff_access_log_dropped_total", path="/dev/stdout")
        assert dropped > 0
        assert dropped <= 20000
    finally:
        os.close(read_end)
