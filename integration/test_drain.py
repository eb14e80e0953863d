"""Graceful drain: SIGTERM under load and POST /drain."""

import http.client
import signal
import threading
import time

from harness import bootstrap, cluster, http_listener, route, vhost

DRAIN_TIMEOUT = 5.0


class _Client(threading.Thread):
    """Sends requests on one keep-alive connection until told to stop. Every request records
    when it started and how it ended."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port = port
        self.stop_event = stop
        self.results = []  # (start, end, status or exception repr)

    def run(self):
        conn = None
        while not self.stop_event.is_set():
            if conn is None:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    conn.connect()
                except OSError as e:
                    self.results.append((time.monotonic(), time.monotonic(), "connect: %r" % e))
                    conn = None
                    time.sleep(0.05)
                    continue
            start = time.monotonic()
            try:
                conn.request("GET", "/work?sleep=0.3")
                response = conn.getresponse()
                response.read()
                self.results.append((start, time.monotonic(), response.status))
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.results.append((start, time.monotonic(), repr(e)))
                conn.close()
                conn = None
        if conn is not None:
            conn.close()


def _drain_proxy(proxy_factory, upstream, concurrency=2):
    config = bootstrap([http_listener([vhost([route("backend")])])],
                       [cluster("backend", [upstream.port])],
                       drain_timeout="%ds" % DRAIN_TIMEOUT)
    return proxy_factory(config, concurrency=concurrency)


def test_sigterm_under_load_finishes_in_flight_requests(proxy_factory, upstream):
    proxy = _drain_proxy(proxy_factory, upstream)
    port = proxy.port()
    stop = threading.Event()
    clients = [_Client(port, stop) for _ in range(8)]
    for c in clients:
        c.start()
    time.sleep(1.0)
    # Wait for a moment when requests are surely in flight at the upstream.
    deadline = time.monotonic() + 2
    while upstream.active < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    in_flight = upstream.active
    sigterm_at = time.monotonic()
    proxy.signal(signal.SIGTERM)
    try:
        code = proxy.process.wait(DRAIN_TIMEOUT + 2)
    except Exception:
        code = "did not exit"
    exit_after = time.monotonic() - sigterm_at
    stop.set()
    for c in clients:
        c.join(15)

    results = [r for c in clients for r in c.results]
    before = [r for r in results if r[0] < sigterm_at]
    assert in_flight >= 4, "no requests in flight at the upstream (%d); client results: %s" % (
        in_flight, [c.results[:4] for c in clients])
    assert len(before) >= 16
    bad_before = [r for r in before if r[2] != 200]
    assert not bad_before, "requests started before SIGTERM failed: %s" % bad_before[:10]
    # Requests started after SIGTERM may be refused at the socket level, but a request the
    # proxy accepted must not end in a 5xx.
    after_5xx = [r for r in results if r[0] >= sigterm_at and isinstance(r[2], int)
                 and r[2] >= 500]
    assert not after_5xx, after_5xx[:10]
    assert code == 0, "exit code %s" % code
    assert exit_after < DRAIN_TIMEOUT, "exit took %.2fs" % exit_after


def test_sigterm_when_idle_exits_promptly(proxy_factory, upstream):
    proxy = _drain_proxy(proxy_factory, upstream)
    # An idle keep-alive connection must not hold the drain open.
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=5)
    conn.request("GET", "/")
    conn.getresponse().read()
    start = time.monotonic()
    proxy.signal(signal.SIGTERM)
    code = proxy.process.wait(DRAIN_TIMEOUT + 2)
    conn.close()
    assert code == 0
    assert time.monotonic() - start < DRAIN_TIMEOUT


def test_post_drain_turns_ready_503(proxy_factory, upstream):
    proxy = _drain_proxy(proxy_factory, upstream)
    assert proxy.admin("GET", "/ready")[0] == 200
    status, _ = proxy.admin("POST", "/drain", data=b"")
    assert status == 200
    assert proxy.admin("GET", "/ready") == (503, "DRAINING\n")
    assert proxy.metric("skiff_server_draining") == 1
    assert proxy.process.poll() is None, "POST /drain must not exit the process"


def test_quitquitquit_exits_zero(proxy_factory, upstream):
    proxy = _drain_proxy(proxy_factory, upstream)
    status, _ = proxy.admin("POST", "/quitquitquit", data=b"")
    assert status == 200
    assert proxy.process.wait(DRAIN_TIMEOUT + 2) == 0
