"""Outlier detection through the real proxy: a brownout (one host of three fails half of its
requests) with retries, a host that cannot be reached, and a host that comes back."""

import json
import random
import re
import subprocess
import threading
import time

from harness import bootstrap, closed_port, cluster, http_listener, route, vhost
from upstreams import FlakyHTTPServer


def _half_failing(seed=7):
    """fail(n) for a host failing 50% of its requests, the same way every run."""
    rng = random.Random(seed)
    outcomes = [rng.random() < 0.5 for _ in range(100000)]
    return lambda n: outcomes[n - 1]


def _host_health(proxy, cluster_name="backend"):
    _, body = proxy.admin("GET", "/clusters")
    for entry in json.loads(body)["clusters"]:
        if entry["name"] == cluster_name:
            return {h["address"]: h["health"] for h in entry["hosts"]}
    return {}


class _EjectionWatch(threading.Thread):
    """Polls /clusters until `address` shows as ejected; records when (time.monotonic()) and
    how many requests `server` had seen by then."""

    def __init__(self, proxy, address, server):
        super().__init__(daemon=True)
        self.proxy, self.address, self.server = proxy, address, server
        self.seen_at, self.count_at = None, None
        self.stop = False
        self.start()

    def run(self):
        while not self.stop and self.seen_at is None:
            if _host_health(self.proxy).get(self.address) == "ejected":
                self.seen_at, self.count_at = time.monotonic(), self.server.count
            time.sleep(0.01)


def _h2load(url, requests, clients=8):
    result = subprocess.run(["h2load", "--h1", "-n", str(requests), "-c", str(clients), url],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    match = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", result.stdout)
    assert match, result.stdout
    return int(match.group(1)), int(match.group(4))


def test_brownout_one_host_in_three_failing_half_is_ejected_and_clients_see_success(
        proxy_factory):
    bad = FlakyHTTPServer(_half_failing())
    good = [FlakyHTTPServer(lambda n: False) for _ in range(2)]
    config = bootstrap(
        [http_listener([vhost([route("backend", retry_policy={"retry_on": ["5xx"],
                                                               "num_retries": 2})])])],
        # This upstream answers in about 1 ms, while a retry waits a back-off of up to 25 ms
        # holding its budget slot: with 8 clients the default floor of 3 retries in flight
        # refuses a few tenths of a percent of the requests before the ejection (UO). A
        # higher floor is what a user with such fast upstreams sets.
        [cluster("backend", [bad.port] + [g.port for g in good],
                 outlier_detection={"consecutive_5xx": 5},
                 retry_budget={"min_retry_concurrency": 10})])
    proxy = proxy_factory(config)
    bad_address = "127.0.0.1:%d" % bad.port
    watch = _EjectionWatch(proxy, bad_address, bad)
    ok, failed = _h2load(proxy.url("/"), 10000)
    watch.stop = True
    watch.join()

    assert ok >= 9990, (ok, failed)  # at least 99.9%
    assert watch.seen_at is not None, "the failing host was never ejected"
    assert watch.seen_at - bad.first_failure_at < 1.0, watch.seen_at - bad.first_failure_at
    assert proxy.metric("skiff_upstream_outlier_ejections_total", cluster="backend",
                        reason="consecutive_5xx") >= 1
    assert proxy.metric("skiff_upstream_hosts_ejected", cluster="backend") == 1
    # Out for 30s (the default): after its ejection it saw at most what was in flight.
    assert bad.count - watch.count_at <= 8, (bad.count, watch.count_at)
    upstream_requests = bad.count + sum(g.count for g in good)
    print("brownout: %d ok, %d failed, %.4f upstream requests per request, ejected %.3fs after "
          "the first failure" % (ok, failed, upstream_requests / 10000.0,
                                 watch.seen_at - bad.first_failure_at))
    assert upstream_requests <= 10000 * 1.05, upstream_requests


def test_an_unreachable_host_is_ejected_on_gateway_failures(proxy_factory):
    good = FlakyHTTPServer(lambda n: False)
    dead_port = closed_port()
    config = bootstrap(
        [http_listener([vhost([route("backend", retry_policy={"retry_on": ["connect-failure"],
                                                               "num_retries": 1})])])],
        [cluster("backend", [dead_port, good.port],
                 outlier_detection={"consecutive_5xx": 0, "consecutive_gateway_failure": 3})])
    proxy = proxy_factory(config)
    ok, failed = _h2load(proxy.url("/"), 200, clients=1)
    assert failed == 0
    assert _host_health(proxy)["127.0.0.1:%d" % dead_port] == "ejected"
    assert proxy.metric("skiff_upstream_outlier_ejections_total", cluster="backend",
                        reason="consecutive_gateway_failure") == 1
    # Connect failures stopped once the host was out: a handful, not one per request.
    assert proxy.metric("skiff_upstream_connect_failures_total", cluster="backend") <= 5


def test_an_ejected_host_comes_back_after_its_ejection_time(proxy_factory):
    failing = {"on": True}
    flaky = FlakyHTTPServer(lambda n: failing["on"])
    good = FlakyHTTPServer(lambda n: False)
    config = bootstrap(
        [http_listener([vhost([route("backend")])])],
        [cluster("backend", [flaky.port, good.port],
                 outlier_detection={"consecutive_5xx": 3, "interval": "0.1s",
                                    "base_ejection_time": "1s", "max_ejection_percent": 50})])
    proxy = proxy_factory(config)
    address = "127.0.0.1:%d" % flaky.port
    _h2load(proxy.url("/"), 20, clients=1)
    assert _host_health(proxy)[address] == "ejected"
    failing["on"] = False  # it recovers
    seen = flaky.count
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _host_health(proxy)[address] == "ejected":
        time.sleep(0.05)
    assert _host_health(proxy)[address] == "healthy"
    ok, failed = _h2load(proxy.url("/"), 20, clients=1)
    assert ok == 20 and flaky.count > seen  # it takes its share again
    assert proxy.metric("skiff_upstream_hosts_ejected", cluster="backend") == 0
