#pragma once

// HTTP/2 codecs (RFC 9113) on nghttp2, without I/O, in the style of the HTTP/1 codec: bytes go in
// through dispatch(), protocol-neutral heads, data and trailers come out through callbacks per
// stream, and frames to send come out of drainOutput() into a Buffer. The caller owns the
// socket, timers and the decision to close.
//
// Threading: one codec per connection, used from one thread. Callbacks run inside dispatch()
// or drainOutput(); from a callback the application may call encode*, resetStream, consumed and
// goAway, but never dispatch() or drainOutput() (nghttp2 is not re-entrant).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/buffer.h"
#include "http/header_map.h"

namespace skiff::http2 {

// RFC 9113 section 7 error codes, as the codecs report them.
enum ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kSettingsTimeout = 0x4,
  kStreamClosed = 0x5,
  kFrameSizeError = 0x6,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kCompressionError = 0x9,
  kConnectError = 0xa,
  kEnhanceYourCalm = 0xb,
  kInadequateSecurity = 0xc,
  kHttp11Required = 0xd,
};

// Our side of the connection: advertised to the peer in SETTINGS and enforced on what it sends.
struct Http2Settings {
  // Peer-initiated streams open at once. Excess streams sent before the peer has acknowledged our
  // SETTINGS (a client cannot know the limit yet) get RST_STREAM(REFUSED_STREAM); a peer that
  // exceeds the limit after acknowledging it is misbehaving on purpose and nghttp2 closes the
  // connection (GOAWAY PROTOCOL_ERROR), which RFC 9113 5.1.2 permits as well.
  uint32_t max_concurrent_streams = 100;
  // Receive windows. They reopen only as the application calls consumed(), so a slow reader on
  // the other side of the proxy throttles the sender instead of growing our buffers.
  uint32_t initial_stream_window_size = 256 * 1024;
  uint32_t initial_connection_window_size = 1024 * 1024;
  // Decoded header list size (RFC 9113 6.5.2: name + value + 32 per field). The defence against
  // HPACK bombs: past it the codec stops storing fields (HPACK decoding continues, to keep the
  // dynamic table in sync) and refuses the message, see ServerCodecCallbacks.
  uint32_t max_header_list_size = 60 * 1024;

  // Abuse limits.
  // Token bucket over stream resets that cost us work: RST_STREAM from the peer and streams the
  // codec itself reset because they were malformed (CVE-2023-44487 "rapid reset" and its
  // malformed-request variant). Exhausted: GOAWAY ENHANCE_YOUR_CALM. Server only.
  uint64_t stream_reset_burst = 1000;
  uint64_t stream_reset_rate = 33;  // tokens per second
  // CONTINUATION frames after one HEADERS (CVE-2024-27316 style floods).
  size_t max_continuations = 8;
  // SETTINGS ACK and PING ACK frames queued but not yet drained: a peer that sends SETTINGS or
  // PING faster than it reads our answers is flooding (CVE-2019-9512/9515).
  size_t max_outbound_control_frames = 1000;
  size_t max_settings_per_frame = 32;

  // Send-side backpressure per stream: once more than this many body bytes are queued for a
  // stream (its peer window is closed or the caller is not draining), the caller should stop
  // reading from the source of the body; onStreamWritable() fires when the queue drops to half.
  size_t stream_buffer_limit = 1024 * 1024;
};

// Monotonic time, injectable so tests can drive the reset rate limiter without sleeping.
using MonotonicClock = std::function<std::chrono::steady_clock::time_point()>;

class ServerCodecCallbacks {
 public:
  virtual ~ServerCodecCallbacks() = default;
  // A new request stream. Pseudo-headers map onto RequestHead (:method, :scheme, :authority,
  // :path; CONNECT: path = authority); authority falls back to a `host` field, and `host` never
  // stays in `headers`. Regular fields arrive lower-case, in order; several `cookie` fields are
  // joined with "; " into one (RFC 9113 8.2.3). protocol = kHttp2. end_stream: no body.
  //
  // Requests nghttp2 finds malformed (RFC 9113 8.3: missing :method/:scheme/:path, pseudo-fields
  // out of place, connection-specific fields such as `connection` or `transfer-encoding`, bad
  // characters, a content-length that the body contradicts) are reset with PROTOCOL_ERROR and
  // never reach the application. A request whose header list exceeds max_header_list_size is
  // answered by the codec with a 431 response and never reaches the application either: unlike
  // a bare RST_STREAM, the client learns why, as it would from the HTTP/1 codec.
  virtual void onRequestHead(int32_t stream_id, http::RequestHead&& head, bool end_stream) = 0;
  // The callee may move bytes out of `data`. Every byte delivered must eventually be passed to
  // ServerCodec::consumed() (or the stream ends), or the peer's window stays closed.
  virtual void onRequestData(int32_t stream_id, Buffer& data, bool end_stream) = 0;
  // Trailers end the request.
  virtual void onRequestTrailers(int32_t stream_id, http::HeaderMap&& trailers) = 0;
  // The stream ended before the response was fully sent: the peer reset it, the codec reset it
  // (a protocol error on that stream), or the connection went away. Not called for streams the
  // application reset itself. The stream id is dead afterwards; encode* calls on it are ignored.
  virtual void onStreamReset(int32_t stream_id, uint32_t error_code) = 0;
  // Queued response body of the stream fell to half of stream_buffer_limit after having
  // exceeded it: resume reading from upstream.
  virtual void onStreamWritable(int32_t stream_id) {}
};

class ServerCodec {
 public:
  ServerCodec(const Http2Settings& settings, ServerCodecCallbacks& callbacks,
              MonotonicClock clock = nullptr);
  ~ServerCodec();
  ServerCodec(const ServerCodec&) = delete;
  ServerCodec& operator=(const ServerCodec&) = delete;

  // Consumes all of `input`. An error is a connection-level failure: a GOAWAY with the right
  // code (PROTOCOL_ERROR, ENHANCE_YOUR_CALM for floods and rapid reset, COMPRESSION_ERROR,
  // FRAME_SIZE_ERROR, ...) is queued; the caller drains output, writes it and closes. After an
  // error the codec ignores further input.
  absl::Status dispatch(Buffer& input);
  // Appends the frames ready to send to `out`. Body bytes are moved, not copied, from the
  // stream queues (NGHTTP2_DATA_FLAG_NO_COPY); only frame headers and HPACK blocks are written.
  void drainOutput(Buffer& out);
  bool wantsWrite() const;
  // Nothing more will be read or written (GOAWAY exchanged and every stream done, or a
  // connection error was sent): close once the drained output is written.
  bool shouldClose() const;

  // A status below 200 is sent as an interim response (the stream stays open for the final
  // one). end_stream=true sends a single HEADERS frame with END_STREAM: with `grpc-status` in
  // head.headers that is exactly a gRPC trailers-only response. Connection-specific fields
  // (connection, keep-alive, proxy-connection, transfer-encoding, upgrade, te other than
  // "trailers") and pseudo-fields in head.headers are dropped, as HTTP/2 forbids them.
  void encodeHead(int32_t stream_id, const http::ResponseHead& head, bool end_stream);
  // Queues body bytes (moved out of `data`); they leave as the peer's flow-control window allows.
  void encodeData(int32_t stream_id, Buffer& data, bool end_stream);
  // A HEADERS frame with END_STREAM after the queued body (gRPC status). Empty trailers just end
  // the body.
  void encodeTrailers(int32_t stream_id, const http::HeaderMap& trailers);
  // RST_STREAM now; queued body bytes are dropped. No onStreamReset follows.
  void resetStream(int32_t stream_id, uint32_t error_code);
  // graceful: a GOAWAY with last-stream-id 2^31-1 and a PING; when the PING's ACK comes back
  // (one round trip, so every stream the peer sent before seeing the notice has arrived) the
  // real GOAWAY with the last processed stream follows, as RFC 9113 6.8 suggests. Streams up to
  // it finish normally. Not graceful: the real GOAWAY now.
  void goAway(uint32_t error_code, bool graceful);

  // Receive-side flow control: the application has passed on `bytes` of the stream's data.
  // WINDOW_UPDATEs follow consumption (not receipt), so a slow upstream throttles the client.
  void consumed(int32_t stream_id, size_t bytes);
  // Body bytes queued for the stream but not yet sent.
  size_t bufferedBytes(int32_t stream_id) const;
  // Streams open in the codec (including ones the codec is refusing by itself).
  size_t activeStreams() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

class ClientCodecCallbacks {
 public:
  virtual ~ClientCodecCallbacks() = default;
  // Interim (1xx) responses are skipped. `end_stream`: no body follows.
  virtual void onResponseHead(int32_t stream_id, http::ResponseHead&& head, bool end_stream) = 0;
  // As onRequestData: every byte must reach ClientCodec::consumed() eventually.
  virtual void onResponseData(int32_t stream_id, Buffer& data, bool end_stream) = 0;
  virtual void onResponseTrailers(int32_t stream_id, http::HeaderMap&& trailers) = 0;
  // The stream ended before its response was complete. REFUSED_STREAM means the server did not
  // process it (above a GOAWAY's last-stream-id, or refused): safe to retry on a new connection.
  // A response whose header list exceeds max_header_list_size is reset with PROTOCOL_ERROR.
  virtual void onStreamReset(int32_t stream_id, uint32_t error_code) = 0;
  // The server is going away. Streams above last_stream_id follow as onStreamReset(
  // REFUSED_STREAM); newStream() fails from now on. A graceful shutdown notice arrives as
  // last_stream_id = 2^31-1.
  virtual void onGoAway(int32_t last_stream_id, uint32_t error_code) {}
  virtual void onStreamWritable(int32_t stream_id) {}
};

class ClientCodec {
 public:
  // Queues the connection preface and our SETTINGS.
  ClientCodec(const Http2Settings& settings, ClientCodecCallbacks& callbacks);
  ~ClientCodec();
  ClientCodec(const ClientCodec&) = delete;
  ClientCodec& operator=(const ClientCodec&) = delete;

  absl::Status dispatch(Buffer& input);
  void drainOutput(Buffer& out);
  bool wantsWrite() const;
  bool shouldClose() const;

  // Starts a request: :method, :scheme, :authority, :path from `head` (CONNECT: :method and
  // :authority only), then head.headers without connection-specific fields and `host`.
  // Fails (without sending anything) when the server has sent GOAWAY, when activeStreams() has
  // reached remoteMaxConcurrentStreams() (a pool should then open another connection), or when
  // stream ids are exhausted.
  absl::StatusOr<int32_t> newStream(const http::RequestHead& head, bool end_stream);
  void encodeData(int32_t stream_id, Buffer& data, bool end_stream);
  void encodeTrailers(int32_t stream_id, const http::HeaderMap& trailers);
  void resetStream(int32_t stream_id, uint32_t error_code);
  // GOAWAY (we accept no pushed streams, so last-stream-id is 0); in-flight streams continue.
  void goAway(uint32_t error_code);
  void consumed(int32_t stream_id, size_t bytes);
  size_t bufferedBytes(int32_t stream_id) const;

  // SETTINGS_MAX_CONCURRENT_STREAMS of the server (2^32-1 until its SETTINGS arrive).
  uint32_t remoteMaxConcurrentStreams() const;
  size_t activeStreams() const;
  bool goAwayReceived() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::http2
