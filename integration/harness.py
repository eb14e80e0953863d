"""Process and protocol helpers for the integration tests: the skiff-proxy process, config
builders, a raw HTTP/1.1 client for malformed input, Prometheus text parsing, /proc readers."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tools", "lib"))
import ports  # noqa: E402


def proxy_binary():
    path = os.environ.get("SKIFF_PROXY", "build/bin/skiff-proxy")
    if not os.path.isabs(path):
        path = os.path.join(REPO_ROOT, path)
    return path


def free_port():
    """A port that is free now and outside the kernel's ephemeral range (tools/lib/ports.py).
    Only for addresses that must be known in advance: listeners under test use port 0."""
    return ports.free_port()


def closed_port():
    """A port with nothing listening on it (connect gets ECONNREFUSED)."""
    return free_port()


# ---------------------------------------------------------------------------------------------
# Config builders. The YAML keys are the proto field names of skiff.config.v1.Bootstrap.

def addr(port, host="127.0.0.1"):
    return {"address": host, "port": port}


def cluster(name, ports, lb_policy=None, weights=None, **extra):
    endpoints = []
    for i, port in enumerate(ports):
        endpoint = {"address": addr(port)}
        if weights:
            endpoint["weight"] = weights[i]
        endpoints.append(endpoint)
    result = {"name": name, "type": "STATIC", "endpoints": endpoints}
    if lb_policy:
        result["lb_policy"] = lb_policy
    result.update(extra)
    return result


def route(cluster_name=None, prefix="/", **action):
    match = {"prefix": prefix}
    act = dict(action)
    if cluster_name is not None:
        act["cluster"] = cluster_name
    return {"match": match, "route": act}


def vhost(routes, domains=("*",), name="default", **extra):
    result = {"name": name, "domains": list(domains), "routes": routes}
    result.update(extra)
    return result


def http_listener(virtual_hosts, name="http", port=0, **extra):
    hcm = {"route_config": {"name": name + "_routes", "virtual_hosts": virtual_hosts}}
    hcm.update(extra)
    return {"name": name, "address": addr(port), "http": hcm}


def tcp_listener(cluster_name, name="tcp", port=0, **extra):
    tcp = {"cluster": cluster_name}
    tcp.update(extra)
    return {"name": name, "address": addr(port), "tcp_proxy": tcp}


def bootstrap(listeners, clusters, admin_port=None, drain_timeout="5s"):
    return {
        "admin": {"address": addr(admin_port if admin_port is not None else free_port())},
        "drain_timeout": drain_timeout,
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def simple_http_config(upstream_port, **listener_extra):
    """One HTTP listener routing everything to one cluster named "backend"."""
    return bootstrap([http_listener([vhost([route("backend")])], **listener_extra)],
                     [cluster("backend", [upstream_port])])


# ---------------------------------------------------------------------------------------------
# The proxy process.

class ProxyError(Exception):
    pass


class Proxy:
    def __init__(self, config, workdir, concurrency=1, extra_args=(), name="proxy", stdout=None):
        """`stdout`: where the process's stdout goes (a pipe, say); default with stderr."""
        self.config = config
        self.stdout = stdout
        self.workdir = workdir
        self.concurrency = concurrency
        self.extra_args = list(extra_args)
        self.name = name
        self.config_path = os.path.join(workdir, name + ".yaml")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.process = None
        self.admin_port = config["admin"]["address"]["port"]
        self._listeners = None

    # -- lifecycle --

    def start(self, timeout=15.0):
        binary = proxy_binary()
        if not os.access(binary, os.X_OK):
            raise ProxyError("skiff-proxy not found at %s (build it with tools/setup, or set "
                             "SKIFF_PROXY)" % binary)
        with open(self.config_path, "w") as f:
            yaml.safe_dump(self.config, f, sort_keys=False)
        args = [binary, "--config", self.config_path, "--log-level", "info"]
        if self.concurrency is not None:
            args += ["--concurrency", str(self.concurrency)]
        args += self.extra_args
        self._stderr_file = open(self.stderr_path, "wb")
        if self.stdout is None:
            self.process = subprocess.Popen(args, stdout=self._stderr_file,
                                            stderr=subprocess.STDOUT, cwd=self.workdir)
        else:
            self.process = subprocess.Popen(args, stdout=self.stdout, stderr=self._stderr_file,
                                            cwd=self.workdir)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProxyError("skiff-proxy exited with %s before it was ready:\n%s"
                                 % (self.process.returncode, self.stderr()))
            try:
                status, body = self.admin("GET", "/ready", timeout=1.0)
                if status == 200:
                    return
                last = "status %d %r" % (status, body)
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        raise ProxyError("skiff-proxy not ready after %.0fs (last: %s):\n%s"
                         % (timeout, last, self.stderr()))

    def signal(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL if it does not exit. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr_file.close()
        return self.process.returncode

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stderr(self):
        return read_log(self.stderr_path)

    @property
    def pid(self):
        return self.process.pid

    # -- admin --

    def admin(self, method, path, timeout=5.0, data=None):
        url = "http://127.0.0.1:%d%s" % (self.admin_port, path)
        req = urllib.request.Request(url, method=method, data=data)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def admin_json(self, path):
        status, body = self.admin("GET", path)
        assert status == 200, "GET %s -> %d %s" % (path, status, body)
        return json.loads(body)

    def listeners(self):
        if self._listeners is None:
            data = self.admin_json("/listeners")
            self._listeners = {l["name"]: l["address"] for l in data["listeners"]}
        return self._listeners

    def port(self, listener="http"):
        address = self.listeners()[listener]
        port = int(address.rsplit(":", 1)[1])
        assert port != 0, "listener %s reports port 0" % listener
        return port

    def url(self, path="/", listener="http"):
        return "http://127.0.0.1:%d%s" % (self.port(listener), path)

    def metrics_text(self):
        status, body = self.admin("GET", "/stats/prometheus")
        assert status == 200, body
        return body

    def metrics(self):
        return parse_prometheus(self.metrics_text())

    _MISSING = object()

    def metric(self, name, default=_MISSING, **labels):
        """Sum of every sample of `name` whose labels include `labels`. Without a default, a
        metric that is not exported fails the test with a readable message."""
        value = metric_value(self.metrics(), name, **labels)
        if value is None:
            if default is Proxy._MISSING:
                raise AssertionError("metric %s%s not found in /stats/prometheus"
                                     % (name, labels or ""))
            return default
        return value

    # -- memory --

    def rss_kb(self):
        return proc_status_kb(self.pid, "VmRSS")

    def hwm_kb(self):
        return proc_status_kb(self.pid, "VmHWM")

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)


def request_failed(request):
    """Whether the test of a fixture's `request` failed in setup or in its body (conftest keeps
    each phase's report on the test item)."""
    for when in ("setup", "call"):
        report = getattr(request.node, "rep_" + when, None)
        if report is not None and report.failed:
            return True
    return False


def read_log(path):
    """A process's captured output as text ("" before it wrote any)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


def sanitizer_report(text):
    """The first sanitizer report in a proxy's output, or None."""
    for marker in SANITIZER_MARKERS:
        index = text.find(marker)
        if index >= 0:
            return text[max(0, index - 200):index + 4000]
    return None


def proc_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Prometheus text format.

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Returns {(name, frozenset(labels.items())): value}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        if not m:
            raise ValueError("unparsable metrics line: %r" % line)
        labels = frozenset(_LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def metric_value(samples, name, **labels):
    wanted = set(labels.items())
    total = 0.0
    found = False
    for (sample_name, sample_labels), value in samples.items():
        if sample_name == name and wanted <= set(sample_labels):
            total += value
            found = True
    return total if found else None


# ---------------------------------------------------------------------------------------------
# A raw HTTP/1.1 client, for requests curl refuses to send and for watching the connection.

class RawResponse:
    def __init__(self, status, reason, version, headers, body):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # list of (name, value), names lower-cased
        self.body = body

    def header(self, name, default=None):
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "RawResponse(%d %s, %r, %r)" % (self.status, self.reason, self.headers,
                                              self.body[:200])


class RawConnection:
    def __init__(self, port, host="127.0.0.1", timeout=5.0, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            # Set before connect so the window is small from the handshake on.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buffer = bytearray()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise EOFError("connection closed")
        self.buffer += data

    def read_until(self, marker):
        start = 0
        while True:
            index = self.buffer.find(marker, start)
            if index >= 0:
                break
            start = max(0, len(self.buffer) - len(marker) + 1)
            self._fill()
        index += len(marker)
        out = bytes(self.buffer[:index])
        del self.buffer[:index]
        return out

    def read_exact(self, n):
        while len(self.buffer) < n:
            self._fill()
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def read_response(self, head_request=False):
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            if line:
                key, value = line.split(":", 1)
                headers.append((key.strip().lower(), value.strip()))
        response = RawResponse(int(status), reason[0] if reason else "", version, headers, b"")
        status = int(status)
        if head_request or status in (204, 304) or 100 <= status < 200:
            return response
        te = response.header("transfer-encoding")
        cl = response.header("content-length")
        if te and "chunked" in te.lower():
            body = []
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body.append(self.read_exact(size))
                self.read_exact(2)
            response.body = b"".join(body)
        elif cl is not None:
            response.body = self.read_exact(int(cl))
        else:
            # Delimited by close.
            chunks = [bytes(self.buffer)]
            self.buffer = bytearray()
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
            response.body = b"".join(chunks)
        return response

    def is_closed(self, timeout=2.0):
        """True when the peer closes (FIN or RST) within `timeout` and sent nothing more."""
        if self.buffer:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        if data:
            self.buffer += data
            return False
        return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_request(port, data, timeout=5.0):
    with RawConnection(port, timeout=timeout) as conn:
        conn.send(data)
        return conn.read_response()


# ---------------------------------------------------------------------------------------------
# curl.

def curl(args, timeout=30.0, check=True):
    """Runs curl; returns CompletedProcess with text output."""
    cmd = ["curl", "-sS", "--max-time", str(int(timeout))] + list(args)
    result = subprocess.run(cmd, capture_output=True, timeout=timeout + 5)
    result.stdout_text = result.stdout.decode(errors="replace")
    result.stderr_text = result.stderr.decode(errors="replace")
    if check and result.returncode != 0:
        raise AssertionError("curl %s failed (%d): %s" % (" ".join(args), result.returncode,
                                                          result.stderr_text))
    return result


def curl_json(url, *args):
    """GET/POST with curl, returning (status, parsed JSON body or raw text, headers dict)."""
    result = curl(["-D", "-", *args, url])
    text = result.stdout_text
    # Skip interim 1xx heads.
    while True:
        head, _, rest = text.partition("\r\n\r\n")
        status = int(head.split(" ", 2)[1])
        if 100 <= status < 200:
            text = rest
            continue
        break
    headers = {}
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        headers.setdefault(key.strip().lower(), value.strip())
    try:
        body = json.loads(rest)
    except ValueError:
        body = rest
    return status, body, headers


def header_values(echo, name):
    """All values of request header `name` as seen by the echo upstream."""
    name = name.lower()
    return [v for k, v in echo["headers"] if k.lower() == name]


# ---------------------------------------------------------------------------------------------
# HTTP/2: config helpers, curl with prior knowledge, and a raw frame reader/writer for input no
# well-behaved client sends (floods, resets, oversized header blocks).

def h2_cluster(name, ports, **extra):
    """A cluster the proxy speaks h2c (prior knowledge) to."""
    return cluster(name, ports, protocol="HTTP2", **extra)


def curl_h2(args, timeout=30.0, check=True):
    return curl(["--http2-prior-knowledge"] + list(args), timeout=timeout, check=check)


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_PRIORITY, H2_RST_STREAM, H2_SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
H2_PUSH_PROMISE, H2_PING, H2_GOAWAY, H2_WINDOW_UPDATE, H2_CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
H2_END_STREAM, H2_ACK, H2_END_HEADERS = 0x1, 0x1, 0x4
H2_NO_ERROR, H2_PROTOCOL_ERROR, H2_REFUSED_STREAM, H2_CANCEL = 0x0, 0x1, 0x7, 0x8
H2_ENHANCE_YOUR_CALM = 0xb
H2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_SETTINGS_INITIAL_WINDOW_SIZE = 0x3, 0x4


def h2_frame(frame_type, flags, stream_id, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([frame_type, flags])
            + (stream_id & 0x7FFFFFFF).to_bytes(4, "big") + payload)


def h2_settings(settings=None, ack=False):
    payload = b"".join(k.to_bytes(2, "big") + v.to_bytes(4, "big")
                       for k, v in (settings or {}).items())
    return h2_frame(H2_SETTINGS, H2_ACK if ack else 0, 0, payload)


def h2_rst_stream(stream_id, code=H2_CANCEL):
    return h2_frame(H2_RST_STREAM, 0, stream_id, code.to_bytes(4, "big"))


def h2_ping(data=b"\0" * 8, ack=False):
    return h2_frame(H2_PING, H2_ACK if ack else 0, 0, data)


def hpack_literal(name_index, value):
    """Literal header field without indexing, name from the static table, raw (non-Huffman)
    value shorter than 127 bytes."""
    value = value.encode() if isinstance(value, str) else value
    assert name_index < 15 and len(value) < 127
    return bytes([name_index, len(value)]) + value


def hpack_get_block(path="/", authority="x"):
    """A static-table-only HPACK block: :method GET, :scheme http, :path, :authority."""
    block = b"\x82\x86"  # :method GET, :scheme http
    block += b"\x84" if path == "/" else hpack_literal(4, path)
    block += hpack_literal(1, authority)
    return block


def h2_get_headers(stream_id, path="/", end_stream=True, end_headers=True):
    flags = (H2_END_STREAM if end_stream else 0) | (H2_END_HEADERS if end_headers else 0)
    return h2_frame(H2_HEADERS, flags, stream_id, hpack_get_block(path))


class RawH2Connection(RawConnection):
    """A socket speaking raw HTTP/2 frames (prior knowledge). read_frame() returns
    (type, flags, stream_id, payload)."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, rcvbuf=None, sndbuf=None,
                 settings=None, preface=True):
        super().__init__(port, host, timeout, rcvbuf)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.frames = []  # every frame read so far
        self.auto_ack = True  # acknowledge the peer's SETTINGS as they are read
        if preface:
            self.send(H2_PREFACE + h2_settings(settings))

    def read_frame(self):
        head = self.read_exact(9)
        length = int.from_bytes(head[:3], "big")
        frame = (head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF,
                 self.read_exact(length))
        self.frames.append(frame)
        return frame

    def read_frames_until(self, predicate, timeout=5.0):
        """Reads frames until predicate(frame) is true (returns that frame), or the connection
        closes (returns None), or the timeout passes (raises socket.timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no matching HTTP/2 frame in %.1fs" % timeout)
            self.sock.settimeout(remaining)
            try:
                frame = self.read_frame()
            except (EOFError, ConnectionResetError):
                return None
            if frame[0] == H2_SETTINGS and not frame[1] & H2_ACK and self.auto_ack:
                try:
                    self.send(h2_settings(ack=True))
                except OSError:
                    pass
            if predicate(frame):
                return frame

    def goaway(self):
        """(last_stream_id, error_code) of the first GOAWAY read so far, or None."""
        for frame_type, _, _, payload in self.frames:
            if frame_type == H2_GOAWAY:
                return (int.from_bytes(payload[:4], "big") & 0x7FFFFFFF,
                        int.from_bytes(payload[4:8], "big"))
        return None
