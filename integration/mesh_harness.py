"""The control plane side of the integration tests: a mesh directory written from Python
dicts, the real skiff-control process, skiffctl, and sidecar bootstraps that point proxies at
it. Proxies themselves are harness.Proxy."""

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time

import pytest
import yaml

import harness


def build_binary(name, env_var):
    path = os.environ.get(env_var)
    if not path:
        # The sanitizer run points SKIFF_PROXY at its build; take the other binaries from the
        # same build directory.
        path = os.path.join(os.path.dirname(harness.proxy_binary()), name)
    if not os.path.isabs(path):
        path = os.path.join(harness.REPO_ROOT, path)
    return path


def control_binary():
    return build_binary("skiff-control", "SKIFF_CONTROL")


def skiffctl_binary():
    return build_binary("skiffctl", "SKIFF_SKIFFCTL")


class MeshDir:
    """A --config-dir: one YAML file per key of `files`, rewritten atomically (write + rename,
    the way editors and ConfigMap updates replace files)."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)

    def write(self, filename, content):
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        tmp = os.path.join(self.path, "." + filename + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.path, filename))

    def remove(self, filename):
        os.unlink(os.path.join(self.path, filename))


# Control planes by address, so sidecar_bootstrap() can give a sidecar of a CA-enabled control
# plane its workload token without every test passing it along.
_CONTROL_PLANES = {}


class ControlPlane:
    """skiff-control on `config_dir`. With ca=True (the default) it is also the mesh's
    certificate authority: a development CA in WORKDIR/NAME-ca (generated on first start, kept
    across restarts of the same name) and workload tokens in WORKDIR/NAME-tokens, which
    token_file() fills."""

    def __init__(self, config_dir, workdir, port=None, name="control", ca=True):
        self.config_dir = config_dir
        self.workdir = workdir
        self.port = port or harness.free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.ca_dir = os.path.join(workdir, name + "-ca") if ca else None
        self.token_dir = os.path.join(workdir, name + "-tokens") if ca else None
        self.process = None
        self._stderr_file = None
        _CONTROL_PLANES[self.address] = self

    @property
    def ca_cert(self):
        """The development root's PEM file (exists once the control plane has started)."""
        return os.path.join(self.ca_dir, "ca.pem")

    def token_file(self, workload, token=None):
        """The path of a file holding `workload`'s token, for the proxy's --token-file. The
        control plane's copy is created (random) on first use, or set to `token`."""
        os.makedirs(self.token_dir, exist_ok=True)
        server_copy = os.path.join(self.token_dir, workload)
        if token is not None or not os.path.exists(server_copy):
            with open(server_copy, "w") as f:
                f.write((token or secrets.token_hex(16)) + "\n")
        with open(server_copy) as f:
            current = f.read().strip()
        proxy_dir = os.path.join(self.workdir, "proxy-tokens")
        os.makedirs(proxy_dir, exist_ok=True)
        path = os.path.join(proxy_dir, workload + ".token")
        with open(path, "w") as f:
            f.write(current + "\n")
        return path

    def start(self, timeout=15.0, extra_args=()):
        binary = control_binary()
        if not os.access(binary, os.X_OK):
            raise harness.ProxyError("skiff-control not found at %s" % binary)
        self._stderr_file = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [binary, "--config-dir", self.config_dir, "--listen", self.address,
             "--log-level", "info", *self._ca_args(), *extra_args],
            stdout=self._stderr_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise harness.ProxyError("skiff-control exited with %s:\n%s"
                                         % (self.process.returncode, self.stderr()))
            if self.skiffctl("status", check=False).returncode == 0:
                return self
            time.sleep(0.05)
        raise harness.ProxyError("skiff-control not serving after %.0fs:\n%s"
                                 % (timeout, self.stderr()))

    def _ca_args(self):
        if self.ca_dir is None:
            return []
        os.makedirs(self.token_dir, exist_ok=True)
        return ["--ca-dir", self.ca_dir, "--token-dir", self.token_dir]

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def stderr(self):
        return harness.read_log(self.stderr_path)

    def skiffctl(self, *args, check=True):
        result = subprocess.run([skiffctl_binary(), "--control-plane", self.address, *args],
                                capture_output=True, timeout=20)
        if check and result.returncode != 0:
            raise AssertionError("skiffctl %s -> %d\n%s%s" % (
                " ".join(args), result.returncode, result.stdout.decode(errors="replace"),
                result.stderr.decode(errors="replace")))
        return result

    def status(self):
        """skiffctl status --output json, parsed (the proto JSON mapping of
        ListProxiesResponse)."""
        return _camel_keys(json.loads(self.skiffctl("status", "--output", "json").stdout))

    def proxy_status(self, node_id):
        for proxy in self.status().get("proxies", []):
            if proxy.get("node", {}).get("id") == node_id:
                return proxy
        return None


def stop_control_plane(control, request):
    """Fixture teardown: stops `control`; shows its log when the test failed, and fails the test
    on a sanitizer report in it."""
    if control is None:
        return
    control.stop()
    if harness.request_failed(request):
        sys.stderr.write("\n----- skiff-control -----\n%s\n" % control.stderr()[-20000:])
    report = harness.sanitizer_report(control.stderr())
    if report:
        pytest.fail("sanitizer report from skiff-control:\n" + report, pytrace=False)


class FrontendBackendMesh:
    """Two HTTP services, frontend and backend, one instance each (nodes frontend-0 and
    backend-0), their applications echo servers and their sidecars on free ports. `start()` runs
    skiff-control on the mesh directory and both sidecars; the test writes its policy or
    settings file into `dir` first."""

    NODES = {"frontend-0": "frontend", "backend-0": "backend"}

    def __init__(self, tmp_path, upstream_factory, proxy_factory):
        self.tmp_path = tmp_path
        self.dir = MeshDir(str(tmp_path / "mesh"))
        self.proxy_factory = proxy_factory
        self.apps = {name: upstream_factory(name) for name in self.NODES.values()}
        self.ports = {node: {"inbound": harness.free_port(), "outbound": harness.free_port()}
                      for node in self.NODES}
        self.dir.write("services.yaml", {"services": [
            {"name": "frontend", "port": 8080}, {"name": "backend", "port": 8080}]})
        self.dir.write("workloads.yaml", {"workloads": [
            {"name": name, "service": name, "version": "v1", "app_port": self.apps[name].port,
             "instances": [{"node": node, "address": "127.0.0.1",
                            "inbound_port": self.ports[node]["inbound"],
                            "outbound_port": self.ports[node]["outbound"]}]}
            for node, name in self.NODES.items()]})
        self.control = None
        self.proxies = {}

    def start(self):
        self.control = ControlPlane(self.dir.path, str(self.tmp_path)).start()
        self.proxies = {node: self.proxy_factory(sidecar_bootstrap(node, name,
                                                                   self.control.address))
                        for node, name in self.NODES.items()}
        return self

    def request(self, path="/", headers=None):
        """GET `path` from the frontend's application to the backend service (through the
        frontend's outbound sidecar and the backend's inbound one): (response, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["frontend-0"]["outbound"],
                                          timeout=5)
        try:
            conn.request("GET", path, headers=dict(headers or {}, Host="backend"))
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


def _camel_keys(value):
    """The proto JSON mapping prints lowerCamelCase by default and snake_case with
    preserve_proto_field_names; the tests read camelCase either way."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): _camel_keys(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


_AUTO = object()


def sidecar_bootstrap(node_id, workload, control_plane_address, api_type=None, token_file=_AUTO):
    """A proxy with no static resources: everything comes over the discovery stream. Its
    identity comes from the control plane's CA when that control plane has one (ControlPlane
    with ca=True; token_file=None leaves the identity out, a path uses that file)."""
    if token_file is _AUTO:
        control = _CONTROL_PLANES.get(control_plane_address)
        token_file = control.token_file(workload) if control and control.ca_dir else None
    config = {
        "admin": {"address": harness.addr(harness.free_port())},
        "drain_timeout": "2s",
        "node": {"id": node_id, "workload": workload},
        "dynamic_resources": {
            "ads_address": control_plane_address,
            "reconnect_base_interval": "0.05s",
            "reconnect_max_interval": "0.5s",
        },
    }
    if api_type:
        config["dynamic_resources"]["api_type"] = api_type
    if token_file:
        config["identity"] = {"certificate_authority": {"token_file": token_file}}
    return config


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, AssertionError, ValueError, KeyError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))
