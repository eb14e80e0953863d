"""Retries through the real proxy, against upstreams the test controls: a brownout (one host of
two fails every request), a flaky host, methods, the budget, per-try timeouts, and the
transparent retry of a connect failure."""

import http.client
import time

from harness import bootstrap, closed_port, cluster, http_listener, route, vhost
from upstreams import FlakyHTTPServer


def _request(proxy, method="GET", path="/", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=10)
    conn.request(method, path, body=body)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _retry_route(**policy):
    return route("backend", retry_policy=policy)


def test_brownout_one_host_failing_every_request_costs_the_client_nothing(proxy_factory):
    bad = FlakyHTTPServer(lambda n: True)
    good = FlakyHTTPServer(lambda n: False)
    config = bootstrap([http_listener([vhost([_retry_route(retry_on=["5xx"], num_retries=2)])])],
                       [cluster("backend", [bad.port, good.port])])
    proxy = proxy_factory(config)
    statuses = [_request(proxy).status for _ in range(200)]
    assert statuses.count(200) == 200, statuses
    # Every request the bad host saw went to the good one next (a retry goes elsewhere).
    assert bad.count > 50
    assert good.count == 200
    assert proxy.metric("skiff_upstream_retries_total", cluster="backend") == bad.count
    # The upstream sees which try it is answering.
    assert {attempt for _, attempt, _ in good.seen} <= {"1", "2"}
    assert {attempt for _, attempt, _ in bad.seen} == {"1"}


def test_post_is_not_retried_on_a_status_unless_the_policy_says_so(proxy_factory):
    flaky = FlakyHTTPServer(lambda n: n == 1)
    config = bootstrap([http_listener([vhost([_retry_route(retry_on=["5xx"])])])],
                       [cluster("backend", [flaky.port])])
    proxy = proxy_factory(config)
    assert _request(proxy, "POST", body=b"order=1").status == 503
    assert flaky.count == 1

    flaky2 = FlakyHTTPServer(lambda n: n == 1)
    config = bootstrap(
        [http_listener([vhost([_retry_route(retry_on=["5xx"], retry_non_idempotent=True)])])],
        [cluster("backend", [flaky2.port])])
    proxy = proxy_factory(config)
    assert _request(proxy, "POST", body=b"order=2").status == 200
    # The kept body went again, byte for byte.
    assert [body for _, _, body in flaky2.seen] == [b"order=2", b"order=2"]


def test_retries_stop_at_the_limit_and_the_log_says_urx(proxy_factory, tmp_path):
    always = FlakyHTTPServer(lambda n: True)
    log = tmp_path / "access.log"
    listener = http_listener([vhost([_retry_route(retry_on=["gateway-error"], num_retries=2)])],
                             access_log={"path": str(log)})
    proxy = proxy_factory(bootstrap([listener], [cluster("backend", [always.port])]))
    response = _request(proxy)
    assert response.status == 503
    assert always.count == 3  # the try and two retries
    assert proxy.metric("skiff_upstream_retry_limit_exceeded_total", cluster="backend") == 1
    deadline = time.time() + 5
    while time.time() < deadline and "URX" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.05)
    assert "URX" in log.read_text()


def test_a_spent_budget_refuses_retries_instead_of_multiplying_the_load(proxy_factory):
    always = FlakyHTTPServer(lambda n: True)
    config = bootstrap(
        [http_listener([vhost([_retry_route(retry_on=["5xx"], num_retries=3)])])],
        [cluster("backend", [always.port],
                 retry_budget={"budget_percent": 0, "min_retry_concurrency": 0})])
    proxy = proxy_factory(config)
    for _ in range(20):
        assert _request(proxy).status == 503
    assert always.count == 20  # no retry was made: one upstream request per client request
    assert proxy.metric("skiff_upstream_retry_overflow_total", cluster="backend") == 20


def test_a_slow_try_is_abandoned_at_the_per_try_timeout_and_retried(proxy_factory):
    slow = FlakyHTTPServer(lambda n: False, delay=3.0)
    fast = FlakyHTTPServer(lambda n: False)
    # Generous margins: the per-try timeout must not catch the fast host on a loaded machine.
    config = bootstrap(
        [http_listener([vhost([_retry_route(retry_on=["reset"], num_retries=2,
                                            per_try_timeout="0.5s")])])],
        [cluster("backend", [slow.port, fast.port])])
    proxy = proxy_factory(config)
    started = time.time()
    for _ in range(4):
        assert _request(proxy).status == 200
    # Round robin sends each first try to the slow host (each request's retry moves it on);
    # each costs one per-try timeout (0.5 s), not the 3 s the slow host takes: 2 s, not 12.
    assert time.time() - started < 6.0
    assert proxy.metric("skiff_upstream_per_try_timeouts_total", cluster="backend") >= 1


def test_a_connect_failure_is_retried_once_without_any_policy(proxy_factory):
    good = FlakyHTTPServer(lambda n: False)
    config = bootstrap([http_listener([vhost([route("backend")])])],
                       [cluster("backend", [closed_port(), good.port])])
    proxy = proxy_factory(config)
    for _ in range(10):
        assert _request(proxy, "POST", body=b"x").status == 200  # never reached an application
    assert good.count == 10
