"""Authorization policy on a listener (issue 5), with real proxies and certificates made by
`openssl` at test time:

    client --plaintext--> proxy A or C --mutual TLS--> proxy B (authorization) --> backend

A is spiffe://.../ns/shop/sa/frontend (allowed), C spiffe://.../ns/other/sa/intruder (denied).
B guards an HTTP listener (403 on deny, the caller's identity in x-forwarded-client-cert) and a
TCP listener (a denied connection is closed before any upstream connection)."""

import json
import os
import socket
import subprocess

import pytest

from harness import bootstrap, cluster, free_port, http_listener, route, tcp_listener, vhost

TRUST_DOMAIN = "authz.skiff.local"


def spiffe(namespace, account):
    return "spiffe://%s/ns/%s/sa/%s" % (TRUST_DOMAIN, namespace, account)


FRONTEND = spiffe("shop", "frontend")
INTRUDER = spiffe("other", "intruder")
BACKEND = spiffe("shop", "backend")


def _openssl(d, *args):
    out = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True)
    assert out.returncode == 0, "openssl %s:\n%s" % (" ".join(args), out.stderr)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("authz_certs"))
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _openssl(d, "genpkey", *ec, "-out", "ca.key")
    _openssl(d, "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2",
             "-subj", "/O=skiff-test/CN=authz-ca", "-out", "ca.pem")
    for name, uri in (("frontend", FRONTEND), ("intruder", INTRUDER), ("backend", BACKEND)):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                    "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:%s\n" % uri)
        _openssl(d, "genpkey", *ec, "-out", name + ".key")
        _openssl(d, "req", "-new", "-key", name + ".key", "-subj", "/CN=" + name,
                 "-out", name + ".csr")
        _openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-sha256", "-extfile", name + ".ext",
                 "-out", name + ".pem")
    return d


def identity(certs, name):
    return {"static_certificate": {
        "certificate_chain_file": os.path.join(certs, name + ".pem"),
        "private_key_file": os.path.join(certs, name + ".key"),
        "trust_bundle_file": os.path.join(certs, "ca.pem")}}


HTTP_POLICY = {
    "default_action": "DENY",
    "rules": [
        {"action": "DENY", "paths": ["/admin/*"]},
        {"action": "ALLOW", "namespaces": ["shop"], "methods": ["GET", "POST"]},
    ],
}
TCP_POLICY = {"default_action": "DENY", "rules": [{"principals": [FRONTEND]}]}


def proxy_b(proxy_factory, certs, backend_port, echo_port):
    http_in = http_listener([vhost([route("backend")])], name="in")
    http_in["tls"] = {"mode": "STRICT"}
    http_in["authorization"] = HTTP_POLICY
    tcp_in = tcp_listener("echo", name="tcpin")
    tcp_in["tls"] = {"mode": "STRICT"}
    tcp_in["authorization"] = TCP_POLICY
    config = bootstrap([http_in, tcp_in],
                       [cluster("backend", [backend_port]), cluster("echo", [echo_port])])
    config["identity"] = identity(certs, "backend")
    return proxy_factory(config)


def caller(proxy_factory, certs, name, b):
    """A caller's sidecar: plaintext listeners whose clusters originate mutual TLS to B."""
    tls = {"allowed_identities": [BACKEND]}
    config = bootstrap(
        [http_listener([vhost([route("b")])], name="out"), tcp_listener("btcp", name="tcpout")],
        [cluster("b", [b.port("in")], tls=tls), cluster("btcp", [b.port("tcpin")], tls=tls)])
    config["identity"] = identity(certs, name)
    return proxy_factory(config)


def get(url, *extra):
    """(status, body) with curl."""
    out = subprocess.run(["curl", "-s", "--max-time", "10", "-w", "\n%{http_code}", *extra, url],
                         capture_output=True, text=True)
    body, _, status = out.stdout.rpartition("\n")
    return status, body


def header(echo_body, name):
    for key, value in json.loads(echo_body)["headers"]:
        if key.lower() == name:
            return value
    return None


def tcp_exchange(port, payload=b"ping\n"):
    """What the listener sends back for `payload`, b"" when it closes without a reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(payload)
            received = b""
            while len(received) < len(payload):
                data = sock.recv(65536)
                if not data:
                    break
                received += data
            return received
        except (ConnectionResetError, BrokenPipeError):
            return b""


@pytest.fixture
def mesh(proxy_factory, certs, upstream, tcp_upstream_factory):
    echo = tcp_upstream_factory("echo")
    b = proxy_b(proxy_factory, certs, upstream.port, echo.port)
    return {
        "b": b,
        "echo": echo,
        "frontend": caller(proxy_factory, certs, "frontend", b),
        "intruder": caller(proxy_factory, certs, "intruder", b),
    }


def test_allowed_identity_reaches_the_backend_with_its_identity(mesh, upstream):
    # A forged header from the application must not survive: B replaces it.
    status, body = get(mesh["frontend"].url("/hello", listener="out"),
                       "-H", "x-forwarded-client-cert: By=x;URI=spiffe://evil/ns/shop/sa/admin")
    assert status == "200", body
    assert header(body, "x-forwarded-client-cert") == "By=%s;URI=%s" % (BACKEND, FRONTEND)
    assert mesh["b"].metric("skiff_authz_allowed_total", listener="in") >= 1


def test_denied_identity_gets_403(mesh, upstream):
    status, body = get(mesh["intruder"].url("/hello", listener="out"))
    assert status == "403"
    assert body == "RBAC: access denied\n"
    assert "/hello" not in upstream.paths()
    assert mesh["b"].metric("skiff_authz_denied_total", listener="in") == 1


def test_first_matching_rule_decides_paths_and_methods(mesh, upstream):
    url = mesh["frontend"].url
    # The DENY rule for /admin/* comes before the ALLOW for namespace shop.
    assert get(url("/admin/users", listener="out"))[0] == "403"
    assert get(url("/administrators", listener="out"))[0] == "200"
    # Methods outside the ALLOW rule fall to the default (DENY).
    assert get(url("/hello", listener="out"), "-X", "DELETE")[0] == "403"
    assert get(url("/hello?q=1", listener="out"), "-X", "POST", "-d", "x")[0] == "200"
    assert mesh["b"].metric("skiff_authz_denied_total", listener="in") == 2


def test_tcp_allowed_and_denied(mesh):
    assert tcp_exchange(mesh["frontend"].port("tcpout")) == b"ping\n"
    assert mesh["echo"].connections_accepted == 1
    assert tcp_exchange(mesh["intruder"].port("tcpout")) == b""
    # The denied connection never reached the echo server.
    assert mesh["echo"].connections_accepted == 1
    assert mesh["b"].metric("skiff_authz_denied_total", listener="tcpin") == 1
    assert mesh["b"].metric("skiff_authz_allowed_total", listener="tcpin") == 1


def test_plaintext_listener_rules_without_identity(proxy_factory, upstream, tcp_upstream_factory):
    """No TLS: the caller has no identity, so only port, method and path rules can match it,
    and the identity header is left alone."""
    echo = tcp_upstream_factory("echo")
    listener = http_listener([vhost([route("backend")])], name="plain")
    listener["authorization"] = {
        "default_action": "ALLOW",
        "rules": [
            {"action": "ALLOW", "principals": ["*"], "paths": ["/private/*"]},
            {"action": "DENY", "paths": ["/private/*"]},
            {"action": "DENY", "methods": ["PUT"]},
        ],
    }
    tcp = tcp_listener("echo", name="plaintcp")
    tcp["authorization"] = {"default_action": "ALLOW", "rules": [{"action": "DENY", "ports": [1]}]}
    tcp_denied = tcp_listener("echo", name="denied")
    tcp_denied["authorization"] = {"default_action": "DENY"}
    # Without use_original_dst the destination port is the listener's own.
    own_port = free_port()
    tcp_port_rule = tcp_listener("echo", name="portrule", port=own_port)
    tcp_port_rule["authorization"] = {"rules": [{"action": "DENY", "ports": [own_port]}]}
    proxy = proxy_factory(bootstrap(
        [listener, tcp, tcp_denied, tcp_port_rule],
        [cluster("backend", [upstream.port]), cluster("echo", [echo.port])]))
    status, body = get(proxy.url("/public", listener="plain"), "-H",
                       "x-forwarded-client-cert: kept")
    assert status == "200"
    assert header(body, "x-forwarded-client-cert") == "kept"
    assert get(proxy.url("/private/x", listener="plain"))[0] == "403"
    assert get(proxy.url("/public", listener="plain"), "-X", "PUT", "-d", "x")[0] == "403"
    assert tcp_exchange(proxy.port("plaintcp")) == b"ping\n"
    assert tcp_exchange(proxy.port("denied")) == b""
    assert tcp_exchange(proxy.port("portrule")) == b""
    assert echo.connections_accepted == 1
    assert proxy.metric("skiff_authz_denied_total", listener="portrule") == 1
    assert proxy.metric("skiff_authz_denied_total", listener="plain") == 2
    assert proxy.metric("skiff_authz_denied_total", listener="denied") == 1


def test_permissive_listener_plaintext_caller_has_no_identity(proxy_factory, certs, upstream):
    """PERMISSIVE takes plaintext too: such a caller matches no identity rule, and the identity
    header it sends is removed rather than passed on."""
    listener = http_listener([vhost([route("backend")])], name="in")
    listener["tls"] = {"mode": "PERMISSIVE"}
    listener["authorization"] = {
        "default_action": "DENY",
        "rules": [{"principals": ["*"]}, {"paths": ["/public"]}],
    }
    config = bootstrap([listener], [cluster("backend", [upstream.port])])
    config["identity"] = identity(certs, "backend")
    b = proxy_factory(config)
    assert get(b.url("/private", listener="in"))[0] == "403"
    status, body = get(b.url("/public", listener="in"), "-H",
                       "x-forwarded-client-cert: By=x;URI=" + FRONTEND)
    assert status == "200", body
    assert header(body, "x-forwarded-client-cert") is None


def test_denied_grpc_call_gets_permission_denied(proxy_factory, grpc_server):
    """gRPC clients read the outcome from grpc-status: a denial is PERMISSION_DENIED."""
    import grpc
    from grpc_service import channel, stubs
    from harness import h2_cluster

    listener = http_listener([vhost([route("grpc", prefix="/test.Echo/")])], name="grpc")
    listener["authorization"] = {"default_action": "DENY",
                                 "rules": [{"action": "ALLOW", "paths": ["/test.Echo/Unary"]}]}
    proxy = proxy_factory(bootstrap([listener], [h2_cluster("grpc", [grpc_server.port])]))
    with channel(proxy.port("grpc")) as ch:
        assert stubs(ch)["Unary"](b"allowed", timeout=10) == b"allowed"
        with pytest.raises(grpc.RpcError) as info:
            list(stubs(ch)["ServerStream"](b"denied", timeout=10))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "RBAC: access denied" in info.value.details()
    assert proxy.metric("skiff_authz_denied_total", listener="grpc") == 1
