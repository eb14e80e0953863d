#pragma once

// The router: the upstream half of one request. Matches the route, picks the cluster and host,
// takes a pooled connection, sends the request, relays the response, and enforces the route's
// timeouts. Failures come back as a status and a response flag for the local reply.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/buffer.h"
#include "event/dispatcher.h"
#include "http/header_map.h"
#include "http1/codec.h"
#include "router/route_table.h"
#include "server/worker_context.h"
#include "upstream/connection_pool.h"

namespace skiff::router {

class RouterCallbacks {
 public:
  virtual ~RouterCallbacks() = default;
  virtual void onUpstreamHead(http::ResponseHead&& head, bool end_stream) = 0;
  virtual void onUpstreamData(Buffer& data, bool end_stream) = 0;
  virtual void onUpstreamTrailers(http::HeaderMap&& trailers) = 0;
  // The exchange failed. Before the response head the stream answers with a local reply
  // (`status`, `flag`, `detail`); after it, the downstream connection is reset.
  virtual void onUpstreamFailure(int status, absl::string_view flag, absl::string_view detail) = 0;
  // The upstream connection's write buffer is full (true) or drained (false): pause or resume
  // reading the request body.
  virtual void onUpstreamWriteBlocked(bool blocked) = 0;
};

class Router : public upstream::PoolCallbacks, public upstream::UpstreamConnectionOwner {
 public:
  Router(server::WorkerContext& worker, RouterCallbacks& callbacks,
         std::shared_ptr<const RouteTable> routes);
  ~Router() override;

  void decodeHeaders(http::RequestHead&& head, bool end_stream);
  void decodeData(Buffer& data, bool end_stream);
  void decodeTrailers(http::HeaderMap&& trailers);
  // The downstream cannot take more response bytes (true) or can again (false).
  void onDownstreamWriteBlocked(bool blocked);
  // The downstream went away or the stream ended early: abandon the upstream exchange.
  void reset();

  const std::string& clusterName() const { return cluster_name_; }
  const std::string& upstreamAddress() const;

  // upstream::PoolCallbacks
  void onPoolReady(std::unique_ptr<upstream::UpstreamConnection> connection, bool reused) override;
  void onPoolFailure(bool timed_out) override;
  // upstream::UpstreamConnectionOwner
  void onResponseHead(http::ResponseHead&& head, bool end_stream) override;
  void onResponseData(Buffer& data, bool end_stream) override;
  void onResponseTrailers(http::HeaderMap&& trailers) override;
  void onConnectionLost(upstream::UpstreamConnection& connection, bool connect_failed,
                        bool protocol_error) override;
  void onAboveWriteBufferHighWatermark() override;
  void onBelowWriteBufferLowWatermark() override;

 private:
  void requestUpstreamConnection();
  void sendRequest();
  void onRequestComplete();
  void onResponseComplete();
  void fail(int status, absl::string_view flag, absl::string_view detail);
  // Stops timers, cancels a pending connection, closes an in-use one; no callback.
  void abandonUpstream();
  void releaseConnection(bool reusable);
  void armIdleTimer();
  void recordUpstreamResponse(int status);

  server::WorkerContext& worker_;
  RouterCallbacks& callbacks_;
  std::shared_ptr<const RouteTable> routes_;  // keeps route_ alive
  const RouteEntry* route_ = nullptr;
  upstream::ThreadLocalCluster* cluster_ = nullptr;
  upstream::ClusterInfoConstSharedPtr cluster_info_;
  std::string cluster_name_;
  upstream::HostSharedPtr host_;
  std::shared_ptr<upstream::ConnectionPool> pool_;
  upstream::ConnectionPool::PendingRequest* pending_ = nullptr;
  std::unique_ptr<upstream::UpstreamConnection> connection_;

  http::RequestHead request_head_;
  http1::BodyFraming request_framing_ = http1::BodyFraming::kNone;
  Buffer pending_body_;  // request bytes that arrived before the connection was ready
  http::HeaderMap pending_trailers_;
  bool has_pending_trailers_ = false;
  bool request_complete_ = false;  // the whole request arrived from downstream
  bool request_sent_ = false;      // and was handed to the upstream connection
  bool upgrade_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool reused_connection_ = false;
  bool retried_stale_connection_ = false;
  bool body_blocked_ = false;
  bool done_ = false;
  std::optional<std::chrono::milliseconds> grpc_timeout_;

  std::chrono::steady_clock::time_point upstream_start_;
  std::unique_ptr<event::Timer> route_timer_;
  std::unique_ptr<event::Timer> idle_timer_;
};

}  // namespace skiff::router
