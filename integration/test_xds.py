"""The control plane and the discovery stream, end to end: real skiff-control, real
skiff-proxy sidecars (frontend, backend v1, backend v2), real upstream applications, skiffctl.

Request path under test: client -> frontend's outbound listener (Host: backend) -> one of the
backend sidecars' inbound listeners (chosen by the traffic split) -> the backend application,
which names itself in X-Upstream-Name."""

import http.client
import os
import re
import shutil
import subprocess
import time
from collections import Counter

import pytest

import harness
from mesh_harness import ControlPlane, MeshDir, sidecar_bootstrap, stop_control_plane, wait_for

pytestmark = pytest.mark.skipif(
    not os.access(harness.proxy_binary(), os.X_OK), reason="skiff-proxy not built")


class Mesh:
    """The demo's mesh shape on free ports: frontend (calls backend), backend v1 and v2."""

    def __init__(self, tmp_path, upstream_factory, proxy_factory):
        self.dir = MeshDir(str(tmp_path / "mesh"))
        self.tmp_path = tmp_path
        self.proxy_factory = proxy_factory
        self.apps = {name: upstream_factory(name)
                     for name in ("frontend", "backend-v1", "backend-v2")}
        self.ports = {node: {"inbound": harness.free_port(), "outbound": harness.free_port()}
                      for node in ("frontend-0", "backend-v1-0", "backend-v2-0")}
        self.dir.write("services.yaml", {"services": [
            {"name": "frontend", "port": 8080},
            {"name": "backend", "port": 8080},
        ]})
        self.dir.write("workloads.yaml", {"workloads": [
            self._workload("frontend", "frontend", "v1", "frontend-0", calls=["backend"]),
            self._workload("backend-v1", "backend", "v1", "backend-v1-0"),
            self._workload("backend-v2", "backend", "v2", "backend-v2-0"),
        ]})
        self.set_split(v1=100, v2=0)
        self.control = None
        self.proxies = {}

    def _workload(self, name, service, version, node, calls=()):
        workload = {
            "name": name, "service": service, "version": version,
            "app_port": self.apps[name].port,
            "instances": [{"node": node, "address": "127.0.0.1",
                           "inbound_port": self.ports[node]["inbound"],
                           "outbound_port": self.ports[node]["outbound"]}],
        }
        if calls:
            workload["calls"] = list(calls)
        return workload

    def set_split(self, v1, v2, routes=()):
        policy = {"service": "backend", "timeout": "5s",
                  "default_split": [{"version": "v1", "weight": v1},
                                    {"version": "v2", "weight": v2}]}
        if routes:
            policy["routes"] = list(routes)
        self.dir.write("policy.yaml", {"traffic_policies": [policy]})

    def start(self, api_type=None):
        self.control = ControlPlane(self.dir.path, str(self.tmp_path)).start()
        for node, workload in (("backend-v1-0", "backend-v1"), ("backend-v2-0", "backend-v2"),
                               ("frontend-0", "frontend")):
            self.proxies[node] = self.proxy_factory(
                sidecar_bootstrap(node, workload, self.control.address, api_type=api_type))
        return self

    @property
    def frontend_outbound(self):
        return self.ports["frontend-0"]["outbound"]

    def call(self, path="/", host="backend", connection=None):
        """One request through the frontend's outbound listener; returns (status, upstream
        name)."""
        own = connection is None
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.frontend_outbound,
                                                        timeout=5)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            response.read()
            return response.status, response.getheader("X-Upstream-Name")
        finally:
            if own:
                conn.close()

    def wait_served_by(self, name, timeout=10.0, path="/"):
        return wait_for(lambda: self.call(path) == (200, name), timeout=timeout,
                        what="requests served by %s" % name)


@pytest.fixture
def mesh(tmp_path, http_upstream_factory, proxy_factory, request):
    m = Mesh(tmp_path, http_upstream_factory, proxy_factory)
    yield m
    stop_control_plane(m.control, request)


def test_mesh_comes_up_and_routes_through_two_proxies(mesh):
    mesh.start()
    assert mesh.call() == (200, "backend-v1")
    # The backend sidecar's inbound listener took the request to its application.
    assert mesh.apps["backend-v1"].paths() and not mesh.apps["backend-v2"].paths()
    status = mesh.control.proxy_status("frontend-0")
    assert status is not None, mesh.control.status()
    assert status["streamType"] == "DELTA"
    # Every type ACKed at the mesh version.
    wait_for(lambda: mesh.control.proxy_status("frontend-0").get("syncedVersion"),
             what="frontend-0 synced")


def test_state_of_the_world_stream_works_too(mesh):
    mesh.start(api_type="STATE_OF_THE_WORLD")
    assert mesh.call() == (200, "backend-v1")
    assert mesh.control.proxy_status("frontend-0")["streamType"] == "STATE_OF_THE_WORLD"
    mesh.set_split(v1=0, v2=100)
    mesh.wait_served_by("backend-v2")


def test_file_change_puts_new_route_live(mesh):
    mesh.start()
    assert mesh.call("/api/items") == (200, "backend-v1")
    # A new route: /api goes to v2, the rest stays on v1.
    mesh.set_split(v1=100, v2=0, routes=[
        {"name": "api-to-v2", "match": {"prefix": "/api"},
         "split": [{"version": "v2", "weight": 1}]}])
    mesh.wait_served_by("backend-v2", path="/api/items")
    assert mesh.call("/other") == (200, "backend-v1")


def test_keep_alive_connection_sees_the_new_route(mesh):
    mesh.start()
    conn = http.client.HTTPConnection("127.0.0.1", mesh.frontend_outbound, timeout=5)
    assert mesh.call(connection=conn) == (200, "backend-v1")
    mesh.set_split(v1=0, v2=100)
    wait_for(lambda: mesh.call(connection=conn) == (200, "backend-v2"),
             what="the same connection served by v2")
    conn.close()


def test_traffic_split_80_20(mesh):
    mesh.start()
    mesh.set_split(v1=80, v2=20)
    mesh.wait_served_by("backend-v2", timeout=10)  # the split is live once v2 shows up
    conn = http.client.HTTPConnection("127.0.0.1", mesh.frontend_outbound, timeout=5)
    counts = Counter(mesh.call(connection=conn)[1] for _ in range(1000))
    conn.close()
    assert set(counts) == {"backend-v1", "backend-v2"}, counts
    share = counts["backend-v2"] / 1000
    assert 0.15 <= share <= 0.25, counts


def test_invalid_mesh_is_refused_with_its_path_and_old_state_keeps_serving(mesh):
    mesh.start()
    before = mesh.control.status()["meshVersion"]
    mesh.dir.write("policy.yaml", {"traffic_policies": [
        {"service": "backend", "default_split": [{"version": "v3", "weight": 100}]}]})
    error = wait_for(lambda: mesh.control.status().get("lastMeshError"),
                     what="the control plane to report the bad file")
    assert "policy.yaml" in error and "default_split[0].version" in error, error
    assert mesh.control.status()["meshVersion"] == before
    text = mesh.control.skiffctl("status").stdout.decode()
    assert "policy.yaml" in text, text
    assert mesh.call() == (200, "backend-v1")

    # Broken YAML syntax, then an unknown field: both refused with where the problem is.
    mesh.dir.write("policy.yaml", "traffic_policies: [ {service: backend\n")
    wait_for(lambda: "policy.yaml" in mesh.control.status().get("lastMeshError", "") and
             mesh.control.status()["lastMeshError"] != error, what="syntax error reported")
    mesh.dir.write("policy.yaml", {"traffic_policies": [{"service": "backend", "timout": "1s"}]})
    wait_for(lambda: "timout" in mesh.control.status().get("lastMeshError", ""),
             what="unknown field reported")
    assert mesh.call() == (200, "backend-v1")

    # Fixing the file clears the error and the fix goes live.
    mesh.set_split(v1=0, v2=100)
    mesh.wait_served_by("backend-v2")
    assert not mesh.control.status().get("lastMeshError")


def test_control_plane_refuses_to_start_on_an_invalid_mesh(tmp_path):
    d = MeshDir(str(tmp_path / "bad"))
    d.write("services.yaml", {"services": [{"name": "a", "port": 70000}]})
    control = ControlPlane(d.path, str(tmp_path))
    with pytest.raises(harness.ProxyError) as e:
        control.start(timeout=5)
    assert "services.yaml" in str(e.value) and "services[0].port" in str(e.value), str(e.value)


def test_resource_the_proxy_rejects_shows_as_nack_in_status(mesh):
    mesh.start()
    # The control plane cannot know that this port is taken on the frontend's machine: the
    # frontend proxy fails to bind the new outbound listener and NACKs.
    with __import__("socket").socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        workloads = {"workloads": [
            mesh._workload("frontend", "frontend", "v1", "frontend-0", calls=["backend"]),
            mesh._workload("backend-v1", "backend", "v1", "backend-v1-0"),
            mesh._workload("backend-v2", "backend", "v2", "backend-v2-0"),
        ]}
        workloads["workloads"][0]["instances"][0]["outbound_port"] = taken
        mesh.dir.write("workloads.yaml", workloads)

        def nacked():
            for t in mesh.control.proxy_status("frontend-0").get("types", []):
                if t.get("lastNackError"):
                    return t
            return None

        nack = wait_for(nacked, what="a NACK from frontend-0")
        assert "outbound" in nack["lastNackError"], nack
        assert str(taken) in nack["lastNackError"] or "in use" in nack["lastNackError"], nack
        text = mesh.control.skiffctl("status").stdout.decode()
        assert "NACK" in text.upper() and "frontend-0" in text, text
        # The proxy kept its last good config: the old outbound listener still serves.
        assert mesh.call() == (200, "backend-v1")
        assert mesh.proxies["frontend-0"].metric("skiff_xds_updates_total", result="nack") >= 1


def test_control_plane_away_traffic_flows_and_restart_resynchronises(mesh):
    mesh.start()
    assert mesh.call() == (200, "backend-v1")
    port = mesh.control.port
    mesh.control.kill()
    for _ in range(50):
        assert mesh.call() == (200, "backend-v1")
    wait_for(lambda: mesh.proxies["frontend-0"].metric("skiff_xds_connected") == 0,
             what="the proxy to notice the control plane is gone")
    # The desired state changes while the control plane is down...
    mesh.set_split(v1=0, v2=100)
    time.sleep(0.3)
    assert mesh.call() == (200, "backend-v1")
    # ...and a restarted control plane (same address) brings every proxy up to date.
    mesh.control = ControlPlane(mesh.dir.path, str(mesh.tmp_path), port=port).start()
    mesh.wait_served_by("backend-v2", timeout=15)
    wait_for(lambda: mesh.proxies["frontend-0"].metric("skiff_xds_connected") == 1,
             what="reconnected")


def test_fifty_changes_under_load_cost_no_request(mesh):
    if shutil.which("wrk") is None:
        pytest.skip("wrk not installed")
    mesh.start()
    wrk = subprocess.Popen(
        ["wrk", "-t1", "-c8", "-d12s", "-H", "Host: backend",
         "http://127.0.0.1:%d/" % mesh.frontend_outbound],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    for i in range(50):
        # Alternate splits and timeouts, so routes and (through the route table) clusters in
        # use change under open keep-alive connections.
        if i % 2:
            mesh.set_split(v1=100, v2=0)
        else:
            mesh.set_split(v1=30, v2=70)
        time.sleep(0.15)
    out, _ = wrk.communicate(timeout=60)
    text = out.decode(errors="replace")
    requests = re.search(r"(\d+) requests in", text)
    assert requests and int(requests.group(1)) > 1000, text
    assert "Non-2xx" not in text, text
    assert "Socket errors" not in text, text
    # Every change reached the proxy (its ACK count moved by far more than a few).
    acks = mesh.proxies["frontend-0"].metric("skiff_xds_updates_total", result="ack")
    assert acks >= 50, acks


def test_removed_workload_instance_drains_from_callers(mesh):
    mesh.start()
    mesh.set_split(v1=50, v2=50)
    mesh.wait_served_by("backend-v2")
    # backend-v2 leaves the mesh: its endpoints and its version disappear from the frontend.
    mesh.dir.write("workloads.yaml", {"workloads": [
        mesh._workload("frontend", "frontend", "v1", "frontend-0", calls=["backend"]),
        mesh._workload("backend-v1", "backend", "v1", "backend-v1-0"),
    ]})
    mesh.set_split(v1=100, v2=0)
    mesh.dir.write("policy.yaml", {"traffic_policies": [
        {"service": "backend", "default_split": [{"version": "v1", "weight": 100}]}]})
    wait_for(lambda: all(mesh.call() == (200, "backend-v1") for _ in range(20)),
             what="only v1 serving")


def test_help_documents_every_flag():
    control = subprocess.run([__import__("mesh_harness").control_binary(), "--help"],
                             capture_output=True, text=True)
    assert control.returncode == 0, control.stderr
    for flag in ("--config-dir", "--listen", "--debounce", "--log-level"):
        assert flag in control.stdout, (flag, control.stdout)
    ctl = subprocess.run([__import__("mesh_harness").skiffctl_binary(), "--help"],
                         capture_output=True, text=True)
    assert ctl.returncode == 0, ctl.stderr
    for word in ("status", "config-dump", "--control-plane", "--output"):
        assert word in ctl.stdout, (word, ctl.stdout)
    proxy = subprocess.run([harness.proxy_binary(), "--help"], capture_output=True, text=True)
    for flag in ("--node-id", "--workload", "--control-plane", "--admin-address", "--config"):
        assert flag in proxy.stdout, (flag, proxy.stdout)


def test_config_dump_shows_what_a_node_receives(mesh):
    mesh.start()
    out = mesh.control.skiffctl("config-dump", "frontend-0").stdout.decode()
    for name in ("outbound|backend|v1", "outbound|backend|v2", "inbound|frontend", '"outbound"'):
        assert name in out, (name, out[:3000])
    # The frontend does not call itself: no outbound cluster for frontend.
    assert "outbound|frontend" not in out
    # The proxy's own dump carries the dynamic resources and their versions.
    dump = mesh.proxies["frontend-0"].admin("GET", "/config_dump")[1]
    assert "outbound|backend|v1" in dump
