#!/usr/bin/python3
"""Writes the seed inputs of http2_client_fuzz into tests/fuzz/corpus/http2_client.

Each seed is: a flags byte, a piece-size byte, then what an HTTP/2 server sends on the
connection. The server side is Debian's python3-h2 answering the requests the fuzz target opens
(stream 1 POST with a body, then GET on 3, 5, ... up to 1 + (flags >> 2) % 4 streams), so the
seeds are valid conversations the fuzzer then mutates. Run with /usr/bin/python3 (python3-h2).
"""

import os
import struct

import h2.config
import h2.connection
import h2.events
import h2.settings

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "http2_client")


def server(streams):
    """A server connection that has received `streams` requests from the fuzz target."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    for n in range(streams):
        stream_id = 1 + 2 * n
        post = n % 3 == 0
        client.send_headers(stream_id, [(":method", "POST" if post else "GET"), (":scheme", "http"),
                                        (":authority", "upstream.test"),
                                        (":path", "/fuzz/%d" % n), ("te", "trailers")],
                            end_stream=not post)
        if post:
            client.send_data(stream_id, b"b" * 100, end_stream=True)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, validate_inbound_headers=False))
    conn.initiate_connection()
    conn.receive_data(client.data_to_send())
    return conn


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(
        ">I", stream_id) + payload


def write(name, flags, piece, wire):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([flags, piece]) + wire)


def respond(conn, stream_id, body=b"hello", trailers=None, interim=False):
    if interim:
        conn.send_headers(stream_id, [(":status", "100")])
    conn.send_headers(stream_id, [(":status", "200"), ("content-type", "text/plain")])
    conn.send_data(stream_id, body, end_stream=trailers is None)
    if trailers:
        conn.send_headers(stream_id, trailers, end_stream=True)


def main():
    os.makedirs(OUT, exist_ok=True)

    conn = server(1)
    respond(conn, 1)
    write("post_200", 0x00, 0xff, conn.data_to_send())

    conn = server(2)
    respond(conn, 1, trailers=[("grpc-status", "0")])
    respond(conn, 3, body=b"", trailers=[("grpc-status", "14"), ("grpc-message", "x")])
    write("two_streams_trailers", 1 << 2, 0xff, conn.data_to_send())

    conn = server(1)
    respond(conn, 1, interim=True)
    write("interim_100", 0x00, 0x01, conn.data_to_send())  # 5-byte pieces

    conn = server(3)
    respond(conn, 1)
    conn.close_connection(last_stream_id=1)
    wire = conn.data_to_send()
    write("goaway_refuses_3_and_5", 2 << 2, 0xff, wire)
    # The same, in small pieces, with our output never drained (only dispatch() serialises it).
    write("goaway_output_not_drained", (2 << 2) | 0x02, 0x02, wire)  # 9-byte pieces

    conn = server(2)
    conn.reset_stream(1, error_code=7)  # REFUSED_STREAM
    respond(conn, 3)
    write("reset_then_answer", 1 << 2, 0xff, conn.data_to_send())

    conn = server(2)
    conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1})
    respond(conn, 1)
    conn.ping(b"12345678")
    conn.increment_flow_control_window(1000)
    respond(conn, 3)
    write("max_streams_1_ping", (1 << 2) | 0x10, 0xff, conn.data_to_send())

    conn = server(1)
    conn.send_headers(1, [(":status", "200")] + [("x-big-%d" % i, "v" * 40) for i in range(8)])
    conn.send_data(1, b"x" * 300, end_stream=True)  # beyond the small stream window
    write("small_limits_big_head", 0x01, 0xff, conn.data_to_send())

    # Raw frames h2 would not send: DATA before HEADERS, then an unknown frame type.
    conn = server(1)
    wire = conn.data_to_send() + frame(0x0, 0x1, 1, b"early") + frame(0xfa, 0x0, 0, b"??")
    write("data_before_head", 0x00, 0xff, wire)


if __name__ == "__main__":
    main()
