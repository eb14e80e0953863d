"""Fixtures: real upstream servers (in-process threads) and real skiff-proxy processes.

Every process a test starts is stopped at teardown; when the test failed, the proxy's
stderr is printed so the report shows what the proxy said."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import upstreams  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _started_servers(start):
    """Fixture body: yields a factory that starts a server with `start(...)`; every server it
    started is stopped when the test ends."""
    servers = []

    def make(*args, **kwargs):
        server = start(*args, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def http_upstream_factory():
    yield from _started_servers(lambda name="echo": upstreams.EchoHTTPServer(name=name).start())


@pytest.fixture
def tcp_upstream_factory():
    yield from _started_servers(
        lambda mode="echo", size=0: upstreams.TcpServer(mode=mode, size=size).start())


@pytest.fixture
def upstream(http_upstream_factory):
    return http_upstream_factory("backend")


@pytest.fixture
def proxy_factory(request, tmp_path):
    proxies = []

    def make(config, concurrency=1, extra_args=(), start=True, stdout=None):
        proxy = harness.Proxy(config, str(tmp_path), concurrency=concurrency,
                              extra_args=extra_args, name="proxy%d" % len(proxies),
                              stdout=stdout)
        proxies.append(proxy)
        if start:
            proxy.start()
        return proxy

    yield make
    failed = harness.request_failed(request)
    reports = []
    for proxy in proxies:
        if proxy.process is None:
            continue
        running = proxy.process.poll() is None
        code = proxy.stop()
        if running and code != 0:
            # SIGTERM must drain and exit 0; anything else (a crash in shutdown, a hang that
            # needed SIGKILL) fails the test.
            reports.append("%s: exit code %s after SIGTERM:\n%s"
                           % (proxy.name, code, proxy.stderr()[-3000:]))
        if failed:
            sys.stderr.write("\n----- %s (exit %s) config %s -----\n%s\n----- stderr -----\n%s\n"
                             % (proxy.name, code, proxy.config_path,
                                open(proxy.config_path).read(), proxy.stderr()[-20000:]))
        report = harness.sanitizer_report(proxy.stderr())
        if report:
            reports.append("%s:\n%s" % (proxy.name, report))
    if reports:
        # Under the ASan/UBSan build a report fails the test even when its assertions passed.
        pytest.fail("skiff-proxy shutdown or sanitizer report:\n" + "\n".join(reports),
                    pytrace=False)


@pytest.fixture
def proxy(proxy_factory, upstream):
    """A proxy with one HTTP listener ("http") routing everything to `upstream`."""
    return proxy_factory(harness.simple_http_config(upstream.port))


# ---------------------------------------------------------------------------------------------
# HTTP/2 and gRPC upstreams (h2_upstream.py, grpc_service.py).

@pytest.fixture
def h2_upstream_factory():
    import h2_upstream
    yield from _started_servers(
        lambda name="h2echo", **kwargs: h2_upstream.H2EchoServer(name=name, **kwargs).start())


@pytest.fixture
def h2_upstream(h2_upstream_factory):
    return h2_upstream_factory("h2backend")


@pytest.fixture
def grpc_server_factory():
    import grpc_service
    yield from _started_servers(lambda **kwargs: grpc_service.GrpcTestServer(**kwargs).start())


@pytest.fixture
def grpc_server(grpc_server_factory):
    return grpc_server_factory()
