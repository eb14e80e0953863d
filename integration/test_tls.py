"""Mutual TLS between proxies (issue 5) with static certificates made by `openssl` at test time
(ECDSA P-256, SPIFFE URI SANs, one CA):

    curl --plaintext--> proxy A --mutual TLS--> proxy B --plaintext--> backend

A has a plaintext listener and a cluster with `tls`; B has a listener with `tls` and a
plaintext cluster to the backend."""

import hashlib
import os
import socket
import subprocess

import pytest

import harness
from pki import identity, make_ca, make_leaf
from harness import addr, bootstrap, cluster, http_listener, route, tcp_listener, vhost

TRUST_DOMAIN = "test.skiff.local"


def spiffe(name):
    return "spiffe://%s/ns/default/sa/%s" % (TRUST_DOMAIN, name)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    make_ca(d, "ca")
    make_ca(d, "other_ca")
    make_leaf(d, "ca", "a", spiffe("a"))
    make_leaf(d, "ca", "b", spiffe("b"))
    make_leaf(d, "other_ca", "stranger", spiffe("stranger"))
    make_leaf(d, "ca", "anonymous", None)
    return d


def proxy_b(proxy_factory, certs, backend_port, mode="STRICT", name="b", **tls_extra):
    """B: a `tls` HTTP listener in front of the backend."""
    listener = http_listener([vhost([route("backend")])], name="in")
    listener["tls"] = {"mode": mode, **tls_extra}
    config = bootstrap([listener], [cluster("backend", [backend_port])])
    config["identity"] = identity(certs, name)
    return proxy_factory(config)


def proxy_a(proxy_factory, certs, b_port, name="a", trust="ca", **cluster_extra):
    """A: a plaintext HTTP listener whose cluster originates mutual TLS to B."""
    tls = {"allowed_identities": [spiffe("b")]}
    tls.update(cluster_extra.pop("tls", {}))
    config = bootstrap([http_listener([vhost([route("b")])], name="out")],
                       [cluster("b", [b_port], tls=tls, **cluster_extra)])
    config["identity"] = identity(certs, name, trust)
    return proxy_factory(config)


def curl(url, *extra):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                          "10", *extra, url], capture_output=True, text=True)
    return out.stdout.strip()


def handshakes(proxy, side, name, result):
    # ("name" is also Proxy.metric's first parameter.)
    wanted = {("side", side), ("name", name), ("result", result)}
    for (metric, labels), value in harness.parse_prometheus(proxy.metrics_text()).items():
        if metric == "skiff_tls_handshakes_total" and wanted <= set(labels):
            return value
    return 0


def test_http_over_mutual_tls(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port)
    a = proxy_a(proxy_factory, certs, b.port("in"))
    for _ in range(3):
        assert curl(a.url("/hello", listener="out")) == "200"
    assert "/hello" in upstream.paths()
    assert handshakes(a, "upstream", "b", "success") >= 1
    assert handshakes(b, "downstream", "in", "success") >= 1
    assert handshakes(b, "downstream", "in", "failure") == 0


def test_large_bodies_both_ways(proxy_factory, certs, upstream, tmp_path):
    b = proxy_b(proxy_factory, certs, upstream.port)
    a = proxy_a(proxy_factory, certs, b.port("in"))
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                          "--max-time", "30", a.url("/?size=8000000", listener="out")],
                         capture_output=True, text=True)
    assert out.stdout.split() == ["200", "8000000"]
    body = os.urandom(6_000_000)
    path = tmp_path / "body"
    path.write_bytes(body)
    out = subprocess.run(["curl", "-s", "--max-time", "30", "--data-binary", "@%s" % path,
                          a.url("/upload", listener="out")], capture_output=True, text=True)
    assert hashlib.sha256(body).hexdigest() in out.stdout


def test_tls_only_between_the_proxies(proxy_factory, certs, upstream):
    # What B receives is TLS: a plain HTTP request to B's port is refused (STRICT).
    b = proxy_b(proxy_factory, certs, upstream.port)
    assert curl(b.url("/", listener="in")) == "000"
    assert handshakes(b, "downstream", "in", "plaintext_refused") == 1
    assert upstream.paths() == []


def test_client_without_certificate_is_refused(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port)
    out = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.port("in"), "-tls1_3",
         "-CAfile", os.path.join(certs, "ca.pem"), "-quiet", "-ign_eof"],
        input="GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        capture_output=True, text=True, timeout=10)
    assert "HTTP/1.1" not in out.stdout
    assert "certificate required" in out.stderr or "alert" in out.stderr, out.stderr
    assert upstream.paths() == []
    assert handshakes(b, "downstream", "in", "failure") >= 1


def test_s_client_with_a_mesh_certificate_gets_through(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port)
    out = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.port("in"), "-tls1_3",
         "-CAfile", os.path.join(certs, "ca.pem"), "-cert", os.path.join(certs, "a.pem"),
         "-key", os.path.join(certs, "a.key"), "-alpn", "http/1.1", "-quiet", "-ign_eof"],
        input="GET /via-s-client HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        capture_output=True, text=True, timeout=10)
    assert "HTTP/1.1 200" in out.stdout, out.stderr
    assert "/via-s-client" in upstream.paths()


def test_peer_without_spiffe_identity_is_refused(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port)
    out = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.port("in"), "-tls1_3",
         "-CAfile", os.path.join(certs, "ca.pem"), "-cert", os.path.join(certs, "anonymous.pem"),
         "-key", os.path.join(certs, "anonymous.key"), "-quiet", "-ign_eof"],
        input="GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        capture_output=True, text=True, timeout=10)
    assert "HTTP/1.1" not in out.stdout
    assert upstream.paths() == []


def test_identity_not_allowed_by_the_cluster_gets_503(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port)
    a = proxy_a(proxy_factory, certs, b.port("in"),
                tls={"allowed_identities": [spiffe("somebody-else")]})
    assert curl(a.url("/", listener="out")) == "503"
    assert upstream.paths() == []
    assert handshakes(a, "upstream", "b", "failure") >= 1
    assert handshakes(a, "upstream", "b", "success") == 0


def test_peer_from_another_trust_bundle_gets_503(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port)
    # A trusts only other_ca: B's certificate does not verify.
    a = proxy_a(proxy_factory, certs, b.port("in"), trust="other_ca")
    assert curl(a.url("/", listener="out")) == "503"
    assert upstream.paths() == []
    assert handshakes(a, "upstream", "b", "failure") >= 1


def test_caller_from_another_trust_bundle_gets_503(proxy_factory, certs, upstream):
    # B trusts only other_ca, so it refuses A's certificate. In TLS 1.3 the client finishes its
    # side of the handshake before the server has checked the client's certificate: A learns of
    # the refusal from B's alert, after it sent the request. Still a 503, and nothing reaches
    # the backend.
    listener = http_listener([vhost([route("backend")])], name="in")
    listener["tls"] = {"mode": "STRICT"}
    config = bootstrap([listener], [cluster("backend", [upstream.port])])
    config["identity"] = identity(certs, "b", trust="other_ca")
    b = proxy_factory(config)
    a = proxy_a(proxy_factory, certs, b.port("in"))
    assert curl(a.url("/", listener="out")) == "503"
    assert upstream.paths() == []
    assert handshakes(b, "downstream", "in", "failure") >= 1
    assert handshakes(b, "downstream", "in", "success") == 0


def test_permissive_takes_plaintext_and_tls(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port, mode="PERMISSIVE")
    a = proxy_a(proxy_factory, certs, b.port("in"))
    assert curl(b.url("/plain", listener="in")) == "200"
    assert curl(a.url("/mtls", listener="out")) == "200"
    assert "/plain" in upstream.paths() and "/mtls" in upstream.paths()
    assert handshakes(b, "downstream", "in", "success") == 1


def test_port_modes_override_the_listener_mode(proxy_factory, certs, upstream):
    port = harness.free_port()
    listener = http_listener([vhost([route("backend")])], name="in", port=port)
    listener["tls"] = {"mode": "STRICT", "port_modes": {port: "DISABLE"}}
    config = bootstrap([listener], [cluster("backend", [upstream.port])])
    config["identity"] = identity(certs, "b")
    b = proxy_factory(config)
    assert curl("http://127.0.0.1:%d/plain" % port) == "200"


def test_http2_between_proxies(proxy_factory, certs, upstream):
    b = proxy_b(proxy_factory, certs, upstream.port)
    a = proxy_a(proxy_factory, certs, b.port("in"), protocol="HTTP2")
    for _ in range(3):
        assert curl(a.url("/h2", listener="out")) == "200"
    assert "/h2" in upstream.paths()
    # ALPN chose h2 and B's protocol detection agreed.
    assert b.metric("skiff_downstream_requests_by_protocol_total", listener="in",
                    protocol="HTTP/2") == 3
    # One connection carries every stream.
    assert handshakes(a, "upstream", "b", "success") == 1


def test_tcp_over_mutual_tls(proxy_factory, certs, tcp_upstream_factory):
    echo = tcp_upstream_factory("echo")
    b_listener = tcp_listener("echo", name="in")
    b_listener["tls"] = {"mode": "STRICT"}
    b_config = bootstrap([b_listener], [cluster("echo", [echo.port])])
    b_config["identity"] = identity(certs, "b")
    b = proxy_factory(b_config)
    a_config = bootstrap([tcp_listener("b", name="out")],
                         [cluster("b", [b.port("in")],
                                  tls={"allowed_identities": [spiffe("b")]})])
    a_config["identity"] = identity(certs, "a")
    a = proxy_factory(a_config)
    payload = os.urandom(300_000)
    with socket.create_connection(("127.0.0.1", a.port("out")), timeout=10) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            data = sock.recv(65536)
            assert data, "closed after %d bytes" % len(received)
            received += data
    assert received == payload
    assert handshakes(b, "downstream", "in", "success") == 1


def test_tcp_caller_that_fails_the_handshake_never_reaches_the_upstream(
        proxy_factory, certs, tcp_upstream_factory):
    echo = tcp_upstream_factory("echo")
    listener = tcp_listener("echo", name="in")
    listener["tls"] = {"mode": "STRICT"}
    config = bootstrap([listener], [cluster("echo", [echo.port])])
    config["identity"] = identity(certs, "b")
    b = proxy_factory(config)
    # No client certificate: B refuses after its side of the handshake.
    subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.port("in"), "-tls1_3",
                    "-CAfile", os.path.join(certs, "ca.pem"), "-quiet", "-ign_eof"],
                   input="hello\n", capture_output=True, text=True, timeout=10)
    # Plaintext.
    with socket.create_connection(("127.0.0.1", b.port("in")), timeout=5) as sock:
        sock.sendall(b"hello\n")
        assert sock.recv(100) == b""
    assert handshakes(b, "downstream", "in", "failure") == 1
    assert handshakes(b, "downstream", "in", "plaintext_refused") == 1
    assert echo.connections_accepted == 0


def test_tls_without_identity_is_a_config_error(proxy_factory, certs, upstream):
    listener = http_listener([vhost([route("backend")])], name="in")
    listener["tls"] = {"mode": "STRICT"}
    config = bootstrap([listener], [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config, start=False)
    with pytest.raises(harness.ProxyError) as error:
        proxy.start()
    assert "static_resources.listeners[0].tls" in str(error.value)


def test_missing_certificate_file_names_the_field(proxy_factory, certs, upstream):
    listener = http_listener([vhost([route("backend")])], name="in")
    listener["tls"] = {"mode": "STRICT"}
    config = bootstrap([listener], [cluster("backend", [upstream.port])])
    config["identity"] = identity(certs, "b")
    config["identity"]["static_certificate"]["private_key_file"] = "/nonexistent.key"
    proxy = proxy_factory(config, start=False)
    with pytest.raises(harness.ProxyError) as error:
        proxy.start()
    assert "private_key_file" in str(error.value)
