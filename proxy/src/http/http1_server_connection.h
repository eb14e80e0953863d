#pragma once

// An HTTP/1.1 downstream connection: decodes requests one at a time (pipelined ones wait),
// hands each to an ActiveStream, and frames its response: content-length, chunked, or
// close-delimited for HTTP/1.0 clients; keep-alive, Expect: 100-continue, upgrade tunnels,
// and lingering close after a rejected request.

#include <memory>
#include <string>

#include "http/active_stream.h"
#include "http/http_listener_config.h"
#include "http/http_server_connection_base.h"
#include "http1/codec.h"
#include "net/connection.h"
#include "server/worker_context.h"

namespace skiff::http {

class Http1ServerConnection : public HttpServerConnectionBase,
                              public http1::RequestDecoderCallbacks,
                              public ResponseEncoder {
 public:
  Http1ServerConnection(server::WorkerContext& worker,
                        std::shared_ptr<const HttpListenerConfig> config,
                        std::unique_ptr<net::Connection> connection);
  ~Http1ServerConnection() override;
  void start();

  // server::DownstreamConnection
  void drain() override;

  // net::ConnectionCallbacks
  void onRead(Buffer& data, bool end_stream) override;
  void onEvent(net::ConnectionEvent event) override;
  void onAboveWriteBufferHighWatermark() override;
  void onBelowWriteBufferLowWatermark() override;

  // http1::RequestDecoderCallbacks
  void onRequestHead(RequestHead&& head, bool end_stream) override;
  void onRequestData(Buffer& data, bool end_stream) override;
  void onRequestTrailers(HeaderMap&& trailers) override;

  // ResponseEncoder, for the current stream.
  void encodeHead(ResponseHead& head, bool end_stream) override;
  void encodeData(Buffer& data, bool end_stream) override;
  void encodeTrailers(const HeaderMap& trailers) override;
  void readDisable(bool disable) override;
  void onStreamComplete(bool reset) override;

 private:
  ActiveStream& newStream();
  void dispatch();
  void onProtocolError(const http1::CodecError& error);
  void write(Buffer& data);
  void onIdleTimeout() override;

  http1::RequestDecoder decoder_;
  Buffer encode_buffer_;  // scratch for encoding responses; keeps its storage between uses
  std::unique_ptr<ActiveStream> stream_;

  // The current exchange, as HTTP/1 sees it.
  Protocol request_protocol_ = Protocol::kHttp11;
  http1::BodyFraming framing_ = http1::BodyFraming::kNone;
  bool head_request_ = false;
  bool upgrade_requested_ = false;
  bool accepts_trailers_ = false;  // the request carried "TE: trailers"
  bool tunnel_ = false;
  bool close_after_response_ = false;
  bool http10_keep_alive_ = false;

  bool dispatching_ = false;
  bool next_message_pending_ = false;
  bool downstream_eof_ = false;
  bool draining_ = false;
};

}  // namespace skiff::http
