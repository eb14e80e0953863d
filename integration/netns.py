"""Pods as Linux network namespaces, for tests of interception and the mesh that need iptables
rules and real addresses without touching the host's network.

    hub namespace:  bridge "br0" 10.77.K.1/24 (fd77:0:0:K::1/64)
    pod namespaces: "eth0" 10.77.K.N/24 (fd77:0:0:K::N/64), a veth whose other end is on br0

K is picked per run, names carry a per-run id, so parallel runs do not collide; nothing is
configured in the root namespace. Commands run inside a pod with `ip netns exec`, optionally as
another uid (setpriv), which is how a sidecar proxy runs as the uid its iptables rules exempt.
Everything (processes, namespaces, and with them the veths and rules) goes at teardown, also
when the test failed.

Needs root; `Network.create()` calls pytest.skip with the reason when it cannot work here.
"""

import os
import random
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

HUB_BRIDGE = "br0"
INTEGRATION_DIR = os.path.dirname(os.path.abspath(__file__))

# upstreams.EchoHTTPServer (answers with the request's headers as JSON) on a dual-stack socket,
# without the reverse DNS lookup HTTPServer.server_bind does (a pod has no resolver to ask).
_ECHO_HTTP = """
import socket, socketserver, sys
sys.path.insert(0, %r)
import upstreams
class Server(upstreams.EchoHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "pod", self.server_address[1]
Server("::", %d, %r).serve_forever(poll_interval=0.2)
"""

# A TCP echo app on a dual-stack socket: echoes until the client half-closes, then closes.
_ECHO_TCP = """
import socket, socketserver
class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)
class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
Server(("::", %d), Handler).serve_forever(poll_interval=0.2)
"""


def echo_http_app(port, name="app"):
    """argv of a plain HTTP app (no mesh code) that echoes request headers as JSON."""
    return ["/usr/bin/python3", "-c", _ECHO_HTTP % (INTEGRATION_DIR, port, name)]


def echo_tcp_app(port):
    """argv of a plain TCP echo app."""
    return ["/usr/bin/python3", "-c", _ECHO_TCP % port]


def _run(args, check=True, timeout=20, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError("%s -> %d: %s%s" % (shlex.join(args), result.returncode,
                                               result.stdout, result.stderr))
    return result


def skip_unless_possible():
    """pytest.skip with the reason when network namespaces cannot be made here."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    for tool in ("ip", "setpriv"):
        if _run(["which", tool], check=False).returncode != 0:
            pytest.skip("%s is not installed" % tool)
    probe = "skprobe%d" % os.getpid()
    result = _run(["ip", "netns", "add", probe], check=False)
    if result.returncode != 0:
        pytest.skip("ip netns add failed: %s" % result.stderr.strip())
    _run(["ip", "netns", "del", probe], check=False)


class Pod:
    """One network namespace with one interface on the hub's bridge."""

    def __init__(self, network, name, index):
        self.network = network
        self.name = name
        self.netns = "%s-%s" % (network.run_id, name)
        self.ip = "10.77.%d.%d" % (network.subnet, index)
        self.ip6 = "fd77:0:0:%x::%x" % (network.subnet, index)
        # The veth end on the bridge, in the hub namespace (names are at most 15 characters).
        self.hub_veth = "v%s%d" % (network.run_id[-8:], index)

    def command(self, args, uid=None):
        """The argv that runs `args` inside this pod, as `uid` (and the same gid) if given."""
        prefix = ["ip", "netns", "exec", self.netns]
        if uid is not None:
            prefix += ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups"]
        return prefix + list(args)

    def run(self, args, uid=None, check=True, timeout=20, **kwargs):
        return _run(self.command(args, uid), check=check, timeout=timeout, **kwargs)

    def popen(self, args, uid=None, log_path=None, **kwargs):
        """Starts a process in the pod; it is killed at teardown. Output goes to `log_path`."""
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        process = subprocess.Popen(self.command(args, uid), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, **kwargs)
        self.network.processes.append((process, log))
        return process

    def python(self, code, uid=None, check=True, timeout=30):
        """Runs a Python snippet in the pod and returns its stdout (stripped)."""
        result = self.run(["/usr/bin/python3", "-c", code], uid=uid, check=check,
                          timeout=timeout)
        return result.stdout.strip()

    def http_get(self, url, headers=(), timeout=5):
        """curl from inside the pod: (status, body). status 0 when the connection failed."""
        args = ["curl", "-sS", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}"]
        for header in headers:
            args += ["-H", header]
        result = self.run(args + [url], check=False, timeout=timeout + 5)
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body

    def wait_listening(self, port, timeout=10.0, host="127.0.0.1"):
        """Waits until something accepts TCP connections on host:port inside the pod."""
        code = ("import socket,sys\n"
                "s=socket.socket(socket.AF_INET6 if ':' in %r else socket.AF_INET)\n"
                "s.settimeout(0.5)\n"
                "sys.exit(s.connect_ex((%r,%d)))" % (host, host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(["/usr/bin/python3", "-c", code], check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError("nothing listening on %s:%d in pod %s" % (host, port, self.name))


class Network:
    """A hub namespace with a bridge, and pods attached to it."""

    def __init__(self):
        self.run_id = "sk%05x" % random.randrange(1 << 20)
        self.subnet = random.randrange(1, 250)
        self.hub = "%s-hub" % self.run_id
        self.gateway = "10.77.%d.1" % self.subnet
        self.gateway6 = "fd77:0:0:%x::1" % self.subnet
        self.pods = []
        self.processes = []
        self._namespaces = []
        # Files a sidecar running as another uid must read (pytest's tmp_path is 0700).
        self.workdir = tempfile.mkdtemp(prefix=self.run_id + "-")
        os.chmod(self.workdir, 0o755)

    def create(self):
        skip_unless_possible()
        self._add_namespace(self.hub)
        self.hub_run(["ip", "link", "add", HUB_BRIDGE, "type", "bridge"])
        self.hub_run(["ip", "addr", "add", self.gateway + "/24", "dev", HUB_BRIDGE])
        self.hub_run(["ip", "-6", "addr", "add", self.gateway6 + "/64", "dev", HUB_BRIDGE,
                      "nodad"], check=False)
        self.hub_run(["ip", "link", "set", HUB_BRIDGE, "up"])
        return self

    def _add_namespace(self, name):
        _run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        _run(["ip", "-n", name, "link", "set", "lo", "up"])

    def hub_command(self, args):
        return ["ip", "netns", "exec", self.hub] + list(args)

    def hub_run(self, args, check=True, timeout=20):
        return _run(self.hub_command(args), check=check, timeout=timeout)

    def hub_popen(self, args, log_path=None):
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        process = subprocess.Popen(self.hub_command(args), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append((process, log))
        return process

    def add_pod(self, name):
        pod = Pod(self, name, len(self.pods) + 2)
        self._add_namespace(pod.netns)
        peer = pod.hub_veth + "p"
        # Created in the pod, the peer moved to the hub: the root namespace never holds either.
        _run(["ip", "-n", pod.netns, "link", "add", "eth0", "type", "veth", "peer", "name", peer])
        _run(["ip", "-n", pod.netns, "link", "set", peer, "netns", self.hub])
        self.hub_run(["ip", "link", "set", peer, "name", pod.hub_veth])
        self.hub_run(["ip", "link", "set", pod.hub_veth, "master", HUB_BRIDGE])
        self.hub_run(["ip", "link", "set", pod.hub_veth, "up"])
        _run(["ip", "-n", pod.netns, "addr", "add", pod.ip + "/24", "dev", "eth0"])
        _run(["ip", "-n", pod.netns, "-6", "addr", "add", pod.ip6 + "/64", "dev", "eth0",
              "nodad"], check=False)
        _run(["ip", "-n", pod.netns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", pod.netns, "route", "add", "default", "via", self.gateway])
        self.pods.append(pod)
        return pod

    def capture(self, pod, path):
        """tshark on the pod's bridge port (in the hub), writing `path`. Returns a stop()
        function that ends the capture once it has flushed."""
        process = self.hub_popen(["tshark", "-q", "-i", pod.hub_veth, "-w", path],
                                 log_path=path + ".log")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(path + ".log", "rb") as f:
                if b"Capturing on" in f.read():
                    break
            if process.poll() is not None:
                raise RuntimeError("tshark exited: %s" % open(path + ".log").read())
            time.sleep(0.05)
        # "Capturing on" comes before packets are really taken (measured: about half the
        # captures started without this pause missed a request made right after).
        time.sleep(1.0)

        def stop():
            time.sleep(0.3)  # let the last packets reach the ring
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return stop

    def tshark(self, path, display_filter, http_ports=()):
        """The packets of a capture file matching `display_filter`, one line each. HTTP on
        `http_ports` is decoded as HTTP even where tshark would not guess it."""
        args = ["tshark", "-r", path, "-Y", display_filter]
        for port in http_ports:
            args += ["-d", "tcp.port==%d,http" % port]
        return [line for line in self.hub_run(args).stdout.splitlines() if line.strip()]

    def teardown(self):
        for process, log in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    process.wait()
            if log is not subprocess.DEVNULL:
                log.close()
        self.processes.clear()
        # Deleting a namespace deletes its interfaces (and the veth peers) and its iptables.
        for name in reversed(self._namespaces):
            _run(["ip", "netns", "del", name], check=False)
        self._namespaces.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)
