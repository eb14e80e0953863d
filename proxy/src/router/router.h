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

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "common/buffer.h"
#include "event/dispatcher.h"
#include "http/header_map.h"
#include "net/connection.h"
#include "router/retry_state.h"
#include "router/route_table.h"
#include "router/upstream_attempt.h"
#include "server/worker_context.h"
#include "stream_info/stream_info.h"
#include "upstream/cluster_resources.h"
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

// The request, as the router holds it: the route, the overall deadline, the body kept for
// replay, and the retry state. Each try of it is an UpstreamAttempt; a try that fails in a way
// the route's retry policy names is tried again (after a back-off, on another host when the
// cluster has one, within the cluster's retry budget), until the response starts.
class Router : public AttemptCallbacks {
 public:
  // Sent upstream with each try's number when the route has a retry policy (or on a retry).
  static constexpr char kAttemptCountHeader[] = "x-skiff-attempt-count";

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
  void onAttemptPerTryTimeout(UpstreamAttempt& attempt) override;

 private:
  enum class RetryDecision { kRetry, kNotRetriable, kLimitExceeded, kOverBudget };

  // Chooses a host (another than those tried, when the cluster has one) and makes a try for
  // it, to start on the cluster returned; null after answering the request (no cluster, no
  // host).
  upstream::ThreadLocalCluster* startAttempt();
  // Ends the current attempt (deferred: it may be on the call stack).
  void endAttempt();
  // Whether the way the current try ended may be tried again (counts the retry if so).
  RetryDecision decideRetry(const RetryState::TryOutcome& outcome);
  // A try ended without a usable response: another try when the policy allows, else the
  // failure is answered.
  void retryOrFail(const RetryState::TryOutcome& outcome, int status, absl::string_view flag,
                   const std::string& detail);
  // Ends the current try and starts the next one after `wait`.
  void scheduleRetry(std::chrono::milliseconds wait);
  // Sends what the request has so far (head, kept body, trailers) on a ready try.
  void sendRequest(upstream::UpstreamRequest& request);
  void sendBody(upstream::UpstreamRequest& request, Buffer& data, bool end_stream);
  bool bodyReplayable() const { return body_sent_bytes_ == 0 || replay_complete_; }
  void onRequestComplete();
  void onResponseComplete();
  void fail(int status, absl::string_view flag, absl::string_view detail);
  // Stops timers, gives the current attempt up, returns the request's counts; no callback.
  void abandonUpstream();
  void releaseResources();
  void armIdleTimer();
  void setBodyBlocked(bool blocked);

  server::WorkerContext& worker_;
  RouterCallbacks& callbacks_;
  const RouteEntry* route_;
  StreamInfo& info_;
  upstream::ClusterInfoConstSharedPtr cluster_info_;
  upstream::ClusterResourcesSharedPtr resources_;  // this worker's counts for the cluster
  // The cluster's circuit breakers, while the request holds a slot of them (with resources_).
  upstream::CircuitBreakers* breakers_ = nullptr;
  bool holds_retry_slot_ = false;
  std::unique_ptr<UpstreamAttempt> attempt_;
  absl::InlinedVector<const upstream::Host*, 2> hosts_tried_;
  std::optional<uint64_t> hash_key_;
  std::optional<RetryState> retry_state_;

  http::RequestHead request_head_;
  bool request_has_body_ = false;
  Buffer pending_body_;  // request bytes not yet given to any try
  // Bytes already sent on a try, kept (up to the policy's max_body_bytes) to send again.
  Buffer replay_body_;
  uint64_t body_sent_bytes_ = 0;
  bool keep_body_ = false;       // the route's policy may retry after body bytes went out
  bool replay_complete_ = true;  // replay_body_ holds every byte sent so far
  http::HeaderMap request_trailers_;
  bool has_trailers_ = false;
  bool request_complete_ = false;  // the whole request arrived from downstream
  bool upgrade_ = false;
  bool response_started_ = false;
  bool body_blocked_ = false;
  bool done_ = false;
  std::optional<std::chrono::milliseconds> grpc_timeout_;

  std::unique_ptr<event::Timer> route_timer_;
  std::unique_ptr<event::Timer> idle_timer_;
  std::unique_ptr<event::Timer> retry_timer_;
};

}  // namespace skiff::router
