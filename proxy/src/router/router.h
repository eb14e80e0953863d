#pragma once

// The router: the upstream half of one request, for the route its stream matched. Picks the
// cluster and a host, makes an UpstreamAttempt (a slot in the host's pool, then the request
// sent on it), relays the response, and enforces the route's timeouts. Failures come back as a status and a response
// flag for the local reply. It knows no wire protocol: pools hand out UpstreamRequests. What it
// learns (cluster, host, attempts) goes into the stream's StreamInfo. RouterFilter makes it the
// last filter of every HTTP chain.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/buffer.h"
#include "event/dispatcher.h"
#include "http/header_map.h"
#include "net/connection.h"
#include "router/route_table.h"
#include "router/upstream_attempt.h"
#include "server/worker_context.h"
#include "stream_info/stream_info.h"
#include "upstream/upstream_request.h"

namespace skiff::router {

class RouterCallbacks {
 public:
  virtual ~RouterCallbacks() = default;
  virtual void onUpstreamHead(http::ResponseHead&& head, bool end_stream) = 0;
  virtual void onUpstreamData(Buffer& data, bool end_stream) = 0;
  virtual void onUpstreamTrailers(http::HeaderMap&& trailers) = 0;
  // The exchange failed. Before the response head the stream answers with a local reply
  // (`status`, `flag`, `detail`); after it, the downstream stream is reset.
  virtual void onUpstreamFailure(int status, absl::string_view flag, absl::string_view detail) = 0;
  // The upstream cannot take the request body as fast as it comes (true), or can again.
  virtual void onUpstreamWriteBlocked(bool blocked) = 0;
  // The connection the request came on: ORIGINAL_DST clusters send the request to its
  // original destination. Null when there is none (tests).
  virtual const net::Connection* downstreamConnection() const { return nullptr; }
};

// The request, as the router holds it: the route, the overall deadline, the body bytes that
// wait for an attempt, and the retry state. Each try of it is an UpstreamAttempt.
class Router : public AttemptCallbacks {
 public:
  // `route` and `info` outlive the router (the stream keeps both).
  Router(server::WorkerContext& worker, RouterCallbacks& callbacks, const RouteEntry& route,
         StreamInfo& info);
  ~Router() override;

  void decodeHeaders(http::RequestHead&& head, bool end_stream);
  void decodeData(Buffer& data, bool end_stream);
  void decodeTrailers(http::HeaderMap&& trailers);
  // The downstream cannot take more response bytes (true) or can again (false).
  void onDownstreamWriteBlocked(bool blocked);
  // The downstream went away or the stream ended early: abandon the upstream exchange.
  void reset();

  // AttemptCallbacks
  void onAttemptReady(UpstreamAttempt& attempt) override;
  void onAttemptPoolFailure(UpstreamAttempt& attempt,
                            upstream::PoolFailureReason reason) override;
  void onAttemptResponseHead(UpstreamAttempt& attempt, http::ResponseHead&& head,
                             bool end_stream) override;
  void onAttemptResponseData(UpstreamAttempt& attempt, Buffer& data, bool end_stream) override;
  void onAttemptResponseTrailers(UpstreamAttempt& attempt, http::HeaderMap&& trailers) override;
  void onAttemptReset(UpstreamAttempt& attempt, upstream::UpstreamResetReason reason) override;
  void onAttemptWriteBlocked(UpstreamAttempt& attempt, bool blocked) override;

 private:
  // Chooses a host (another than those tried, when the cluster has one) and starts an attempt
  // on it; false after answering the request (no cluster, no host).
  bool startAttempt();
  // Ends the current attempt (deferred: it may be on the call stack).
  void endAttempt();
  // A try the upstream provably never processed may go again, once, when the request can be
  // sent again in full (no body: bodies are not kept yet).
  bool retryIfSafe(upstream::UpstreamResetReason reason);
  void onRequestComplete();
  void onResponseComplete();
  void fail(int status, absl::string_view flag, absl::string_view detail);
  // Stops timers and gives the current attempt up; no callback.
  void abandonUpstream();
  void armIdleTimer();
  void setBodyBlocked(bool blocked);

  server::WorkerContext& worker_;
  RouterCallbacks& callbacks_;
  const RouteEntry* route_;
  StreamInfo& info_;
  upstream::ClusterInfoConstSharedPtr cluster_info_;
  std::unique_ptr<UpstreamAttempt> attempt_;
  std::vector<const upstream::Host*> hosts_tried_;
  std::optional<uint64_t> hash_key_;

  http::RequestHead request_head_;
  bool request_has_body_ = false;
  Buffer pending_body_;  // request bytes that arrived before the attempt was ready
  http::HeaderMap pending_trailers_;
  bool has_pending_trailers_ = false;
  bool request_complete_ = false;  // the whole request arrived from downstream
  bool upgrade_ = false;
  bool response_started_ = false;
  bool retried_ = false;
  bool body_blocked_ = false;
  bool done_ = false;
  std::optional<std::chrono::milliseconds> grpc_timeout_;

  std::unique_ptr<event::Timer> route_timer_;
  std::unique_ptr<event::Timer> idle_timer_;
};

}  // namespace skiff::router
