#include "router/router.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "http/grpc.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::router {
namespace {

// Request bytes held while waiting for an upstream connection before reading pauses.
constexpr size_t kPendingBodyLimit = 1024 * 1024;

void appendCopy(const Buffer& from, Buffer& to) {
  if (from.empty()) return;
  std::string bytes = from.toString();
  to.add(bytes);
}

}  // namespace

Router::Router(server::WorkerContext& worker, RouterCallbacks& callbacks, const RouteEntry& route,
               StreamInfo& info)
    : worker_(worker), callbacks_(callbacks), route_(&route), info_(info) {}

Router::~Router() {
  reset();
  releaseResources();
}

void Router::decodeHeaders(http::RequestHead&& head, bool end_stream) {
  info_.upstream_cluster = route_->pickCluster(worker_.random().next());
  hash_key_ = route_->hashKey(head);
  grpc_timeout_ = http::grpc::parseTimeout(head.headers);
  upgrade_ = head.headers.has("upgrade");
  request_has_body_ = !end_stream;
  request_complete_ = end_stream;
  const RetryPolicy& policy = route_->retryPolicy();
  retry_state_.emplace(policy, RetryState::idempotentMethod(head.method));
  // Without a configured policy only tries the application never saw are repeated, and for
  // those the body was never sent: nothing needs keeping.
  keep_body_ = policy.configured && request_has_body_ && !upgrade_;
  request_head_ = std::move(head);
  upstream::ThreadLocalCluster* cluster = startAttempt();
  if (cluster == nullptr) return;
  route_->finalizeRequest(request_head_);
  // HTTP/1.0 clients may omit Host; HTTP/1.1 upstreams require one.
  if (request_head_.authority.empty()) request_head_.authority = attempt_->host()->address;
  if (request_complete_) onRequestComplete();
  armIdleTimer();
  attempt_->start(*cluster);
}

upstream::ThreadLocalCluster* Router::startAttempt() {
  // Looked up each time: by a later loop turn a configuration change may have replaced or
  // removed the cluster (the worker's cluster map is only stable within one turn).
  upstream::ThreadLocalCluster* cluster = worker_.clusters().get(info_.upstream_cluster);
  if (cluster == nullptr) {
    fail(503, "NC", absl::StrCat("cluster ", info_.upstream_cluster, " not found"));
    return nullptr;
  }
  cluster_info_ = cluster->infoPtr();
  if (!resources_) {
    // The request counts once against the cluster's max_requests, whatever its tries.
    if (!cluster_info_->breakers->requests.tryAcquire()) {
      fail(503, "UO", absl::StrCat("cluster ", info_.upstream_cluster,
                                   " is at its circuit breaker's max_requests"));
      return nullptr;
    }
    breakers_ = cluster_info_->breakers;
    resources_ = cluster->resources();
    ++resources_->active_requests;
  }
  upstream::LbContext context;
  context.hash_key = hash_key_;
  context.hosts_tried = hosts_tried_;
  context.downstream_connection = callbacks_.downstreamConnection();
  upstream::HostSharedPtr host = cluster->chooseHost(context);
  if (!host) {
    cluster_info_->stats->lb_no_host.inc();
    fail(503, "UH", absl::StrCat("no healthy upstream in cluster ", info_.upstream_cluster));
    return nullptr;
  }
  info_.upstream_host = host->address;
  hosts_tried_.push_back(host.get());
  ++info_.attempt_count;
  attempt_ = std::make_unique<UpstreamAttempt>(*this, worker_.dispatcher(), cluster_info_,
                                               std::move(host), info_.attempt_count);
  if (request_complete_) {
    attempt_->armPerTryTimer(route_->retryPolicy().per_try_timeout);
  }
  return cluster;
}

void Router::endAttempt() {
  if (!attempt_) return;
  attempt_->abandon();
  worker_.dispatcher().deferredDelete(std::move(attempt_));
}

void Router::onAttemptReady(UpstreamAttempt& attempt) {
  info_.upstream_request_sent = info_.sinceStart(attempt.requestStart());
  if (route_->retryPolicy().configured || attempt.number() > 1) {
    request_head_.headers.set(kAttemptCountHeader, std::to_string(attempt.number()));
  }
  sendRequest(*attempt.request());
}

void Router::sendRequest(upstream::UpstreamRequest& request) {
  bool body_follows = request_has_body_;
  request.encodeHead(request_head_, request_complete_ && !body_follows);
  if (!attempt_ || attempt_->request() != &request) return;  // failed while sending
  if (body_follows) {
    bool end = request_complete_ && !has_trailers_;
    if (replay_body_.length() > 0) {
      // A retry: what the earlier tries sent, then what came since.
      Buffer again;
      appendCopy(replay_body_, again);
      request.encodeData(again, end && pending_body_.empty());
      if (!attempt_ || attempt_->request() != &request) return;
    }
    if (pending_body_.length() > 0 || (end && replay_body_.empty())) {
      sendBody(request, pending_body_, end);
      if (!attempt_ || attempt_->request() != &request) return;
    }
  }
  if (has_trailers_) request.encodeTrailers(request_trailers_);
  if (attempt_ && attempt_->request() != nullptr && body_blocked_ &&
      !attempt_->request()->aboveWriteBufferHighWatermark()) {
    setBodyBlocked(false);
  }
}

void Router::sendBody(upstream::UpstreamRequest& request, Buffer& data, bool end_stream) {
  body_sent_bytes_ += data.length();
  if (replay_complete_ && data.length() > 0) {
    if (keep_body_ && body_sent_bytes_ <= route_->retryPolicy().max_body_bytes) {
      appendCopy(data, replay_body_);
    } else {
      // Not kept (no policy asks for it, or too big): once these bytes are out, the request
      // cannot be sent again.
      replay_complete_ = false;
      replay_body_.clear();
    }
  }
  request.encodeData(data, end_stream);
}

void Router::onAttemptPoolFailure(UpstreamAttempt& attempt, upstream::PoolFailureReason reason) {
  RetryState::TryOutcome outcome;
  outcome.kind = RetryState::TryOutcome::Kind::kConnectFailure;
  std::string detail = absl::StrCat("upstream ", upstream::poolFailureReasonName(reason), " to ",
                                    attempt.host()->address);
  if (reason == upstream::PoolFailureReason::kOverflow) {
    fail(503, "UO", detail);
    return;
  }
  retryOrFail(outcome, 503, "UF", detail);
}

void Router::decodeData(Buffer& data, bool end_stream) {
  if (done_) {
    data.clear();
    return;
  }
  if (end_stream) {
    request_complete_ = true;
    onRequestComplete();
  }
  armIdleTimer();
  upstream::UpstreamRequest* request = attempt_ ? attempt_->request() : nullptr;
  if (request == nullptr) {
    pending_body_.move(data);
    if (pending_body_.length() > kPendingBodyLimit) setBodyBlocked(true);
    return;
  }
  sendBody(*request, data, end_stream);
}

void Router::decodeTrailers(http::HeaderMap&& trailers) {
  if (done_) return;
  request_complete_ = true;
  request_trailers_ = std::move(trailers);
  has_trailers_ = true;
  onRequestComplete();
  upstream::UpstreamRequest* request = attempt_ ? attempt_->request() : nullptr;
  if (request != nullptr) request->encodeTrailers(request_trailers_);
}

void Router::onRequestComplete() {
  if (attempt_) attempt_->armPerTryTimer(route_->retryPolicy().per_try_timeout);
  std::chrono::milliseconds timeout = route_->timeout();
  // A gRPC deadline shorter than the route's timeout wins: the caller gives up then anyway.
  if (grpc_timeout_ && (timeout.count() == 0 || *grpc_timeout_ < timeout)) {
    timeout = *grpc_timeout_;
  }
  if (timeout.count() == 0 || upgrade_ || route_timer_) return;
  // The route timeout bounds every try together, back-offs included.
  route_timer_ = worker_.dispatcher().createTimer([this] {
    if (cluster_info_) cluster_info_->stats->request_timeouts.inc();
    if (attempt_ && !attempt_->responseStarted()) attempt_->reportLocalFailure();
    fail(504, "UT", "upstream request timeout");
  });
  route_timer_->enable(timeout);
}

void Router::armIdleTimer() {
  if (done_) return;
  std::chrono::milliseconds timeout = route_->idleTimeout();
  if (timeout.count() == 0) return;
  if (!idle_timer_) {
    idle_timer_ =
        worker_.dispatcher().createTimer([this] { fail(504, "SI", "stream idle timeout"); });
  }
  idle_timer_->enable(timeout);
}

Router::RetryDecision Router::decideRetry(const RetryState::TryOutcome& outcome) {
  if (response_started_ || upgrade_ || !retry_state_) return RetryDecision::kNotRetriable;
  switch (retry_state_->decide(outcome, bodyReplayable())) {
    case RetryState::Decision::kNotRetriable:
      return RetryDecision::kNotRetriable;
    case RetryState::Decision::kLimitExceeded:
      cluster_info_->stats->retry_limit_exceeded.inc();
      info_.addResponseFlag("URX");
      return RetryDecision::kLimitExceeded;
    case RetryState::Decision::kRetry:
      break;
  }
  // The retry this request already holds a slot for is the one being replaced.
  if (holds_retry_slot_) return RetryDecision::kRetry;
  if (!resources_ || !resources_->retryAllowed(cluster_info_->config.retry_budget()) ||
      !breakers_->retries.tryAcquire()) {
    cluster_info_->stats->retry_overflow.inc();
    info_.addResponseFlag("UO");
    return RetryDecision::kOverBudget;
  }
  holds_retry_slot_ = true;
  ++resources_->active_retries;
  return RetryDecision::kRetry;
}

void Router::retryOrFail(const RetryState::TryOutcome& outcome, int status,
                         absl::string_view flag, const std::string& detail) {
  if (decideRetry(outcome) == RetryDecision::kRetry) {
    // What the application never saw goes again at once; anything else waits (full jitter).
    bool transparent = outcome.kind == RetryState::TryOutcome::Kind::kConnectFailure ||
                       outcome.kind == RetryState::TryOutcome::Kind::kRefused;
    scheduleRetry(transparent && !route_->retryPolicy().configured
                      ? std::chrono::milliseconds(0)
                      : retry_state_->backoff(worker_.random()));
    return;
  }
  fail(status, flag, detail);
}

void Router::scheduleRetry(std::chrono::milliseconds wait) {
  endAttempt();
  cluster_info_->stats->retries.inc();
  auto next = [this] {
    if (done_) return;
    if (upstream::ThreadLocalCluster* cluster = startAttempt()) attempt_->start(*cluster);
  };
  if (wait.count() == 0) {
    next();
    return;
  }
  retry_timer_ = worker_.dispatcher().createTimer(next);
  retry_timer_->enable(wait);
}

void Router::onAttemptResponseHead(UpstreamAttempt& attempt, http::ResponseHead&& head,
                                   bool end_stream) {
  if (done_) return;
  if (head.status != 101 && head.status >= 200) {
    RetryState::TryOutcome outcome;
    outcome.kind = RetryState::TryOutcome::Kind::kResponse;
    outcome.status = head.status;
    int grpc_status = 0;
    const std::string* value = head.headers.get("grpc-status");
    if (end_stream && info_.grpc && value != nullptr && absl::SimpleAtoi(*value, &grpc_status)) {
      outcome.grpc_status = grpc_status;  // a trailers-only response
    }
    if (decideRetry(outcome) == RetryDecision::kRetry) {
      std::chrono::milliseconds wait = retry_state_->backoff(worker_.random());
      if (head.status == 503 || head.status == 429) {
        if (const std::string* after = head.headers.get("retry-after")) {
          if (auto asked = RetryState::parseRetryAfter(*after)) wait = *asked;
        }
      }
      // A finished response leaves its connection reusable; an unfinished one is abandoned.
      if (end_stream) attempt.complete();
      scheduleRetry(wait);
      return;
    }
  }
  response_started_ = true;
  retry_timer_.reset();
  armIdleTimer();
  if (head.status == 101) route_timer_.reset();  // a tunnel lives as long as its peers want
  route_->finalizeResponse(head);
  // The connection goes back to the pool before the response goes downstream, so a pipelined
  // next request can take it.
  if (end_stream && head.status != 101) onResponseComplete();
  callbacks_.onUpstreamHead(std::move(head), end_stream);
}

void Router::onAttemptResponseData(UpstreamAttempt&, Buffer& data, bool end_stream) {
  if (done_) {
    data.clear();
    return;
  }
  armIdleTimer();
  if (!end_stream) {
    callbacks_.onUpstreamData(data, false);
    return;
  }
  // The bytes are taken out first: the connection's next exchange reuses its decoder.
  Buffer last;
  last.move(data);
  onResponseComplete();
  callbacks_.onUpstreamData(last, true);
}

void Router::onAttemptResponseTrailers(UpstreamAttempt&, http::HeaderMap&& trailers) {
  if (done_) return;
  onResponseComplete();
  callbacks_.onUpstreamTrailers(std::move(trailers));
}

void Router::onResponseComplete() {
  if (attempt_) attempt_->complete();
  endAttempt();
  done_ = true;
  route_timer_.reset();
  idle_timer_.reset();
  retry_timer_.reset();
  releaseResources();
}

void Router::onAttemptReset(UpstreamAttempt&, upstream::UpstreamResetReason reason) {
  if (done_) return;
  RetryState::TryOutcome outcome;
  if (reason == upstream::UpstreamResetReason::kProtocolError) {
    fail(502, "UPE", "upstream sent a malformed response");
    return;
  }
  outcome.kind = reason == upstream::UpstreamResetReason::kRefused
                     ? RetryState::TryOutcome::Kind::kRefused
                     : RetryState::TryOutcome::Kind::kReset;
  retryOrFail(outcome, 503, "UC", "upstream connection closed before the response completed");
}

void Router::onAttemptPerTryTimeout(UpstreamAttempt&) {
  if (done_) return;
  cluster_info_->stats->per_try_timeouts.inc();
  RetryState::TryOutcome outcome;
  outcome.kind = RetryState::TryOutcome::Kind::kPerTryTimeout;
  retryOrFail(outcome, 504, "UT", "upstream per-try timeout");
}

void Router::setBodyBlocked(bool blocked) {
  if (body_blocked_ == blocked) return;
  body_blocked_ = blocked;
  callbacks_.onUpstreamWriteBlocked(blocked);
}

void Router::onAttemptWriteBlocked(UpstreamAttempt&, bool blocked) { setBodyBlocked(blocked); }

void Router::onDownstreamWriteBlocked(bool blocked) {
  upstream::UpstreamRequest* request = attempt_ ? attempt_->request() : nullptr;
  if (request != nullptr) request->readDisable(blocked);
}

void Router::fail(int status, absl::string_view flag, absl::string_view detail) {
  if (done_) return;
  // A request that reached the upstream and got no response counts as the failure's status.
  if (attempt_ && attempt_->request() != nullptr && !response_started_) {
    cluster_info_->stats->requests_total.inc(status);
  }
  abandonUpstream();
  callbacks_.onUpstreamFailure(status, flag, detail);
}

void Router::reset() {
  if (done_) return;
  abandonUpstream();
}

void Router::abandonUpstream() {
  done_ = true;
  route_timer_.reset();
  idle_timer_.reset();
  retry_timer_.reset();
  endAttempt();
  releaseResources();
}

void Router::releaseResources() {
  if (!resources_) return;
  --resources_->active_requests;
  breakers_->requests.release();
  if (holds_retry_slot_) {
    --resources_->active_retries;
    breakers_->retries.release();
  }
  holds_retry_slot_ = false;
  resources_.reset();
}

}  // namespace skiff::router
