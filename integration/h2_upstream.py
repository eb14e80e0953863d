#!/usr/bin/python3
"""HTTP/2 (h2c, prior knowledge) test peers built on Debian's python3-h2 (sans-IO):

H2EchoServer   an HTTP/2 upstream that behaves like upstreams.EchoHTTPServer: every request
               gets JSON describing what it received (method, path, headers, body length and
               sha256, "protocol": "HTTP/2"), and the same query parameters change it:
                   sleep=SECONDS, status=CODE, size=N (pattern body), set_header=K:V,
                   read_delay_ms=MS (consume the request body slowly: the receive window
                   reopens only as the body is consumed), trailer=K:V (send trailers),
                   goaway=1 (send a graceful GOAWAY on this connection first: streams up to
                   this one are still answered, newer ones must go elsewhere)
               Streams are served concurrently (one thread per stream); it records
               connections, requests, concurrency and the streams the peer reset.
H2Client       a small blocking HTTP/2 client with flow control, for tests that need more than
               curl: several streams on one connection, GOAWAY, slow reading.

Run standalone:  /usr/bin/python3 integration/h2_upstream.py --port 18081
"""

import argparse
import hashlib
import json
import queue
import socket
import sys
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

import upstreams

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _text(value):
    return value.decode("latin-1") if isinstance(value, bytes) else value


class _Stream:
    def __init__(self, stream_id, headers):
        self.stream_id = stream_id
        self.headers = [(_text(k), _text(v)) for k, v in headers]
        self.data = queue.Queue()  # (bytes, flow_controlled_length) or None at end of stream
        self.reset = False


class _H2ServerConnection:
    def __init__(self, server, sock, connection_id):
        self.server = server
        self.sock = sock
        self.connection_id = connection_id
        config = h2.config.H2Configuration(client_side=False, header_encoding=None,
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        # After our own GOAWAY the streams it covers still get their answers.
        self.conn.state_machine = _GoAwayTolerantStateMachine()
        self.cond = threading.Condition()
        self.streams = {}
        self.closed = False

    def _flush(self):
        data = self.conn.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def run(self):
        with self.cond:
            self.conn.local_settings = h2.settings.Settings(
                client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS:
                                              self.server.max_concurrent_streams})
            self.conn.initiate_connection()
            self._flush()
        try:
            while not self.closed:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                with self.cond:
                    try:
                        events = self.conn.receive_data(data)
                    except h2.exceptions.ProtocolError:
                        self._flush()
                        break
                    for event in events:
                        self._on_event(event)
                    self._flush()
                    self.cond.notify_all()
        finally:
            with self.cond:
                self.closed = True
                for stream in self.streams.values():
                    stream.data.put(None)
                self.cond.notify_all()
            try:
                self.sock.close()
            except OSError:
                pass

    def _on_event(self, event):
        if isinstance(event, h2.events.RequestReceived):
            stream = _Stream(event.stream_id, event.headers)
            self.streams[event.stream_id] = stream
            with self.server.lock:
                self.server.requests.append((dict(stream.headers).get(":method"),
                                             dict(stream.headers).get(":path"),
                                             stream.headers))
            threading.Thread(target=self._serve, args=(stream,), daemon=True).start()
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.data.put((event.data, event.flow_controlled_length))
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.data.put(None)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.reset = True
                stream.data.put(None)
                with self.server.lock:
                    self.server.resets.append((dict(stream.headers).get(":path"),
                                               event.error_code, time.monotonic()))
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.closed = True

    # -- per stream --

    def _serve(self, stream):
        server = self.server
        with server.lock:
            server.active += 1
            server.max_active = max(server.max_active, server.active)
        try:
            self._serve_one(stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, OSError):
            pass
        finally:
            with server.lock:
                server.active -= 1

    def _serve_one(self, stream):
        headers = dict(stream.headers)
        path = headers.get(":path", "/")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)

        def q(name, default=None):
            values = query.get(name)
            return values[0] if values else default

        if q("goaway"):
            with self.cond:
                self.conn.close_connection(error_code=0)
                self._flush()
        read_delay = float(q("read_delay_ms", "0")) / 1000.0
        digest = hashlib.sha256()
        length = 0
        while True:
            item = stream.data.get()
            if item is None:
                break
            data, flow_length = item
            digest.update(data)
            length += len(data)
            if read_delay:
                time.sleep(read_delay * len(data) / upstreams.BLOCK_SIZE)
            with self.cond:
                if self.closed or stream.reset:
                    return
                try:
                    self.conn.acknowledge_received_data(flow_length, stream.stream_id)
                except h2.exceptions.StreamClosedError:
                    pass
                self._flush()
        if stream.reset or self.closed:
            return
        if q("sleep"):
            deadline = time.monotonic() + float(q("sleep"))
            while time.monotonic() < deadline and not stream.reset and not self.closed:
                time.sleep(0.01)
            if stream.reset or self.closed:
                return
        status = q("status", "200")
        extra = [tuple(h.split(":", 1)) for h in query.get("set_header", []) if ":" in h]
        extra = [(k.strip().lower(), v.strip()) for k, v in extra]
        trailers = [tuple(h.split(":", 1)) for h in query.get("trailer", []) if ":" in h]
        trailers = [(k.strip().lower(), v.strip()) for k, v in trailers]
        if q("size") is not None:
            size = int(q("size"))
            head = [(":status", status), ("content-type", "application/octet-stream"),
                    ("content-length", str(size))] + extra
            self._send_headers(stream, head, end=False)
            for piece in upstreams.pattern(size):
                if not self._send_data(stream, piece):
                    return
        else:
            payload = json.dumps({
                "server": self.server.name,
                "protocol": "HTTP/2",
                "method": headers.get(":method"),
                "path": path,
                "authority": headers.get(":authority"),
                "scheme": headers.get(":scheme"),
                "headers": [[k, v] for k, v in stream.headers if not k.startswith(":")],
                "body_length": length,
                "body_sha256": digest.hexdigest(),
                "connection": self.connection_id,
                "stream": stream.stream_id,
            }).encode()
            head = [(":status", status), ("content-type", "application/json"),
                    ("content-length", str(len(payload))),
                    ("x-upstream-name", self.server.name)] + extra
            self._send_headers(stream, head, end=False)
            if not self._send_data(stream, payload):
                return
        with self.cond:
            if stream.reset or self.closed:
                return
            if trailers:
                self.conn.send_headers(stream.stream_id, trailers, end_stream=True)
            else:
                self.conn.end_stream(stream.stream_id)
            self._flush()

    def _send_headers(self, stream, head, end):
        with self.cond:
            self.conn.send_headers(stream.stream_id, head, end_stream=end)
            self._flush()

    def _send_data(self, stream, data):
        """Sends `data` as the peer's flow-control windows allow. False if the stream died."""
        view = memoryview(data)
        while view:
            with self.cond:
                while True:
                    if stream.reset or self.closed:
                        return False
                    window = min(self.conn.local_flow_control_window(stream.stream_id),
                                 self.conn.max_outbound_frame_size)
                    if window > 0:
                        break
                    self.cond.wait(0.5)
                n = min(window, len(view))
                self.conn.send_data(stream.stream_id, bytes(view[:n]))
                self._flush()
            view = view[n:]
        return True


class H2EchoServer:
    def __init__(self, host="127.0.0.1", port=0, name="h2echo", max_concurrent_streams=1000):
        self.name = name
        self.max_concurrent_streams = max_concurrent_streams
        self.lock = threading.Lock()
        self.requests = []  # (method, path, headers list) in arrival order
        self.resets = []  # (path, error code, time) of streams the peer reset
        self.connections_accepted = 0
        self.active = 0
        self.max_active = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(512)
        self._stopped = False
        self._connections = []

    @property
    def port(self):
        return self._sock.getsockname()[1]

    def start(self):
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def _accept_loop(self):
        while not self._stopped:
            try:
                sock, _ = self._sock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections_accepted += 1
                connection = _H2ServerConnection(self, sock, self.connections_accepted)
                self._connections.append(connection)
            threading.Thread(target=connection.run, daemon=True).start()

    def stop(self):
        self._stopped = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self.lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def paths(self):
        with self.lock:
            return [path for _, path, _ in self.requests]


# ---------------------------------------------------------------------------------------------
# Client.

class H2Response:
    def __init__(self, stream_id):
        self.stream_id = stream_id
        self.headers = []  # response head, names lower-case, incl. :status
        self.informational = []
        self.trailers = []
        self.body = bytearray()
        self.ended = False
        self.reset_code = None  # RST_STREAM error code, if the stream was reset

    @property
    def status(self):
        for k, v in self.headers:
            if k == ":status":
                return int(v)
        return None

    def header(self, name, default=None):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return default

    def trailer(self, name, default=None):
        for k, v in self.trailers:
            if k == name.lower():
                return v
        return default

    def json(self):
        return json.loads(bytes(self.body))

    def __repr__(self):
        return "H2Response(stream %d, status %s, reset %s, %r, %r)" % (
            self.stream_id, self.status, self.reset_code, self.headers, bytes(self.body[:200]))


class _GoAwayTolerantStateMachine(h2.connection.H2ConnectionStateMachine):
    """python-h2 closes the connection state once it sends GOAWAY; a graceful server still
    answers the streams the GOAWAY covers."""

    def process_input(self, input_):
        if input_ == h2.connection.ConnectionInputs.SEND_GOAWAY:
            return []
        return super().process_input(input_)


class _DrainTolerantStateMachine(h2.connection.H2ConnectionStateMachine):
    """python-h2 treats a received GOAWAY as the end of the connection and rejects frames of
    streams still in flight; a graceful GOAWAY (drain) lets those finish, so stay open."""

    def process_input(self, input_):
        if input_ == h2.connection.ConnectionInputs.RECV_GOAWAY:
            return []
        return super().process_input(input_)


class H2Client:
    """Blocking HTTP/2 client over one socket. Responses are collected by read_until(); with
    auto_window=False the client returns no receive window (tests call consume())."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, rcvbuf=None, window=None,
                 auto_window=True, max_frame_size=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        config = h2.config.H2Configuration(client_side=True, header_encoding="latin-1",
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.state_machine = _DrainTolerantStateMachine()
        settings = {h2.settings.SettingCodes.ENABLE_PUSH: 0}
        if window is not None:
            settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = window
        if max_frame_size is not None:
            settings[h2.settings.SettingCodes.MAX_FRAME_SIZE] = max_frame_size
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.conn.initiate_connection()
        self.auto_window = auto_window
        self.responses = {}
        self.goaway = None  # (error_code, last_stream_id)
        self.closed = False
        self.remote_settings_received = False
        self._flush()

    def _flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start_request(self, method="GET", path="/", headers=(), body=None, authority="x",
                      end_stream=None):
        stream_id = self.conn.get_next_available_stream_id()
        head = [(":method", method), (":scheme", "http"), (":authority", authority),
                (":path", path)] + list(headers)
        if end_stream is None:
            end_stream = body is None
        self.conn.send_headers(stream_id, head, end_stream=end_stream)
        self.responses[stream_id] = H2Response(stream_id)
        self._flush()
        if body is not None:
            self.send_body(stream_id, body, end_stream=True)
        return stream_id

    def send_body(self, stream_id, body, end_stream=True):
        """Sends body bytes within the peer's flow-control windows, reading as needed."""
        view = memoryview(body)
        while view:
            window = min(self.conn.local_flow_control_window(stream_id),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                self._read_once()
                if self.responses[stream_id].reset_code is not None or self.closed:
                    return
                continue
            n = min(window, len(view))
            self.conn.send_data(stream_id, bytes(view[:n]))
            self._flush()
            view = view[n:]
        if end_stream:
            self.conn.end_stream(stream_id)
            self._flush()

    def _read_once(self):
        try:
            data = self.sock.recv(262144)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise EOFError("connection closed by the proxy")
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            raise AssertionError("protocol error from the peer: %r" % e)
        for event in events:
            self._on_event(event)
        self._flush()

    def _on_event(self, event):
        if isinstance(event, h2.events.ResponseReceived):
            self.responses[event.stream_id].headers = list(event.headers)
        elif isinstance(event, h2.events.InformationalResponseReceived):
            self.responses[event.stream_id].informational.append(list(event.headers))
        elif isinstance(event, h2.events.TrailersReceived):
            self.responses[event.stream_id].trailers = list(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            self.responses[event.stream_id].body += event.data
            if self.auto_window:
                self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                    event.stream_id)
            else:
                self._unacked = getattr(self, "_unacked", [])
                self._unacked.append((event.stream_id, event.flow_controlled_length))
        elif isinstance(event, h2.events.StreamEnded):
            self.responses[event.stream_id].ended = True
        elif isinstance(event, h2.events.StreamReset):
            if event.stream_id in self.responses:
                self.responses[event.stream_id].reset_code = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = (event.error_code, event.last_stream_id)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self.remote_settings_received = True

    def consume(self):
        """Returns the receive window for every byte received so far (auto_window=False)."""
        for stream_id, n in getattr(self, "_unacked", []):
            try:
                self.conn.acknowledge_received_data(n, stream_id)
            except h2.exceptions.StreamClosedError:
                pass
        self._unacked = []
        self._flush()

    def read_until(self, predicate, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("HTTP/2 response not complete in time")
            self._read_once()

    def response(self, stream_id, timeout=None):
        r = self.responses[stream_id]
        self.read_until(lambda: r.ended or r.reset_code is not None, timeout)
        return r

    def request(self, method="GET", path="/", headers=(), body=None, authority="x",
                timeout=None):
        return self.response(self.start_request(method, path, headers, body, authority),
                             timeout)


def h2_get(port, path="/", **kwargs):
    with H2Client(port) as client:
        return client.request("GET", path, **kwargs)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="h2echo")
    args = parser.parse_args()
    server = H2EchoServer(args.host, args.port, args.name).start()
    print("listening on %s:%d (h2c)" % (args.host, server.port), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
