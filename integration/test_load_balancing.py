"""Load balancing across real upstreams."""

import collections
import http.client

from harness import bootstrap, cluster, http_listener, route, vhost


def _spread(proxy, total, fresh_connections=False):
    counts = collections.Counter()
    conn = None
    for i in range(total):
        if conn is None or fresh_connections:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=10)
        conn.request("GET", "/lb/%d" % i)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        counts[response.getheader("x-upstream-name")] += 1
    conn.close()
    return counts


def test_round_robin_spreads_evenly(proxy_factory, http_upstream_factory):
    servers = [http_upstream_factory(name) for name in ("u0", "u1", "u2")]
    config = bootstrap([http_listener([vhost([route("rr")])])],
                       [cluster("rr", [s.port for s in servers], lb_policy="ROUND_ROBIN")])
    proxy = proxy_factory(config)
    counts = _spread(proxy, 300)
    assert sorted(counts) == ["u0", "u1", "u2"], counts
    for name in ("u0", "u1", "u2"):
        assert abs(counts[name] - 100) <= 3, counts
    hosts = proxy.metric("skiff_upstream_hosts", cluster="rr")
    assert hosts == 3


def test_round_robin_with_two_workers_and_fresh_connections(proxy_factory, http_upstream_factory):
    servers = [http_upstream_factory(name) for name in ("u0", "u1", "u2")]
    config = bootstrap([http_listener([vhost([route("rr")])])],
                       [cluster("rr", [s.port for s in servers], lb_policy="ROUND_ROBIN")])
    proxy = proxy_factory(config, concurrency=2)
    counts = _spread(proxy, 300, fresh_connections=True)
    # Each worker runs its own balancer, so the split is even per worker, not globally exact.
    for name in ("u0", "u1", "u2"):
        assert abs(counts[name] - 100) <= 12, counts


def test_endpoint_weights_are_honoured(proxy_factory, http_upstream_factory):
    light = http_upstream_factory("light")
    heavy = http_upstream_factory("heavy")
    config = bootstrap([http_listener([vhost([route("weighted")])])],
                       [cluster("weighted", [light.port, heavy.port], lb_policy="ROUND_ROBIN",
                                weights=[1, 3])])
    proxy = proxy_factory(config)
    counts = _spread(proxy, 400)
    assert abs(counts["heavy"] - 300) <= 12, counts
    assert abs(counts["light"] - 100) <= 12, counts


def test_random_policy_uses_every_host(proxy_factory, http_upstream_factory):
    servers = [http_upstream_factory(name) for name in ("r0", "r1")]
    config = bootstrap([http_listener([vhost([route("random")])])],
                       [cluster("random", [s.port for s in servers], lb_policy="RANDOM")])
    proxy = proxy_factory(config)
    counts = _spread(proxy, 200)
    assert min(counts["r0"], counts["r1"]) >= 60, counts  # p=0.5: 60 is > 5 sd away
