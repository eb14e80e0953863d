#!/usr/bin/python3
"""A gRPC test service for Skiff's integration tests, with grpcio's generic API (raw bytes in
and out: no generated stubs, no protoc).

Service "test.Echo":
    Unary          echoes the request bytes
    ServerStream   sends x-count messages (default 10) of x-size bytes (default 16), one every
                   x-interval-ms (default 0), until the count or cancellation
    ClientStream   reads every message (sleeping x-read-delay-ms after each) and answers
                   b"<count> <total bytes> <sha256 hex>"
    Bidi           echoes each message as it arrives

Request metadata that changes any method:
    x-sleep          seconds to wait (in 10 ms steps, stopping early if the call is cancelled)
                     before answering
    x-abort          "CODE:message", e.g. "NOT_FOUND:nope": abort with that status
    x-response-size  (Unary) answer with this many pattern bytes instead of the echo
    x-trailer        "key=value": added to the trailing metadata (repeatable)
    x-initial        "key=value": sent as initial metadata (repeatable)

Every call is recorded in server.calls (a CallRecord: method, metadata, whether and when the
server saw it cancelled), so tests can check what the proxy forwarded and that it cancelled.

Run standalone:  /usr/bin/python3 integration/grpc_service.py --port 50051
"""

import argparse
import hashlib
import threading
import time
from concurrent import futures

import grpc

SERVICE = "test.Echo"
MAX_MESSAGE = 64 * 1024 * 1024
CHANNEL_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE),
                   ("grpc.max_receive_message_length", MAX_MESSAGE)]

_BLOCK = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))


def pattern_bytes(size):
    full, tail = divmod(size, len(_BLOCK))
    return _BLOCK * full + _BLOCK[:tail]


class CallRecord:
    def __init__(self, method, metadata):
        self.method = method
        self.metadata = metadata  # list of (key, value)
        self.started = time.monotonic()
        self.cancelled = threading.Event()
        self.cancelled_at = None
        self.finished = threading.Event()
        self.messages_sent = 0
        self.messages_received = 0

    def meta(self, key, default=None):
        for k, v in self.metadata:
            if k == key:
                return v
        return default

    def meta_all(self, key):
        return [v for k, v in self.metadata if k == key]


class GrpcTestServer:
    def __init__(self, host="127.0.0.1", port=0, max_workers=128):
        self.lock = threading.Lock()
        self.calls = []
        self.active = 0
        self.max_active = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers),
                                  options=CHANNEL_OPTIONS + [("grpc.so_reuseport", 0)],
                                  maximum_concurrent_rpcs=None)
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(self._wrap("Unary", self._unary)),
            "ServerStream": grpc.unary_stream_rpc_method_handler(
                self._wrap("ServerStream", self._server_stream, streaming=True)),
            "ClientStream": grpc.stream_unary_rpc_method_handler(
                self._wrap("ClientStream", self._client_stream)),
            "Bidi": grpc.stream_stream_rpc_method_handler(
                self._wrap("Bidi", self._bidi, streaming=True)),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port("%s:%d" % (host, port))
        if not self.port:
            raise OSError("gRPC server could not bind %s:%d" % (host, port))

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.server.stop(grace=None)

    # -- bookkeeping --

    def _record(self, method, context):
        record = CallRecord(method, [(k, v) for k, v in context.invocation_metadata()])

        def on_done():
            if not record.finished.is_set():
                # The RPC ended before the handler returned: cancelled or deadline.
                record.cancelled_at = time.monotonic()
                record.cancelled.set()

        context.add_callback(on_done)
        with self.lock:
            self.calls.append(record)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        initial = [tuple(v.split("=", 1)) for v in record.meta_all("x-initial")]
        if initial:
            context.send_initial_metadata(initial)
        trailers = [tuple(v.split("=", 1)) for v in record.meta_all("x-trailer")]
        if trailers:
            context.set_trailing_metadata(trailers)
        return record

    def _done(self, record, context):
        if not context.is_active() and not record.cancelled.is_set():
            record.cancelled_at = time.monotonic()
            record.cancelled.set()
        record.finished.set()
        with self.lock:
            self.active -= 1

    def _wrap(self, method, fn, streaming=False):
        def unary_like(request, context):
            record = self._record(method, context)
            try:
                self._prelude(record, context)
                return fn(request, context, record)
            finally:
                self._done(record, context)

        def streaming_like(request, context):
            record = self._record(method, context)
            try:
                self._prelude(record, context)
                yield from fn(request, context, record)
            finally:
                self._done(record, context)

        return streaming_like if streaming else unary_like

    def _prelude(self, record, context):
        sleep = record.meta("x-sleep")
        if sleep:
            deadline = time.monotonic() + float(sleep)
            while time.monotonic() < deadline and context.is_active():
                time.sleep(0.01)
        abort = record.meta("x-abort")
        if abort:
            code, _, message = abort.partition(":")
            context.abort(getattr(grpc.StatusCode, code), message)

    def calls_of(self, method):
        with self.lock:
            return [c for c in self.calls if c.method == method]

    # -- methods --

    def _unary(self, request, context, record):
        record.messages_received = 1
        size = record.meta("x-response-size")
        if size is not None:
            return pattern_bytes(int(size))
        return request

    def _server_stream(self, request, context, record):
        count = int(record.meta("x-count", "10"))
        size = int(record.meta("x-size", "16"))
        interval = float(record.meta("x-interval-ms", "0")) / 1000.0
        payload = pattern_bytes(size)
        for _ in range(count):
            if not context.is_active():
                return
            yield payload
            record.messages_sent += 1
            if interval:
                time.sleep(interval)

    def _client_stream(self, request_iterator, context, record):
        delay = float(record.meta("x-read-delay-ms", "0")) / 1000.0
        digest = hashlib.sha256()
        count = total = 0
        for message in request_iterator:
            count += 1
            total += len(message)
            digest.update(message)
            record.messages_received = count
            if delay:
                time.sleep(delay)
        return b"%d %d %s" % (count, total, digest.hexdigest().encode())

    def _bidi(self, request_iterator, context, record):
        for message in request_iterator:
            record.messages_received += 1
            yield message
            record.messages_sent += 1


# ---------------------------------------------------------------------------------------------
# Client helpers.

def channel(port, host="127.0.0.1"):
    return grpc.insecure_channel("%s:%d" % (host, port), options=CHANNEL_OPTIONS)


def stubs(ch):
    """The four methods as grpcio multi-callables (bytes in, bytes out)."""
    return {
        "Unary": ch.unary_unary("/%s/Unary" % SERVICE),
        "ServerStream": ch.unary_stream("/%s/ServerStream" % SERVICE),
        "ClientStream": ch.stream_unary("/%s/ClientStream" % SERVICE),
        "Bidi": ch.stream_stream("/%s/Bidi" % SERVICE),
    }


def all_metadata(call):
    """Initial plus trailing metadata of a finished call (or RpcError) as a dict of lists."""
    out = {}
    for getter in ("initial_metadata", "trailing_metadata"):
        try:
            items = getattr(call, getter)() or ()
        except Exception:  # noqa: BLE001 - some error objects lack a part
            items = ()
        for k, v in items:
            out.setdefault(k, []).append(v)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = GrpcTestServer(args.host, args.port).start()
    print("listening on %s:%d (gRPC, h2c)" % (args.host, server.port), flush=True)
    try:
        server.server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
