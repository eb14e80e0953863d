"""Issue 5 end to end: zero-code mutual TLS in a mesh of network-namespace "pods".

    client  (A)  curl / a TCP client, sidecar + skiff-iptables      identity .../sa/client
    web     (B)  plain HTTP app echoing request headers, sidecar    STRICT, only `client` allowed
    db      (E)  plain TCP echo app, sidecar (a TCP service)        STRICT, only `client` allowed
    open    (F)  plain HTTP app, sidecar                            PERMISSIVE, no policy
    intruder(C)  a mesh workload `web` and `db` do not allow        identity .../sa/intruder
    outsider(D)  no proxy at all: plaintext only

skiff-control runs in the hub namespace (the bridge's address) as config source and CA. Every
sidecar is configured by flags alone (--control-plane, --node-id, --workload, --token-file,
--admin-address), runs as uid 1337 and sits behind skiff-iptables rules. The applications are
unmodified: they talk plain HTTP/TCP to the other pod's IP and port.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

import harness
import netns
from mesh_harness import ControlPlane, MeshDir, control_binary, skiffctl_binary

PROXY_UID = 1337
TRUST_DOMAIN = "cluster.local"
IPTABLES_TOOL = os.path.join(harness.REPO_ROOT, "tools", "skiff-iptables")
WEB_PORT, DB_PORT, OPEN_PORT = 8080, 9000, 8090
# Where plaintext HTTP could appear on a pod's link: the apps' ports and the inbound port.
HTTP_PORTS = (WEB_PORT, DB_PORT, OPEN_PORT, 15006)


def spiffe(account):
    return "spiffe://%s/ns/default/sa/%s" % (TRUST_DOMAIN, account)


class HubControlPlane(ControlPlane):
    """skiff-control inside the hub namespace, listening on the bridge's address (the only
    address every pod can reach); skiffctl runs there too."""

    def __init__(self, network, config_dir):
        super().__init__(config_dir, network.workdir, port=15010, name="control")
        self.network = network
        self.address = "%s:%d" % (network.gateway, self.port)

    def start(self, timeout=15.0, extra_args=()):
        self.process = self.network.hub_popen(
            [control_binary(), "--config-dir", self.config_dir, "--listen", self.address,
             "--log-level", "info", *self._ca_args(), *extra_args], log_path=self.stderr_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise harness.ProxyError("skiff-control exited: %s" % self.stderr())
            if self.skiffctl("status", check=False).returncode == 0:
                return self
            time.sleep(0.1)
        raise harness.ProxyError("skiff-control not serving: %s" % self.stderr())

    def skiffctl(self, *args, check=True):
        result = subprocess.run(self.network.hub_command(
            [skiffctl_binary(), "--control-plane", self.address, *args]),
            capture_output=True, timeout=20)
        if check and result.returncode != 0:
            raise AssertionError("skiffctl %s: %s" % (args, result.stderr))
        return result


def mesh_config(pods):
    def workload(name, port, mtls=None):
        w = {"name": name, "service": name, "version": "v1", "app_port": port,
             "instances": [{"node": name + "-0", "address": pods[name].ip}]}
        if mtls:
            w["mtls"] = mtls
        return w

    only_client = [{"action": "ALLOW", "principals": [spiffe("client")]}]
    # `ports` names the application's port: the callers' proxies dial the inbound port, so
    # this checks that the translation covers it too.
    web_rules = [{"action": "ALLOW", "principals": [spiffe("client")], "ports": [WEB_PORT]}]
    return {
        "settings": {"trust_domain": TRUST_DOMAIN, "mtls": "STRICT"},
        "services": [
            {"name": "client", "port": 8081},
            {"name": "intruder", "port": 8082},
            {"name": "web", "port": WEB_PORT},
            {"name": "db", "port": DB_PORT, "protocol": "TCP"},
            {"name": "open", "port": OPEN_PORT},
        ],
        "workloads": [
            workload("client", 8081),
            workload("intruder", 8082),
            workload("web", WEB_PORT),
            workload("db", DB_PORT),
            workload("open", OPEN_PORT, mtls="PERMISSIVE"),
        ],
        "authorization_policies": [
            {"service": "web", "rules": web_rules, "default_action": "DENY"},
            {"service": "db", "rules": only_client, "default_action": "DENY"},
        ],
    }


class Sidecar:
    def __init__(self, pod, process, log):
        self.pod, self.process, self.log = pod, process, log

    def admin(self, method, path):
        args = ["curl", "-sS", "-m", "5", "-X", method, "-o", "-", "-w", "\n%{http_code}",
                "http://127.0.0.1:15000" + path]
        result = self.pod.run(args, check=False, timeout=10)
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body

    def stats(self):
        status, body = self.admin("GET", "/stats/prometheus")
        assert status == 200, body
        return body


def start_sidecar(network, control, pod, workload):
    token = control.token_file(workload)
    os.chmod(token, 0o644)
    log = os.path.join(network.workdir, "%s-sidecar.log" % pod.name)
    process = pod.popen([harness.proxy_binary(), "--node-id", workload + "-0", "--workload",
                         workload, "--control-plane", control.address, "--token-file", token,
                         "--admin-address", "127.0.0.1:15000", "--concurrency", "1",
                         "--log-level", "info"], uid=PROXY_UID, log_path=log)
    sidecar = Sidecar(pod, process, log)
    pod.run(["/usr/bin/python3", IPTABLES_TOOL, "install", "--proxy-uid", str(PROXY_UID)])
    return sidecar


def wait_ready(sidecar, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if sidecar.process.poll() is not None:
            break
        last = sidecar.admin("GET", "/ready")
        if last[0] == 200:
            return
        time.sleep(0.1)
    raise AssertionError("sidecar in %s not ready (%r):\n%s" % (
        sidecar.pod.name, last, harness.read_log(sidecar.log)[-4000:]))


@pytest.fixture(scope="module")
def mesh():
    for binary in (harness.proxy_binary(), control_binary(), skiffctl_binary()):
        if not os.access(binary, os.X_OK):
            pytest.skip("%s not built" % binary)
    for tool in ("curl", "tshark"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed" % tool)
    network = netns.Network().create()
    try:
        pods = {name: network.add_pod(name)
                for name in ("client", "web", "db", "open", "intruder", "outsider")}
        pods["web"].popen(netns.echo_http_app(WEB_PORT, "web"),
                          log_path=os.path.join(network.workdir, "web-app.log"))
        pods["db"].popen(netns.echo_tcp_app(DB_PORT),
                         log_path=os.path.join(network.workdir, "db-app.log"))
        pods["open"].popen(netns.echo_http_app(OPEN_PORT, "open"),
                           log_path=os.path.join(network.workdir, "open-app.log"))
        # Apps outside the mesh (no proxy), that mesh applications call too.
        pods["outsider"].popen(netns.echo_http_app(WEB_PORT, "outsider"))
        pods["outsider"].popen(netns.echo_tcp_app(DB_PORT))
        mesh_dir = MeshDir(os.path.join(network.workdir, "mesh"))
        mesh_dir.write("mesh.yaml", mesh_config(pods))
        control = HubControlPlane(network, mesh_dir.path).start()
        sidecars = {name: start_sidecar(network, control, pods[name], name)
                    for name in ("client", "web", "db", "open", "intruder")}
        for sidecar in sidecars.values():
            wait_ready(sidecar)
        pods["web"].wait_listening(WEB_PORT)
        pods["db"].wait_listening(DB_PORT)
        pods["open"].wait_listening(OPEN_PORT)
        pods["outsider"].wait_listening(WEB_PORT)
        pods["outsider"].wait_listening(DB_PORT)
        yield network, pods, sidecars, control
    finally:
        logs = ""
        for name in ("client", "web", "db", "open", "intruder"):
            path = os.path.join(network.workdir, "%s-sidecar.log" % name)
            if os.path.exists(path):
                logs += "----- %s -----\n%s\n" % (name, harness.read_log(path)[-3000:])
        network.teardown()
        print(logs)


def echo_headers(body):
    """The echo app's JSON: {header name (lower case): value}."""
    return {k.lower(): v for k, v in json.loads(body)["headers"]}


def tcp_exchange(pod, ip, port, payload):
    code = ("import socket\n"
            "s = socket.create_connection((%r, %d), timeout=5)\n"
            "s.sendall(%r.encode())\n"
            "s.shutdown(socket.SHUT_WR)\n"
            "data = b''\n"
            "try:\n"
            "    while True:\n"
            "        chunk = s.recv(65536)\n"
            "        if not chunk: break\n"
            "        data += chunk\n"
            "except OSError:\n"
            "    pass\n"
            "print(data.decode())\n" % (ip, port, payload))
    return pod.python(code, check=False)


def test_app_calls_other_pod_over_mutual_tls_and_callee_sees_caller_identity(mesh):
    network, pods, sidecars, control = mesh
    status, body = pods["client"].http_get("http://%s:%d/hello" % (pods["web"].ip, WEB_PORT))
    assert status == 200, body
    headers = echo_headers(body)
    xfcc = headers.get("x-forwarded-client-cert", "")
    assert "URI=" + spiffe("client") in xfcc, headers
    assert "By=" + spiffe("web") in xfcc, headers
    # Both sidecars saw it: the client's outbound and the web's inbound listener.
    assert "listener=\"outbound\"" in sidecars["client"].stats()
    assert "listener=\"inbound\"" in sidecars["web"].stats()


def test_tcp_service_is_reached_through_mutual_tls(mesh):
    network, pods, sidecars, control = mesh
    assert tcp_exchange(pods["client"], pods["db"].ip, DB_PORT, "select 1") == "select 1"


def test_no_plaintext_between_pods_on_the_wire(mesh):
    network, pods, sidecars, control = mesh
    capture = os.path.join(network.workdir, "client.pcap")
    stop = network.capture(pods["client"], capture)
    marker = "zero-code-secret-%d" % os.getpid()
    status, body = pods["client"].http_get("http://%s:%d/%s" % (pods["web"].ip, WEB_PORT, marker),
                                           headers=["x-marker: " + marker])
    tcp_reply = tcp_exchange(pods["client"], pods["db"].ip, DB_PORT, marker)
    stop()
    assert status == 200 and marker in body
    assert tcp_reply == marker
    assert len(network.tshark(capture, "tcp")) > 10, "the capture saw no traffic"
    http = network.tshark(capture, "http", http_ports=HTTP_PORTS)
    assert http == [], "plaintext HTTP between pods:\n" + "\n".join(http)
    tls = network.tshark(capture, "tls.handshake or tls.app_data")
    assert tls != [], "no TLS seen on the client's link"
    with open(capture, "rb") as f:
        assert marker.encode() not in f.read(), "the marker crossed the wire in clear"


def test_caller_not_allowed_by_policy_is_denied(mesh):
    network, pods, sidecars, control = mesh
    status, body = pods["intruder"].http_get("http://%s:%d/" % (pods["web"].ip, WEB_PORT))
    assert status == 403, body
    assert tcp_exchange(pods["intruder"], pods["db"].ip, DB_PORT, "select 1") == ""
    # The allowed caller still gets through after the denials.
    assert pods["client"].http_get("http://%s:%d/" % (pods["web"].ip, WEB_PORT))[0] == 200


def test_strict_refuses_plaintext_from_outside_the_mesh(mesh):
    network, pods, sidecars, control = mesh
    status, body = pods["outsider"].http_get("http://%s:%d/" % (pods["web"].ip, WEB_PORT))
    assert status == 0, (status, body)
    assert tcp_exchange(pods["outsider"], pods["db"].ip, DB_PORT, "select 1") == ""


def test_permissive_accepts_plaintext_and_mutual_tls(mesh):
    network, pods, sidecars, control = mesh
    capture = os.path.join(network.workdir, "outsider.pcap")
    stop = network.capture(pods["outsider"], capture)
    status, body = pods["outsider"].http_get("http://%s:%d/" % (pods["open"].ip, OPEN_PORT))
    stop()
    assert status == 200, body
    assert "x-forwarded-client-cert" not in echo_headers(body)
    # The same capture method does see plaintext HTTP when there is some (so the check in
    # test_no_plaintext_between_pods_on_the_wire can fail).
    assert network.tshark(capture, "http", http_ports=HTTP_PORTS) != []
    status, body = pods["client"].http_get("http://%s:%d/" % (pods["open"].ip, OPEN_PORT))
    assert status == 200, body
    assert "URI=" + spiffe("client") in echo_headers(body).get("x-forwarded-client-cert", "")


def test_tcp_to_a_destination_outside_the_mesh_passes_through(mesh):
    network, pods, sidecars, control = mesh
    before = sidecars["client"].stats()
    assert tcp_exchange(pods["client"], pods["outsider"].ip, DB_PORT, "hello") == "hello"
    # It was intercepted: the client's sidecar carried it through its passthrough cluster.
    assert metric(sidecars["client"].stats(), "skiff_upstream_connections_total",
                  cluster="passthrough") > metric(before, "skiff_upstream_connections_total",
                                                  cluster="passthrough")


def test_http_to_a_destination_outside_the_mesh_passes_through(mesh):
    network, pods, sidecars, control = mesh
    args = ["curl", "-sS", "-m", "5", "-D", "-", "http://%s:%d/external" % (pods["outsider"].ip,
                                                                         WEB_PORT)]
    before = sidecars["client"].stats()
    out = pods["client"].run(args, check=False).stdout
    # The outbound routes' catch-all sends it to the passthrough (ORIGINAL_DST) cluster.
    assert out.startswith("HTTP/1.1 200"), out
    assert '"server": "outsider"' in out
    assert metric(sidecars["client"].stats(), "skiff_upstream_requests_total",
                  cluster="passthrough") > metric(before, "skiff_upstream_requests_total",
                                                  cluster="passthrough")


def metric(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all('%s="%s"' % (k, v) in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


LOAD_LOOP = """
import http.client, socket, sys, time
web, web_port, db, db_port, seconds = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                       int(sys.argv[4]), float(sys.argv[5]))
ok = failed = 0
errors = []
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        # HTTP to web (the sidecars pool their mTLS connection), then TCP to db: every TCP
        # connection is a new mTLS handshake between the sidecars, with whatever certificate
        # each one holds at that moment.
        c = http.client.HTTPConnection(web, web_port, timeout=5)
        c.request("GET", "/load")
        r = c.getresponse()
        r.read()
        c.close()
        s = socket.create_connection((db, db_port), timeout=5)
        s.sendall(b"ping")
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            chunk = s.recv(100)
            if not chunk:
                break
            reply += chunk
        s.close()
        if r.status == 200 and reply == b"ping":
            ok += 1
        else:
            failed += 1
            errors.append((r.status, reply))
    except Exception as e:
        failed += 1
        errors.append(repr(e))
print(ok, failed, errors[:5])
"""


def test_certificate_rotation_under_load_fails_no_request(mesh):
    network, pods, sidecars, control = mesh
    names = ("client", "web", "db")
    before = {name: sidecars[name].admin("GET", "/certificates")[1] for name in names}
    db_before = sidecars["db"].stats()
    load = subprocess.Popen(pods["client"].command(
        ["/usr/bin/python3", "-c", LOAD_LOOP, pods["web"].ip, str(WEB_PORT), pods["db"].ip,
         str(DB_PORT), "4"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    for _ in range(2):
        for name in ("web", "db", "client"):
            status, body = sidecars[name].admin("POST", "/rotate_certificate")
            assert status in (200, 202), body  # 202: renewal started
        time.sleep(0.8)
    out, err = load.communicate(timeout=30)
    print("rotation under load: ok, failed, first errors =", out.strip())
    ok, failed, errors = out.split(" ", 2)
    assert int(failed) == 0, "failed requests during rotation: %s %s" % (errors, err)
    assert int(ok) > 20, out
    db_after = sidecars["db"].stats()

    def handshakes(text, result):
        return metric(text, "skiff_tls_handshakes_total", side="downstream", result=result)
    new_handshakes = handshakes(db_after, "success") - handshakes(db_before, "success")
    print("db inbound mTLS handshakes during the load: %d ok, %d failed" % (
        new_handshakes, handshakes(db_after, "failure") - handshakes(db_before, "failure")))
    assert new_handshakes >= int(ok)  # one per TCP connection, across the rotations
    assert handshakes(db_after, "failure") == handshakes(db_before, "failure")
    after = {name: sidecars[name].admin("GET", "/certificates")[1] for name in names}
    for name in names:
        assert after[name] != before[name], "%s's certificate did not change" % name
