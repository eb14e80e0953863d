"""Upstream behaviour beyond round robin: ring hash, least request, DNS clusters, pool idle
timeouts; and downstream pipelining and idle timeouts."""

import collections
import http.client
import socket
import time

from harness import RawConnection, bootstrap, cluster, http_listener, route, vhost


def _get(proxy, path, headers=None, conn=None):
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    if own:
        conn.close()
    assert response.status == 200
    return response.getheader("x-upstream-name")


def test_ring_hash_keeps_a_key_on_one_host(proxy_factory, http_upstream_factory):
    servers = [http_upstream_factory(name) for name in ("u0", "u1", "u2", "u3")]
    config = bootstrap(
        [http_listener([vhost([route("ring", hash_policy=[{"header_name": "x-user"}])])])],
        [cluster("ring", [s.port for s in servers], lb_policy="RING_HASH")])
    proxy = proxy_factory(config, concurrency=2)
    owners = {}
    for user in range(40):
        seen = {_get(proxy, "/r", {"x-user": "user-%d" % user}) for _ in range(5)}
        # Every request of one user lands on one host, whichever worker takes the connection.
        assert len(seen) == 1, (user, seen)
        owners[user] = seen.pop()
    # ... and different users are spread over the hosts.
    assert len(set(owners.values())) >= 3, collections.Counter(owners.values())


def test_least_request_avoids_the_busy_host(proxy_factory, http_upstream_factory):
    slow = http_upstream_factory("slow")
    fast = http_upstream_factory("fast")
    config = bootstrap([http_listener([vhost([route("lr")])])],
                       [cluster("lr", [slow.port, fast.port], lb_policy="LEAST_REQUEST")])
    proxy = proxy_factory(config)
    # Park three slow requests: least request places them 2 + 1 whatever the tie-breaks.
    parked = []
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=10)
        conn.request("GET", "/park?sleep=1.5")
        parked.append(conn)
        time.sleep(0.05)
    time.sleep(0.2)
    hosts = proxy.admin_json("/clusters")["clusters"][0]["hosts"]
    active = {int(h["address"].rsplit(":", 1)[1]): h["active_requests"] for h in hosts}
    assert sorted(active.values()) == [1, 2], active
    quiet_port = min(active, key=active.get)
    quiet_name = "slow" if quiet_port == slow.port else "fast"
    # Short requests now all go to the host with fewer requests in flight (round robin would
    # split them evenly).
    names = collections.Counter(_get(proxy, "/quick") for _ in range(20))
    assert names[quiet_name] == 20, (names, active)
    for conn in parked:
        conn.getresponse().read()
        conn.close()


def test_strict_dns_cluster_resolves_names(proxy_factory, upstream):
    config = bootstrap(
        [http_listener([vhost([route("dns")])])],
        [{"name": "dns", "type": "STRICT_DNS", "dns_refresh_rate": "1s",
          "endpoints": [{"address": {"address": "localhost", "port": upstream.port}}]}])
    proxy = proxy_factory(config)
    hosts = proxy.admin_json("/clusters")["clusters"][0]["hosts"]
    assert hosts and all(h["hostname"] == "localhost" for h in hosts), hosts
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=10)
    conn.request("GET", "/via-dns")
    response = conn.getresponse()
    response.read()
    assert response.status in (200,), response.status


def test_pool_closes_idle_upstream_connections(proxy_factory, upstream):
    config = bootstrap([http_listener([vhost([route("backend")])])],
                       [cluster("backend", [upstream.port],
                                connection_pool={"idle_timeout": "0.2s"})])
    proxy = proxy_factory(config)
    _get(proxy, "/one")
    assert proxy.metric("skiff_upstream_connections_active", cluster="backend") == 1
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if proxy.metric("skiff_upstream_connections_active", cluster="backend") == 0:
            break
        time.sleep(0.05)
    assert proxy.metric("skiff_upstream_connections_active", cluster="backend") == 0


def test_max_requests_per_connection(proxy_factory, upstream):
    config = bootstrap([http_listener([vhost([route("backend")])])],
                       [cluster("backend", [upstream.port],
                                connection_pool={"max_requests_per_connection": 2})])
    proxy = proxy_factory(config)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=10)
    for i in range(6):
        _get(proxy, "/m/%d" % i, conn=conn)
    conn.close()
    assert proxy.metric("skiff_upstream_connections_total", cluster="backend") == 3


def test_pipelined_requests_are_answered_in_order(proxy):
    with RawConnection(proxy.port(), timeout=10) as conn:
        conn.send(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /second?sleep=0.1 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
        paths = [conn.read_response().json()["path"] for _ in range(3)]
    assert paths == ["/first", "/second?sleep=0.1", "/third"]


def test_downstream_idle_timeout_closes_the_connection(proxy_factory, upstream):
    from harness import simple_http_config
    proxy = proxy_factory(simple_http_config(upstream.port, idle_timeout="0.3s"))
    sock = socket.create_connection(("127.0.0.1", proxy.port()), timeout=5)
    start = time.monotonic()
    assert sock.recv(1) == b""  # the proxy closes an idle connection
    elapsed = time.monotonic() - start
    sock.close()
    assert 0.2 < elapsed < 2.0, elapsed
