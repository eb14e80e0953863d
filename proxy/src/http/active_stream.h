#pragma once

// One request/response exchange, whatever the downstream protocol. It runs the listener's
// filter chain (http/filter.h) on the request, takes the response at the end of the chain,
// answers local replies, and, when the exchange ends, records stats and the access-log line
// from the stream's StreamInfo. The downstream connection (HTTP/1.1 or HTTP/2) frames the
// response through the ResponseEncoder it implements.

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "http/filter_manager.h"
#include "http/header_map.h"
#include "http/http_listener_config.h"
#include "net/connection.h"
#include "router/route_table.h"
#include "server/worker_context.h"
#include "stream_info/stream_info.h"

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

class ActiveStream : private FilterManagerCallbacks {
 public:
  // `remote_ip` and `remote_address` belong to the connection, which outlives its streams.
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
  // and the response flag in x-skiff-flags. After the response started: a reset.
  void sendLocalReply(int status, absl::string_view flag, absl::string_view detail) override;
  // The downstream went away or broke the protocol mid-stream.
  void abort(absl::string_view flag);
  // The downstream cannot take more response bytes (true), or can again.
  void onDownstreamWriteBlocked(bool blocked);

  bool requestComplete() const { return request_complete_; }
  bool responseStarted() const { return filters_.responseStarted(); }
  bool complete() const { return complete_; }
  int status() const { return info_.status; }

 private:
  // FilterManagerCallbacks
  void encodeHeadersDownstream(ResponseHead& head, bool end_stream) override;
  void encodeDataDownstream(Buffer& data, bool end_stream) override;
  void encodeTrailersDownstream(HeaderMap& trailers) override;
  void readDisableDownstream(bool disable) override { encoder_.readDisable(disable); }
  StreamInfo& streamInfo() override { return info_; }
  server::WorkerContext& worker() override { return worker_; }
  const net::Connection& connection() override { return connection_; }
  const router::RouteEntry* route() override;

  event::MonotonicTime now();
  void markRequestComplete();
  void finish(bool reset);
  void noteGrpcStatus(const HeaderMap& headers);
  void logAccess();

  server::WorkerContext& worker_;
  const HttpListenerConfig& config_;
  ResponseEncoder& encoder_;
  // The downstream connection: the caller's TLS identity and destination port.
  const net::Connection& connection_;
  StreamInfo info_;
  // The stream keeps the request (filters may hold it) and the route table it matched in.
  RequestHead request_head_;
  HeaderMap request_trailers_;
  std::shared_ptr<const router::RouteTable> routes_;
  const router::RouteEntry* route_ = nullptr;
  bool route_resolved_ = false;
  bool is_head_request_ = false;
  bool request_complete_ = false;
  bool complete_ = false;
  FilterManager filters_;  // last: its filters may use everything above while they end
};

}  // namespace skiff::http
