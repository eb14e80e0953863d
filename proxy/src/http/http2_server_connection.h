#pragma once

// An HTTP/2 downstream connection: many ActiveStreams multiplexed over one socket through the
// HTTP/2 server codec. Flow control is end to end: a stream's receive window reopens only as its
// upstream takes the request body, and a stream whose response queue is full pauses its upstream.

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "event/dispatcher.h"
#include "http/active_stream.h"
#include "http/http_listener_config.h"
#include "http/http_server_connection_base.h"
#include "http2/codec.h"
#include "net/connection.h"
#include "server/worker_context.h"

namespace skiff::http {

class Http2ServerConnection : public HttpServerConnectionBase,
                              public http2::ServerCodecCallbacks,
                              public event::DeferredFlush {
 public:
  Http2ServerConnection(server::WorkerContext& worker,
                        std::shared_ptr<const HttpListenerConfig> config,
                        std::unique_ptr<net::Connection> connection);
  ~Http2ServerConnection() override;
  // Takes over the connection, including bytes already read (protocol detection).
  void start();

  // server::DownstreamConnection: GOAWAY, finish the streams in flight, then close.
  void drain() override;

  // net::ConnectionCallbacks
  void onRead(Buffer& data, bool end_stream) override;
  void onEvent(net::ConnectionEvent event) override;
  void onAboveWriteBufferHighWatermark() override;
  void onBelowWriteBufferLowWatermark() override;

  // http2::ServerCodecCallbacks
  void onRequestHead(int32_t stream_id, RequestHead&& head, bool end_stream) override;
  void onRequestData(int32_t stream_id, Buffer& data, bool end_stream) override;
  void onRequestTrailers(int32_t stream_id, HeaderMap&& trailers) override;
  void onStreamReset(int32_t stream_id, uint32_t error_code) override;
  void onStreamWritable(int32_t stream_id) override;

  // event::DeferredFlush: frames the codec has ready go to the socket once per loop turn.
  void flushDeferred() override;

 private:
  class Stream;
  void scheduleFlush();
  void removeStream(int32_t stream_id);
  void onIdleTimeout() override;

  // Queued response bytes past which a stream pauses its upstream (the codec's own threshold,
  // which also drives onStreamWritable).
  const size_t stream_buffer_limit_;
  http2::ServerCodec codec_;
  absl::flat_hash_map<int32_t, std::unique_ptr<Stream>> streams_;
  Buffer out_;
  bool flush_scheduled_ = false;
  bool draining_ = false;
};

}  // namespace skiff::http
