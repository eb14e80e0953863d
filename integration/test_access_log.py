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
