#pragma once

// The HTTP connection manager: the downstream half of every request on one HTTP/1.1
// connection. It decodes requests, adds the proxy headers, hands each request to a Router,
// frames the response back, answers local replies, and keeps stats and the access log.

#include <chrono>
#include <memory>
#include <string>

#include "http/http_listener_config.h"
#include "http1/codec.h"
#include "net/connection.h"
#include "router/router.h"
#include "server/worker_context.h"

namespace skiff::http {

class HttpConnectionManager : public server::DownstreamConnection,
                              public net::ConnectionCallbacks,
                              public http1::RequestDecoderCallbacks {
 public:
  HttpConnectionManager(server::WorkerContext& worker,
                        std::shared_ptr<const HttpListenerConfig> config,
                        std::unique_ptr<net::Connection> connection);
  ~HttpConnectionManager() override;
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

 private:
  class ActiveStream;

  void dispatch();
  void onProtocolError(const http1::CodecError& error);
  void onStreamComplete();
  void write(Buffer& data);
  void closeConnection(net::Connection::CloseType type);
  void armIdleTimer();

  server::WorkerContext& worker_;
  std::shared_ptr<const HttpListenerConfig> config_;
  ListenerStats& stats_;
  std::unique_ptr<net::Connection> connection_;
  const std::string remote_ip_;  // for x-forwarded-for
  http1::RequestDecoder decoder_;
  Buffer encode_buffer_;  // scratch for encoding responses; keeps its storage between uses
  std::unique_ptr<ActiveStream> stream_;
  std::unique_ptr<event::Timer> idle_timer_;
  uint64_t bytes_received_reported_ = 0;
  bool dispatching_ = false;
  bool next_message_pending_ = false;
  bool downstream_eof_ = false;
  bool draining_ = false;
  bool closed_ = false;
};

}  // namespace skiff::http
