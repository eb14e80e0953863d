#pragma once

// Internal: what the HTTP/2 server and client codecs share. Session owns the nghttp2_session,
// the per-stream state on our side of it, the output path and the abuse limits; ServerCodec and
// ClientCodec add the direction-specific halves (heads, callbacks) through a few virtual hooks.

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "common/buffer.h"
#include "http/header_map.h"
#include "http2/codec.h"

namespace skiff::http2::internal {

struct StreamState {
  int32_t id = 0;

  // Receive side: the header block being decoded (head or trailers).
  http::HeaderMap headers;
  std::string method;
  std::string path;
  std::string scheme;
  std::string authority;
  std::string cookie;
  int status = 0;
  size_t header_list_bytes = 0;
  bool header_list_too_large = false;
  bool head_delivered = false;
  bool remote_end = false;
  // The application never saw this stream (refused by the codec): its data is dropped.
  bool ignored = false;
  // Payload of the DATA frame being received, delivered whole when the frame ends (so that
  // END_STREAM rides on the last piece instead of costing an extra empty callback).
  Buffer recv_data;
  size_t frame_payload_bytes = 0;
  // Received (flow-controlled) bytes not yet passed to nghttp2_session_consume.
  uint64_t unconsumed = 0;

  // Send side.
  Buffer send_data;
  bool has_data_provider = false;
  bool data_deferred = false;
  bool local_end = false;                     // the application has finished the body (or trailers)
  bool local_end_sent = false;                // END_STREAM has left
  bool above_limit = false;                   // send_data passed stream_buffer_limit
  std::unique_ptr<http::HeaderMap> trailers;  // sent once send_data drains
  bool local_reset = false;                   // resetStream() by the application
  // RST_STREAM(NO_ERROR) once our END_STREAM has left: the rest of the request is unwanted.
  bool reset_after_response = false;
};

// A simple token bucket over a monotonic clock.
class TokenBucket {
 public:
  TokenBucket(uint64_t burst, uint64_t rate_per_second, MonotonicClock clock);
  // Takes one token; false when none is left.
  bool take();

 private:
  double tokens_;
  double burst_;
  double rate_;
  MonotonicClock clock_;
  std::chrono::steady_clock::time_point last_;
};

class Session {
 public:
  Session(const Http2Settings& settings, bool server, MonotonicClock clock);
  virtual ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  absl::Status dispatch(Buffer& input);
  void drainOutput(Buffer& out);
  bool wantsWrite() const;
  bool shouldClose() const;

  void encodeData(int32_t stream_id, Buffer& data, bool end_stream);
  void encodeTrailers(int32_t stream_id, const http::HeaderMap& trailers);
  void resetStream(int32_t stream_id, uint32_t error_code);
  void consumed(int32_t stream_id, size_t bytes);
  size_t bufferedBytes(int32_t stream_id) const;
  size_t activeStreams() const { return streams_.size(); }

 protected:
  // A complete header block of a stream (head or trailers); `end_stream` from its HEADERS.
  virtual void onHeaderBlock(StreamState& stream, bool end_stream) = 0;
  virtual void onData(StreamState& stream, Buffer& data, bool end_stream) = 0;
  virtual void onStreamReset(int32_t stream_id, uint32_t error_code) = 0;
  virtual void onStreamWritable(int32_t stream_id) = 0;
  // Whether the application still waits for something on this stream when it closes (a reset
  // must be reported): the server waits to finish its response, the client to get one.
  virtual bool streamUnfinished(const StreamState& stream) const = 0;
  // Server: whether a new peer stream may be processed at all.
  virtual bool acceptStream(int32_t stream_id) { return true; }
  virtual void onGoAwayReceived(const nghttp2_goaway& goaway) {}
  virtual void onPingAck(const uint8_t* opaque) {}

  StreamState* findStream(int32_t stream_id);
  const StreamState* findStream(int32_t stream_id) const;
  StreamState& createStream(int32_t stream_id);
  // A data provider reading from the stream's send_data.
  nghttp2_data_provider dataProvider();
  // Marks the connection as failed by our own decision (flood, rapid reset): the GOAWAY goes
  // out with `error_code` and dispatch() reports it.
  void failConnection(uint32_t error_code, const char* reason);
  // Client, on the server's GOAWAY: requests above `last_stream_id` whose HEADERS are still
  // queued end as REFUSED_STREAM (nghttp2 closes only the streams it has sent).
  void refuseUnsentStreams(int32_t last_stream_id);
  // The application submitted a GOAWAY itself: not a connection error.
  bool app_goaway_ = false;

  const Http2Settings settings_;
  const bool server_;
  nghttp2_session* session_ = nullptr;

 private:
  static ssize_t onSend(nghttp2_session*, const uint8_t* data, size_t length, int flags, void* ud);
  static int onSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source* source, void* ud);
  static ssize_t onReadData(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                            uint32_t* data_flags, nghttp2_data_source* source, void* ud);
  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* ud);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* ud);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* ud);
  static int onDataChunkRecv(nghttp2_session*, uint8_t flags, int32_t stream_id,
                             const uint8_t* data, size_t len, void* ud);
  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* ud);
  static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* ud);

  int frameReceived(const nghttp2_frame& frame);
  int streamClosed(int32_t stream_id, uint32_t error_code);
  void frameSent(const nghttp2_frame& frame);
  // Runs nghttp2_session_send into `out`.
  void send(Buffer& out);
  void resumeData(StreamState& stream);
  // A reset that cost us work; false once the bucket is empty (and the connection is failing).
  bool chargeReset();
  absl::Status connectionError(uint32_t error_code, absl::string_view detail);
  // error_, set first if nghttp2 has sent a GOAWAY that ends the connection.
  absl::Status checkTerminated();

  std::unordered_map<int32_t, std::unique_ptr<StreamState>> streams_;
  TokenBucket reset_bucket_;
  // Where nghttp2's send callbacks write during send().
  Buffer* out_ = nullptr;
  // Output produced inside dispatch() (the GOAWAY of a connection error), drained first.
  Buffer pending_out_;
  std::vector<int32_t> writable_;
  // Our own verdict on the connection (flood, rapid reset), which takes precedence over
  // whatever nghttp2 reports after a callback failure.
  std::optional<uint32_t> fatal_code_;
  std::string fatal_reason_;
  std::optional<uint32_t> goaway_sent_code_;
  absl::Status error_;
};

// nghttp2_nv arrays point into strings they do not own; this keeps the strings of the pseudo
// fields alive next to them. nghttp2 copies everything on submit, so it lives only that long.
class HeaderBlock {
 public:
  void addPseudo(absl::string_view name, std::string value);
  // Regular fields, minus the ones HTTP/2 forbids or carries elsewhere.
  void addFields(const http::HeaderMap& headers, bool request);
  const nghttp2_nv* data() const { return nva_.data(); }
  size_t size() const { return nva_.size(); }

 private:
  // Pseudo values (at most 4) must not move while nva_ points at them.
  std::string pseudo_values_[4];
  size_t pseudo_count_ = 0;
  std::vector<nghttp2_nv> nva_;
};

}  // namespace skiff::http2::internal
