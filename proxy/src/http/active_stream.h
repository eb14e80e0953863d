#pragma once

// One request/response exchange, whatever the downstream protocol: the proxy headers
// (x-request-id, x-forwarded-*), the Router, local replies, stats and the access-log line.
// The downstream connection (HTTP/1.1 or HTTP/2) frames what the stream produces through the
// ResponseEncoder it implements.

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "http/header_map.h"
#include "http/http_listener_config.h"
#include "net/connection.h"
#include "router/router.h"
#include "server/worker_context.h"

namespace skiff::http {

// What a stream needs from its downstream connection.
class ResponseEncoder {
 public:
  virtual ~ResponseEncoder() = default;
  virtual void encodeHead(ResponseHead& head, bool end_stream) = 0;
  virtual void encodeData(Buffer& data, bool end_stream) = 0;
  virtual void encodeTrailers(const HeaderMap& trailers) = 0;
  // Pause (true) or resume (false) delivery of the request body: upstream backpressure.
  virtual void readDisable(bool disable) = 0;
  // The exchange is over and logged. `reset`: the response could not be finished (the
  // connection must show the client an error: a reset stream or a closed connection).
  virtual void onStreamComplete(bool reset) = 0;
};

class ActiveStream : public router::RouterCallbacks {
 public:
  ActiveStream(server::WorkerContext& worker, const HttpListenerConfig& config,
               ResponseEncoder& encoder, const std::string& remote_ip,
               const std::string& remote_address, const net::Connection& connection);
  ~ActiveStream() override;

  // The request head, already checked by the codec. Hop-by-hop headers must be gone (the
  // connection knows which: it owns the protocol); `upgrade` keeps them for a tunnel.
  void decodeHead(RequestHead&& head, bool end_stream);
  void decodeData(Buffer& data, bool end_stream);
  void decodeTrailers(HeaderMap&& trailers);

  // The proxy answers by itself: a short text body (or, for gRPC, a trailers-only response)
  // and the response flag in x-skiff-flags.
  void sendLocalReply(int status, absl::string_view flag, absl::string_view detail);
  // The downstream went away or broke the protocol mid-stream.
  void abort(absl::string_view flag);
  // The downstream cannot take more response bytes (true), or can again.
  void onDownstreamWriteBlocked(bool blocked);

  bool requestComplete() const { return request_complete_; }
  bool responseStarted() const { return response_started_; }
  bool complete() const { return complete_; }
  int status() const { return status_; }

  // router::RouterCallbacks
  void onUpstreamHead(ResponseHead&& head, bool end_stream) override;
  void onUpstreamData(Buffer& data, bool end_stream) override;
  void onUpstreamTrailers(HeaderMap&& trailers) override;
  void onUpstreamFailure(int status, absl::string_view flag, absl::string_view detail) override;
  void onUpstreamWriteBlocked(bool blocked) override;
  const net::Connection* downstreamConnection() const override { return &connection_; }

 private:
  void finish(bool reset);
  // The listener's authorization policy (before routing): false when the request was denied
  // and answered 403.
  bool authorize();
  // Listeners with `tls`: the caller cannot choose the identity the application sees.
  void rewriteClientIdentity(HeaderMap& headers);
  void noteGrpcStatus(const HeaderMap& headers);

  server::WorkerContext& worker_;
  const HttpListenerConfig& config_;
  ResponseEncoder& encoder_;
  const std::string& remote_ip_;
  const std::string& remote_address_;
  // The downstream connection: the caller's TLS identity and destination port.
  const net::Connection& connection_;
  std::chrono::steady_clock::time_point start_;
  absl::Time start_time_;
  std::unique_ptr<router::Router> router_;
  std::string method_, authority_, path_, request_id_, flags_;
  Protocol protocol_ = Protocol::kHttp11;
  int status_ = 0;
  int grpc_status_ = -1;  // from the response's head (trailers-only) or trailers
  uint64_t bytes_received_ = 0;
  uint64_t bytes_sent_ = 0;
  bool is_head_request_ = false;
  bool grpc_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool complete_ = false;
};

}  // namespace skiff::http
