"""Workload identity end to end: a real skiff-control as the certificate authority (development
root generated in its --ca-dir, tokens in its --token-dir) and a sidecar started with the
sidecar flags and --token-file. What the proxy shows on /certificates is checked with openssl,
independently of the code that produced it."""

import json
import os
import subprocess
import time

import pytest

import harness
from mesh_harness import ControlPlane, MeshDir, wait_for

pytestmark = pytest.mark.skipif(
    not os.access(harness.proxy_binary(), os.X_OK), reason="skiff-proxy not built")

IDENTITY = "spiffe://example.test/ns/shop/sa/cart-sa"


@pytest.fixture
def control(tmp_path, request):
    d = MeshDir(str(tmp_path / "mesh"))
    d.write("mesh.yaml", {
        "settings": {"trust_domain": "example.test"},
        "services": [{"name": "cart", "namespace": "shop", "port": 8080}],
        "workloads": [{"name": "cart-v1", "service": "cart", "service_account": "cart-sa",
                       "version": "v1",
                       "app_port": harness.free_port(),
                       "instances": [{"node": "cart-0", "address": "127.0.0.1",
                                      "inbound_port": harness.free_port(),
                                      "outbound_port": harness.free_port()}]}],
    })
    plane = ControlPlane(d.path, str(tmp_path)).start()
    yield plane
    plane.stop()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print("----- skiff-control -----\n" + plane.stderr()[-10000:])
    report = harness.sanitizer_report(plane.stderr())
    if report:
        pytest.fail("sanitizer report from skiff-control:\n" + report, pytrace=False)


def sidecar(proxy_factory, control, token_file, extra=(), start=True):
    """A sidecar configured by flags alone (the bootstrap file only names the admin port)."""
    admin_port = harness.free_port()
    config = {"admin": {"address": harness.addr(admin_port)}, "drain_timeout": "1s"}
    args = ["--node-id", "cart-0", "--workload", "cart-v1", "--control-plane", control.address,
            "--token-file", token_file, *extra]
    return proxy_factory(config, extra_args=args, start=start)


def certificates(proxy):
    return proxy.admin_json("/certificates")


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True)


def test_sidecar_is_issued_its_spiffe_identity(control, proxy_factory, tmp_path):
    proxy = sidecar(proxy_factory, control, control.token_file("cart-v1"))
    info = certificates(proxy)
    assert info["identity"] == IDENTITY, info
    assert info["ready"] is True and info["last_error"] == ""
    assert any("Skiff development CA" in s for s in info["trust_bundle_subjects"]), info
    with open(control.ca_cert) as f:
        assert info["trust_bundle_pem"] == f.read()

    # openssl, not our code, checks the chain against the CA's root, for both TLS roles.
    chain = tmp_path / "chain.pem"
    chain.write_text(info["certificate_chain_pem"])
    for purpose in ("sslclient", "sslserver"):
        result = openssl("verify", "-CAfile", control.ca_cert, "-purpose", purpose, str(chain))
        assert result.returncode == 0 and ": OK" in result.stdout, result.stdout + result.stderr
    text = openssl("x509", "-in", str(chain), "-noout", "-text").stdout
    assert "URI:" + IDENTITY in text, text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text, text
    assert "CA:FALSE" in text and "prime256v1" in text, text
    serial = openssl("x509", "-in", str(chain), "-noout", "-serial").stdout.strip()
    assert serial.lower() == "serial=" + info["serial"], (serial, info["serial"])

    assert proxy.metric("skiff_identity_renewals_total", result="success") == 1
    enddate = openssl("x509", "-in", str(chain), "-noout", "-enddate").stdout.strip()
    expiry = proxy.metric("skiff_identity_certificate_expiry_timestamp_seconds")
    assert time.strftime("%b %d %H:%M:%S %Y", time.gmtime(expiry)).replace(" 0", "  ") in \
        enddate.replace("notAfter=", ""), (expiry, enddate)
    # Issued for the default 24 h.
    assert 23.9 * 3600 < expiry - time.time() <= 24 * 3600 + 5
    assert "issued %s to node cart-0" % IDENTITY in control.stderr()


def public_key(pem):
    return openssl("x509", "-noout", "-pubkey", stdin=pem).stdout


def test_rotate_certificate_gets_a_new_key_and_serial(control, proxy_factory):
    proxy = sidecar(proxy_factory, control, control.token_file("cart-v1"))
    before = certificates(proxy)
    status, body = proxy.admin("POST", "/rotate_certificate")
    assert status == 202, body
    after = wait_for(lambda: (lambda c: c if c["serial"] != before["serial"] else None)(
        certificates(proxy)), what="a new serial")
    assert after["identity"] == before["identity"]
    # A new key each time, not only a new certificate.
    assert public_key(after["certificate_chain_pem"]) != public_key(before["certificate_chain_pem"])
    assert proxy.metric("skiff_identity_renewals_total", result="success") == 2
    assert proxy.admin("GET", "/ready")[0] == 200


def test_renews_at_the_configured_fraction_of_a_short_lifetime(control, proxy_factory):
    admin_port = harness.free_port()
    config = {
        "admin": {"address": harness.addr(admin_port)},
        "node": {"id": "cart-0", "workload": "cart-v1"},
        "dynamic_resources": {"ads_address": control.address},
        "identity": {"certificate_authority": {
            "token_file": control.token_file("cart-v1"), "ttl": "12s",
            "renew_at_fraction": 0.25}},
    }
    proxy = proxy_factory(config)
    first = certificates(proxy)
    # 12 s asked for; renewal after a quarter of it (3 s), not at expiry.
    started = time.monotonic()
    wait_for(lambda: certificates(proxy)["serial"] != first["serial"], timeout=8,
             what="an automatic renewal")
    assert 2.0 < time.monotonic() - started < 6.0
    assert proxy.admin("GET", "/ready")[0] == 200


def test_wrong_token_is_reported_and_the_proxy_is_not_ready(control, proxy_factory, tmp_path):
    control.token_file("cart-v1")  # the control plane's token exists...
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token\n")  # ...and the proxy has another
    proxy = sidecar(proxy_factory, control, str(wrong), start=False)
    with pytest.raises(harness.ProxyError):
        proxy.start(timeout=3)
    assert proxy.process.poll() is None, "the proxy keeps trying, it does not exit"
    log = proxy.stderr()
    assert "refused workload cart-v1" in log and "wrong token for workload cart-v1" in log, log
    assert str(wrong) in log, "the log names the token file to fix"
    assert log.count("wrong token") == 1, "a repeated error is logged once"
    status, body = proxy.admin("GET", "/ready")
    assert status == 503, body
    info = certificates(proxy)
    assert info["ready"] is False and "UNAUTHENTICATED" in info["last_error"], info
    assert proxy.metric("skiff_identity_renewals_total", result="failure") >= 1
    assert "wrong token for workload cart-v1" in control.stderr()

    # The token file is read again at every attempt: fixing it is enough.
    with open(os.path.join(control.token_dir, "cart-v1")) as f:
        wrong.write_text(f.read())
    proxy.wait_ready(timeout=40)
    assert certificates(proxy)["identity"] == IDENTITY


def test_unknown_workload_is_refused(control, proxy_factory, tmp_path):
    token = control.token_file("ghost")  # a token, but no such workload in the mesh
    admin_port = harness.free_port()
    config = {"admin": {"address": harness.addr(admin_port)}}
    proxy = proxy_factory(config, extra_args=[
        "--node-id", "ghost-0", "--workload", "ghost", "--control-plane", control.address,
        "--token-file", token], start=False)
    with pytest.raises(harness.ProxyError):
        proxy.start(timeout=2)
    assert "workload ghost is not in the mesh" in proxy.stderr(), proxy.stderr()
    assert "PERMISSION_DENIED" in certificates(proxy)["last_error"]


def test_control_plane_restart_does_not_break_the_proxy(control, proxy_factory, tmp_path):
    proxy = sidecar(proxy_factory, control, control.token_file("cart-v1"))
    first = certificates(proxy)
    control.kill()
    # A renewal while the CA is away fails; the proxy keeps its certificate and stays ready.
    assert proxy.admin("POST", "/rotate_certificate")[0] == 202
    failed = wait_for(lambda: (lambda c: c if c["last_error"] else None)(certificates(proxy)),
                      what="the failed renewal")
    assert failed["serial"] == first["serial"] and failed["ready"] is True, failed
    assert proxy.admin("GET", "/ready")[0] == 200
    assert "the current certificate stays in use" in proxy.stderr()

    # The restarted control plane reloads the same root from its --ca-dir; the retry (backoff
    # 1 s, 2 s, ...) gets a certificate that still chains to it.
    restarted = ControlPlane(control.config_dir, control.workdir, port=control.port).start()
    try:
        renewed = wait_for(lambda: (lambda c: c if c["serial"] != first["serial"] else None)(
            certificates(proxy)), timeout=20, what="a renewal after the restart")
        assert renewed["last_error"] == ""
        assert renewed["trust_bundle_pem"] == first["trust_bundle_pem"]
        chain = tmp_path / "renewed.pem"
        chain.write_text(renewed["certificate_chain_pem"])
        result = openssl("verify", "-CAfile", restarted.ca_cert, str(chain))
        assert result.returncode == 0, result.stderr
        # (Both runs log to the same file: only the first one generated a root.)
        assert restarted.stderr().count("generated a DEVELOPMENT certificate authority") == 1
    finally:
        restarted.stop()


# ---------------------------------------------------------------------------------------------
# The issued certificates in use: two proxies with CA identities talk mutual TLS, and rotating
# both certificates under load fails no request.

WEB_IDENTITY = "spiffe://example.test/ns/shop/sa/web"


def ca_proxy(proxy_factory, control, node, workload, listeners, clusters):
    config = harness.bootstrap(listeners, clusters, drain_timeout="1s")
    config["node"] = {"id": node, "workload": workload}
    config["identity"] = {"certificate_authority": {
        "address": control.address, "token_file": control.token_file(workload)}}
    return proxy_factory(config)


def test_issued_certificates_carry_mutual_tls_and_rotate_under_load(control, proxy_factory,
                                                                     upstream):
    # web-v1 calls cart-v1: add web to the mesh (the CA only issues to mesh workloads).
    mesh = MeshDir(control.config_dir)
    mesh.write("web.yaml", {
        "services": [{"name": "web", "namespace": "shop", "port": 8080}],
        "workloads": [{"name": "web-v1", "service": "web", "version": "v1",
                       "app_port": harness.free_port()}]})
    wait_for(lambda: "mesh reload accepted" in control.stderr(), what="the mesh reload")

    inbound = harness.http_listener([harness.vhost([harness.route("app")])], name="in")
    inbound["tls"] = {"mode": "STRICT"}
    cart = ca_proxy(proxy_factory, control, "cart-0", "cart-v1", [inbound],
                    [harness.cluster("app", [upstream.port])])
    web = ca_proxy(proxy_factory, control, "web-0", "web-v1",
                   [harness.http_listener([harness.vhost([harness.route("cart")])], name="out")],
                   [harness.cluster("cart", [cart.port("in")],
                                    tls={"allowed_identities": [IDENTITY]},
                                    connection_pool={"max_requests_per_connection": 1})])
    assert certificates(web)["identity"] == WEB_IDENTITY

    import http.client
    import json as _json
    import threading

    def call():
        # A new connection per request (and max_requests_per_connection: 1 upstream), so every
        # request makes a new mutual TLS handshake between the proxies.
        conn = http.client.HTTPConnection("127.0.0.1", web.port("out"), timeout=5)
        try:
            conn.request("GET", "/via-mtls")
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    status, body = call()
    assert status == 200, body
    headers = {k.lower(): v for k, v in _json.loads(body)["headers"]}
    xfcc = headers.get("x-forwarded-client-cert", "")
    # The callee's proxy names both identities, as the CA issued them.
    assert "URI=" + WEB_IDENTITY in xfcc and "By=" + IDENTITY in xfcc, headers

    results = []
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                results.append(call()[0])
            except OSError as e:
                results.append(repr(e))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    serials = {name: [certificates(p)["serial"]] for name, p in (("web", web), ("cart", cart))}
    try:
        for _ in range(3):
            time.sleep(0.4)
            for name, proxy in (("web", web), ("cart", cart)):
                assert proxy.admin("POST", "/rotate_certificate")[0] == 202
            for name, proxy in (("web", web), ("cart", cart)):
                last = serials[name][-1]
                serials[name].append(wait_for(
                    lambda: (lambda s: s if s != last else None)(certificates(proxy)["serial"]),
                    what="%s's new certificate" % name))
        time.sleep(0.4)
    finally:
        stop.set()
        for t in threads:
            t.join()
    failures = [r for r in results if r != 200]
    assert len(results) > 50 and not failures, (len(results), failures[:5])
    handshakes = sum(v for (m, labels), v in harness.parse_prometheus(cart.metrics_text()).items()
                     if m == "skiff_tls_handshakes_total"
                     and {("side", "downstream"), ("result", "success")} <= set(labels))
    assert handshakes >= len(results), (handshakes, len(results))
    print("%d requests, each a new mutual TLS handshake, across 3 rotations of both proxies"
          % len(results))
    assert all(len(set(s)) == 4 for s in serials.values()), serials


def test_validate_checks_the_identity_settings(tmp_path):
    path = tmp_path / "bootstrap.yaml"
    path.write_text("identity: {certificate_authority: {token_file: /t, renew_at_fraction: 1.5}}\n"
                    "node: {id: cart-0, workload: cart-v1}\n"
                    "dynamic_resources: {ads_address: '127.0.0.1:15010'}\n")
    result = subprocess.run([harness.proxy_binary(), "--validate", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "identity.certificate_authority.renew_at_fraction: must be in (0, 1)" in result.stderr
    # The sidecar flags alone: --token-file without --workload cannot name an identity.
    result = subprocess.run([harness.proxy_binary(), "--validate", str(path), "--node-id", "x",
                             "--token-file", "/t"], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout
    path.write_text("node: {id: cart-0}\ndynamic_resources: {ads_address: '127.0.0.1:15010'}\n")
    result = subprocess.run([harness.proxy_binary(), "--validate", str(path), "--token-file",
                             "/t"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "needs node.workload (--workload)" in result.stderr, result.stderr


def test_certificates_page_shows_a_static_identity(proxy_factory, tmp_path):
    d = str(tmp_path)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    assert openssl("req", "-x509", *ec, "-keyout", d + "/ca.key", "-out", d + "/ca.pem",
                   "-subj", "/CN=static test CA", "-days", "1").returncode == 0
    assert openssl("req", "-new", *ec, "-keyout", d + "/leaf.key", "-out", d + "/leaf.csr",
                   "-subj", "/CN=leaf").returncode == 0
    with open(d + "/leaf.ext", "w") as f:
        f.write("subjectAltName=URI:spiffe://static.test/ns/a/sa/b\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
    assert openssl("x509", "-req", "-in", d + "/leaf.csr", "-CA", d + "/ca.pem", "-CAkey",
                   d + "/ca.key", "-CAcreateserial", "-days", "1", "-extfile", d + "/leaf.ext",
                   "-out", d + "/leaf.pem").returncode == 0
    config = harness.bootstrap([], [])
    config["identity"] = {"static_certificate": {
        "certificate_chain_file": d + "/leaf.pem", "private_key_file": d + "/leaf.key",
        "trust_bundle_file": d + "/ca.pem"}}
    proxy = proxy_factory(config)
    info = certificates(proxy)
    assert info["source"] == "static_certificate", info
    assert info["identity"] == "spiffe://static.test/ns/a/sa/b"
    assert info["trust_bundle_subjects"] == ["CN=static test CA"]
    serial = openssl("x509", "-in", d + "/leaf.pem", "-noout", "-serial").stdout.strip()
    assert serial.lower() == "serial=" + info["serial"]
    # Nothing to rotate: the files are the operator's.
    assert proxy.admin("POST", "/rotate_certificate")[0] == 409


def test_an_expired_certificate_that_cannot_be_renewed_is_logged(control, proxy_factory):
    admin_port = harness.free_port()
    config = {
        "admin": {"address": harness.addr(admin_port)},
        "node": {"id": "cart-0", "workload": "cart-v1"},
        "identity": {"certificate_authority": {
            "address": control.address, "token_file": control.token_file("cart-v1"),
            "ttl": "10s", "renew_at_fraction": 0.9}},
    }
    proxy = proxy_factory(config)
    control.kill()
    wait_for(lambda: "expired at" in proxy.stderr(), timeout=20, interval=0.2,
             what="the expiry to be reported")
    log = proxy.stderr()
    assert "identity: certificate for %s expired at" % IDENTITY in log, log
    assert log.count("expired at") == 1, "reported once, not at every retry"


def test_a_new_root_reaches_proxies_at_their_next_renewal(control, proxy_factory, tmp_path):
    """Root rotation: the operator restarts skiff-control signing with a new root and sending
    the old one too (--ca-chain); proxies pick up both at their next renewal, so peers with
    certificates from either root keep trusting each other during the overlap."""
    proxy = sidecar(proxy_factory, control, control.token_file("cart-v1"))
    first = certificates(proxy)
    assert len(first["trust_bundle_subjects"]) == 1
    d = str(tmp_path)
    assert openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-nodes", "-keyout", d + "/new-ca.key", "-out", d + "/new-ca.pem",
                   "-subj", "/O=skiff/CN=new root", "-days", "30",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign").returncode == 0
    port = control.port
    control.stop()
    rotated = ControlPlane(control.config_dir, control.workdir, port=port, name="rotated",
                           ca=False)
    rotated.token_dir = control.token_dir
    rotated.start(extra_args=["--ca-cert", d + "/new-ca.pem", "--ca-key", d + "/new-ca.key",
                              "--ca-chain", control.ca_cert, "--token-dir", control.token_dir])
    try:
        assert proxy.admin("POST", "/rotate_certificate")[0] == 202
        renewed = wait_for(lambda: (lambda c: c if c["serial"] != first["serial"] else None)(
            certificates(proxy)), timeout=20, what="a certificate from the new root")
        assert renewed["trust_bundle_subjects"] == ["CN=new root,O=skiff",
                                                    "CN=Skiff development CA,O=skiff"], renewed
        chain = tmp_path / "new-chain.pem"
        chain.write_text(renewed["certificate_chain_pem"])
        assert openssl("verify", "-CAfile", d + "/new-ca.pem", str(chain)).returncode == 0
        assert openssl("verify", "-CAfile", control.ca_cert, str(chain)).returncode != 0
    finally:
        rotated.stop()
