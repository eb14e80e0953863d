"""Mesh security over the discovery stream, end to end: skiff-control is the config source and
the certificate authority; three sidecars get their identities from it and their TLS modes and
authorization policies from the mesh files.

    client -> frontend's or stranger's outbound listener -> mutual TLS -> backend's inbound
    listener (STRICT; policy: only the frontend) -> backend application

The backend application sees the caller's identity in x-forwarded-client-cert."""

import http.client
import json
import socket

import pytest

import harness
from mesh_harness import ControlPlane, MeshDir, sidecar_bootstrap, stop_control_plane, wait_for

TRUST_DOMAIN = "mesh.test"
NODES = {"frontend-0": "frontend", "stranger-0": "stranger", "backend-0": "backend"}


def spiffe(account):
    return "spiffe://%s/ns/default/sa/%s" % (TRUST_DOMAIN, account)


def backend_policy(*accounts):
    return {"authorization_policies": [{
        "service": "backend",
        "default_action": "DENY",
        "rules": [{"principals": [spiffe(a) for a in accounts], "methods": ["GET"]}],
    }]}


class SecureMesh:
    def __init__(self, tmp_path, upstream_factory, proxy_factory):
        self.tmp_path = tmp_path
        self.dir = MeshDir(str(tmp_path / "mesh"))
        self.proxy_factory = proxy_factory
        self.apps = {w: upstream_factory(w) for w in NODES.values()}
        self.ports = {node: {"inbound": harness.free_port(), "outbound": harness.free_port()}
                      for node in NODES}
        self.dir.write("settings.yaml", {"settings": {"trust_domain": TRUST_DOMAIN,
                                                      "mtls": "STRICT"}})
        self.dir.write("services.yaml", {"services": [
            {"name": name, "port": 8080} for name in ("frontend", "stranger", "backend")]})
        self.dir.write("workloads.yaml", {"workloads": [
            self._workload(node, workload) for node, workload in NODES.items()]})
        self.dir.write("authorization.yaml", backend_policy("frontend"))
        self.control = None

    def _workload(self, node, name):
        return {"name": name, "service": name, "version": "v1",
                "app_port": self.apps[name].port,
                "instances": [{"node": node, "address": "127.0.0.1",
                               "inbound_port": self.ports[node]["inbound"],
                               "outbound_port": self.ports[node]["outbound"]}]}

    def start(self):
        self.control = ControlPlane(self.dir.path, str(self.tmp_path)).start()
        self.proxies = {node: self.proxy_factory(
            sidecar_bootstrap(node, workload, self.control.address))
            for node, workload in NODES.items()}
        return self

    def call(self, node, method="GET"):
        """(status, x-forwarded-client-cert the backend saw or None, body) for a request from
        `node`'s application to the backend."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[node]["outbound"], timeout=5)
        try:
            conn.request(method, "/hello", headers={"Host": "backend"})
            response = conn.getresponse()
            body = response.read().decode(errors="replace")
        finally:
            conn.close()
        xfcc = None
        if response.status == 200:
            for key, value in json.loads(body)["headers"]:
                if key.lower() == "x-forwarded-client-cert":
                    xfcc = value
        return response.status, xfcc, body


@pytest.fixture
def mesh(tmp_path, http_upstream_factory, proxy_factory, request):
    m = SecureMesh(tmp_path, http_upstream_factory, proxy_factory)
    yield m
    stop_control_plane(m.control, request)


def test_policy_identity_header_and_strict_mode(mesh):
    mesh.start()
    # The frontend is allowed, over mutual TLS, and the backend application learns who called.
    status, xfcc, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        mesh.call("frontend-0")), timeout=15, what="frontend -> backend 200")
    assert xfcc == "By=%s;URI=%s" % (spiffe("backend"), spiffe("frontend"))
    # Same mesh, another identity: denied by the backend's sidecar.
    status, _, body = mesh.call("stranger-0")
    assert status == 403, body
    assert body == "RBAC: access denied\n"
    # A method the rule does not name falls to the default (DENY).
    assert mesh.call("frontend-0", method="DELETE")[0] == 403
    backend = mesh.proxies["backend-0"]
    assert backend.metric("skiff_authz_denied_total", listener="inbound") == 2
    assert backend.metric("skiff_authz_allowed_total", listener="inbound") >= 1
    # STRICT: a plaintext client from outside the mesh is refused by the backend's sidecar.
    with socket.create_connection(("127.0.0.1", mesh.ports["backend-0"]["inbound"]),
                                  timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n")
        try:
            reply = sock.recv(100)
        except ConnectionResetError:
            reply = b""
    assert not reply.startswith(b"HTTP/"), reply


def test_policy_change_is_live(mesh):
    mesh.start()
    wait_for(lambda: mesh.call("frontend-0")[0] == 200, timeout=15, what="frontend allowed")
    assert mesh.call("stranger-0")[0] == 403
    mesh.dir.write("authorization.yaml", backend_policy("frontend", "stranger"))
    status, xfcc, _ = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        mesh.call("stranger-0")), timeout=10, what="stranger allowed after the change")
    assert xfcc.endswith("URI=" + spiffe("stranger"))
    # Removing the policy falls back to the mesh default (ALLOW): anyone, any method.
    mesh.dir.remove("authorization.yaml")
    wait_for(lambda: mesh.call("stranger-0", method="DELETE")[0] == 200, timeout=10,
             what="no policy: allowed")
