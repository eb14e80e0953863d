"""Local rate limiting, end to end: real skiff-proxy processes (two workers, one bucket per
limit), real clients sending at a known rate above the limit, a real gRPC server and client,
and a mesh through skiff-control.

What a refusal looks like: 429 "local_rate_limited" with `retry-after` and x-skiff-flags RL
(gRPC: RESOURCE_EXHAUSTED), flag RL in the access log, and
skiff_rate_limited_total{listener,scope} counting it."""

import http.client
import json
import os
import threading
import time

import grpc
import pytest

import harness
from grpc_service import channel, stubs
from harness import bootstrap, cluster, h2_cluster, http_listener, route, vhost
from mesh_harness import ControlPlane, FrontendBackendMesh, stop_control_plane, wait_for

pytestmark = pytest.mark.skipif(
    not os.access(harness.proxy_binary(), os.X_OK), reason="skiff-proxy not built")


def limit(max_tokens, fill_interval, tokens_per_fill=None, shadow=False):
    result = {"max_tokens": max_tokens, "fill_interval": fill_interval}
    if tokens_per_fill is not None:
        result["tokens_per_fill"] = tokens_per_fill
    if shadow:
        result["shadow"] = True
    return result


class Sent:
    """What one paced client saw: (time sent, status, retry-after, x-skiff-flags) per request."""

    def __init__(self):
        self.results = []

    def statuses(self):
        return [r[1] for r in self.results]

    def count(self, status):
        return sum(1 for r in self.results if r[1] == status)

    def window(self):
        return self.results[-1][0] - self.results[0][0]


def paced_client(port, path, rate, seconds, sent, host="svc"):
    """Sends GET `path` at `rate` requests per second for `seconds` on one keep-alive
    connection, each at its scheduled time (a late one goes at once: the offered rate holds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    start = time.monotonic()
    try:
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            at = time.monotonic()
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            response.read()
            sent.results.append((at, response.status, response.getheader("retry-after"),
                                 response.getheader("x-skiff-flags")))
    finally:
        conn.close()


def offer(port, path, rate, seconds, clients=2):
    """`clients` paced clients sharing `rate` between them, in parallel (the proxy's two workers
    each get connections); returns their results merged in time order."""
    parts = [Sent() for _ in range(clients)]
    threads = [threading.Thread(target=paced_client,
                                args=(port, path, rate / clients, seconds, part))
               for part in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged = Sent()
    merged.results = sorted(r for part in parts for r in part.results)
    return merged


def expected_accepted(max_tokens, rate, window):
    """A full bucket, then the configured rate over the window of the requests."""
    return max_tokens + rate * window


def assert_within_10_percent(accepted, expected, what):
    assert abs(accepted - expected) <= 0.1 * expected, (
        "%s: %d accepted, configured %.1f (more than 10%% off)" % (what, accepted, expected))


def assert_refusals_explained(sent):
    refused = [r for r in sent.results if r[1] == 429]
    assert refused, "no request was refused"
    for _, status, retry_after, flags in refused:
        assert flags == "RL", flags
        assert retry_after is not None and int(retry_after) >= 1, retry_after
    for _, status, retry_after, flags in sent.results:
        assert status in (200, 429), status
        if status == 200:
            assert retry_after is None and flags is None, (retry_after, flags)


def access_log_flags(path, want, timeout=5.0):
    """The `flags` of each access-log line, once there are `want` lines."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            if len(lines) >= want:
                break
        time.sleep(0.05)
    return [line["flags"] for line in lines]


# ---------------------------------------------------------------------------------------------
# A static proxy.

def test_listener_limit_admits_the_configured_rate_and_explains_each_refusal(
        proxy_factory, upstream, tmp_path):
    # 20 requests per second (1 token every 50ms), burst 5; offered 60 per second for 4s.
    log_path = str(tmp_path / "access.log")
    config = bootstrap(
        [http_listener([vhost([route("backend")])],
                       local_rate_limit=limit(5, "0.05s"), access_log={"path": log_path})],
        [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config, concurrency=2)
    sent = offer(proxy.port(), "/hello", rate=60, seconds=4)

    accepted = sent.count(200)
    assert_within_10_percent(accepted, expected_accepted(5, 20, sent.window()), "listener limit")
    assert_refusals_explained(sent)
    refused = sent.count(429)
    assert proxy.metric("skiff_rate_limited_total", listener="http", scope="listener") == refused
    assert proxy.metric("skiff_rate_limited_total", listener="http", scope="route") == 0
    flags = access_log_flags(log_path, len(sent.results))
    assert flags.count("RL") == refused, flags
    assert len(upstream.requests) == accepted


def test_route_limit_applies_to_its_route_only(proxy_factory, upstream):
    # /limited: 10 per second (2 tokens every 200ms), burst 2; everything else is free.
    limited = route("backend", prefix="/limited")
    limited["local_rate_limit"] = limit(2, "0.2s", tokens_per_fill=2)
    config = bootstrap([http_listener([vhost([limited, route("backend")])])],
                       [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config, concurrency=2)

    results = {}
    threads = [threading.Thread(target=lambda p=p: results.__setitem__(
        p, offer(proxy.port(), p, rate=40, seconds=3))) for p in ("/limited", "/free")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert_within_10_percent(results["/limited"].count(200),
                             expected_accepted(2, 10, results["/limited"].window()), "route limit")
    assert_refusals_explained(results["/limited"])
    assert set(results["/free"].statuses()) == {200}
    assert proxy.metric("skiff_rate_limited_total", listener="http",
                        scope="route") == results["/limited"].count(429)
    assert proxy.metric("skiff_rate_limited_total", listener="http", scope="listener") == 0


def test_shadow_mode_counts_but_refuses_nothing(proxy_factory, upstream, tmp_path):
    log_path = str(tmp_path / "access.log")
    config = bootstrap(
        [http_listener([vhost([route("backend")])],
                       local_rate_limit=limit(5, "60s", shadow=True),
                       access_log={"path": log_path})],
        [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config, concurrency=2)
    sent = offer(proxy.port(), "/hello", rate=100, seconds=0.3)
    assert len(sent.results) == 30
    assert set(sent.statuses()) == {200}
    assert proxy.metric("skiff_rate_limit_shadow_total", listener="http", scope="listener") == 25
    assert proxy.metric("skiff_rate_limited_total", listener="http") == 0
    assert "RL" not in access_log_flags(log_path, 30)


def test_grpc_calls_above_the_limit_get_resource_exhausted(proxy_factory, grpc_server):
    config = bootstrap(
        [http_listener([vhost([route("grpc", prefix="/test.Echo/")])],
                       local_rate_limit=limit(2, "60s"))],
        [h2_cluster("grpc", [grpc_server.port])])
    proxy = proxy_factory(config)
    codes = []
    with channel(proxy.port()) as ch:
        unary = stubs(ch)["Unary"]
        for _ in range(4):
            try:
                unary(b"hello", timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
                details = error.details()
    assert codes == [grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED,
                     grpc.StatusCode.RESOURCE_EXHAUSTED], codes
    assert details == "local_rate_limited"
    assert proxy.metric("skiff_rate_limited_total", listener="http", scope="listener") == 2
    assert proxy.metric("skiff_downstream_grpc_responses_total", listener="http",
                        grpc_status="8") == 2


def test_an_invalid_limit_is_refused_with_its_path(proxy_factory, upstream):
    config = bootstrap(
        [http_listener([vhost([route("backend")])], local_rate_limit={"max_tokens": 5})],
        [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config, start=False)
    with pytest.raises(harness.ProxyError) as e:
        proxy.start(timeout=5)
    assert "http.local_rate_limit.fill_interval: required" in str(e.value), str(e.value)


# ---------------------------------------------------------------------------------------------
# The mesh: a service's limits are enforced by its own instances' inbound listeners.

class RateLimitedMesh(FrontendBackendMesh):
    def call(self, path):
        """(status, retry-after, x-skiff-flags) of a request from the frontend's application to
        the backend service."""
        response, _ = self.request(path)
        return (response.status, response.getheader("retry-after"),
                response.getheader("x-skiff-flags"))


@pytest.fixture
def rate_limited_mesh(tmp_path, http_upstream_factory, proxy_factory, request):
    m = RateLimitedMesh(tmp_path, http_upstream_factory, proxy_factory)
    yield m
    stop_control_plane(m.control, request)


def test_mesh_limits_are_enforced_by_the_services_own_sidecar(rate_limited_mesh):
    mesh = rate_limited_mesh
    mesh.dir.write("policy.yaml", {"traffic_policies": [{
        "service": "backend",
        "rate_limit": limit(3, "60s"),
        "routes": [{"name": "pay", "match": {"prefix": "/pay"},
                    "rate_limit": limit(1, "60s")}],
    }]})
    mesh.start()
    # The first request through takes one of the service's 3 tokens.
    wait_for(lambda: mesh.call("/hello")[0] == 200, timeout=15, what="frontend -> backend 200")
    assert mesh.call("/pay")[0] == 200  # the route's only token, and the service's second
    status, retry_after, flags = mesh.call("/pay")
    assert (status, flags) == (429, "RL")  # the route's limit: no service token spent
    assert int(retry_after) >= 1
    assert mesh.call("/hello")[0] == 200  # the service's third token
    assert mesh.call("/hello")[:1] == (429,)
    assert len(mesh.apps["backend"].requests) == 3

    backend = mesh.proxies["backend-0"]
    assert backend.metric("skiff_rate_limited_total", listener="inbound", scope="route") == 1
    assert backend.metric("skiff_rate_limited_total", listener="inbound", scope="listener") == 1
    # The callers' proxies do not limit: the refusals are the backend's.
    assert mesh.proxies["frontend-0"].metric("skiff_rate_limited_total", default=0) == 0


def test_invalid_mesh_rate_limit_is_refused_with_file_and_field(rate_limited_mesh):
    mesh = rate_limited_mesh
    mesh.dir.write("policy.yaml", {"traffic_policies": [{
        "service": "backend",
        "routes": [{"match": {"prefix": "/pay"}, "rate_limit": {"max_tokens": 0,
                                                                "fill_interval": "1s"}}],
    }]})
    control = ControlPlane(mesh.dir.path, str(mesh.tmp_path))
    with pytest.raises(harness.ProxyError) as e:
        control.start(timeout=5)
    assert "policy.yaml: traffic_policies[0].routes[0].rate_limit.max_tokens: required" in str(
        e.value), str(e.value)

    # A running control plane refuses the change and keeps serving the last good mesh.
    mesh.dir.write("policy.yaml", {"traffic_policies": [{"service": "backend"}]})
    mesh.start()
    wait_for(lambda: mesh.call("/hello")[0] == 200, timeout=15, what="frontend -> backend 200")
    mesh.dir.write("policy.yaml", {"traffic_policies": [{
        "service": "backend", "rate_limit": {"max_tokens": 1, "fill_interval": "0s"}}]})
    error = wait_for(lambda: mesh.control.status().get("lastMeshError"),
                     what="the control plane to report the bad file")
    assert "policy.yaml: traffic_policies[0].rate_limit.fill_interval: must be at least 1ms" in \
        error, error
    assert [mesh.call("/hello")[0] for _ in range(5)] == [200] * 5
