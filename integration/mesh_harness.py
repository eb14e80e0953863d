"""The control plane side of the integration tests: a mesh directory written from Python
dicts, the real skiff-control process, skiffctl, and sidecar bootstraps that point proxies at
it. Proxies themselves are harness.Proxy."""

import json
import os
import re
import signal
import subprocess
import time

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


class ControlPlane:
    def __init__(self, config_dir, workdir, port=None, name="control"):
        self.config_dir = config_dir
        self.port = port or harness.free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.process = None
        self._stderr_file = None

    def start(self, timeout=15.0, extra_args=()):
        binary = control_binary()
        if not os.access(binary, os.X_OK):
            raise harness.ProxyError("skiff-control not found at %s" % binary)
        self._stderr_file = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [binary, "--config-dir", self.config_dir, "--listen", self.address,
             "--log-level", "info", *extra_args],
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


def _camel_keys(value):
    """The proto JSON mapping prints lowerCamelCase by default and snake_case with
    preserve_proto_field_names; the tests read camelCase either way."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): _camel_keys(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def sidecar_bootstrap(node_id, workload, control_plane_address, api_type=None):
    """A proxy with no static resources: everything comes over the discovery stream."""
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
