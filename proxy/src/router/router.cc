#include "router/router.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "http/grpc.h"

namespace skiff::router {
namespace {

// Request bytes held while waiting for an upstream connection before reading pauses.
constexpr size_t kPendingBodyLimit = 1024 * 1024;

}  // namespace

Router::Router(server::WorkerContext& worker, RouterCallbacks& callbacks, const RouteEntry& route,
               StreamInfo& info)
    : worker_(worker), callbacks_(callbacks), route_(&route), info_(info) {}

Router::~Router() { reset(); }

void Router::decodeHeaders(http::RequestHead&& head, bool end_stream) {
  info_.upstream_cluster = route_->pickCluster(worker_.random().next());
  hash_key_ = route_->hashKey(head);
  grpc_timeout_ = http::grpc::parseTimeout(head.headers);
  upgrade_ = head.headers.has("upgrade");
  request_has_body_ = !end_stream;
  request_complete_ = end_stream;
  request_head_ = std::move(head);
  if (!startAttempt()) return;
  route_->finalizeRequest(request_head_);
  // HTTP/1.0 clients may omit Host; HTTP/1.1 upstreams require one.
  if (request_head_.authority.empty()) request_head_.authority = attempt_->host()->address;
  if (request_complete_) onRequestComplete();
  armIdleTimer();
  attempt_->start(*worker_.clusters().get(info_.upstream_cluster));
}

bool Router::startAttempt() {
  // Looked up each time: by a later loop turn a configuration change may have replaced or
  // removed the cluster (the worker's cluster map is only stable within one turn).
  upstream::ThreadLocalCluster* cluster = worker_.clusters().get(info_.upstream_cluster);
  if (cluster == nullptr) {
    fail(503, "NC", absl::StrCat("cluster ", info_.upstream_cluster, " not found"));
    return false;
  }
  cluster_info_ = cluster->infoPtr();
  upstream::LbContext context;
  context.hash_key = hash_key_;
  context.hosts_tried = &hosts_tried_;
  context.downstream_connection = callbacks_.downstreamConnection();
  upstream::HostSharedPtr host = cluster->chooseHost(context);
  if (!host) {
    cluster_info_->stats->lb_no_host.inc();
    fail(503, "UH", absl::StrCat("no healthy upstream in cluster ", info_.upstream_cluster));
    return false;
  }
  info_.upstream_host = host->address;
  hosts_tried_.push_back(host.get());
  ++info_.attempt_count;
  attempt_ = std::make_unique<UpstreamAttempt>(*this, worker_.dispatcher(), cluster_info_,
                                               std::move(host), info_.attempt_count);
  return true;
}

void Router::endAttempt() {
  if (!attempt_) return;
  attempt_->abandon();
  worker_.dispatcher().deferredDelete(std::move(attempt_));
}

void Router::onAttemptReady(UpstreamAttempt& attempt) {
  upstream::UpstreamRequest& request = *attempt.request();
  info_.upstream_request_sent = info_.sinceStart(worker_.dispatcher().timeSource().monotonicTime());
  request.encodeHead(request_head_, request_complete_ && !request_has_body_);
  if (request_has_body_ && (pending_body_.length() > 0 || request_complete_)) {
    request.encodeData(pending_body_, request_complete_ && !has_pending_trailers_);
  }
  if (has_pending_trailers_) request.encodeTrailers(pending_trailers_);
  if (attempt_ && attempt_->request() != nullptr && body_blocked_ &&
      !attempt_->request()->aboveWriteBufferHighWatermark()) {
    setBodyBlocked(false);
  }
}

void Router::onAttemptPoolFailure(UpstreamAttempt& attempt, upstream::PoolFailureReason reason) {
  fail(503, "UF",
       absl::StrCat("upstream ", upstream::poolFailureReasonName(reason), " to ",
                    attempt.host()->address));
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
  request->encodeData(data, end_stream);
}

void Router::decodeTrailers(http::HeaderMap&& trailers) {
  if (done_) return;
  request_complete_ = true;
  onRequestComplete();
  upstream::UpstreamRequest* request = attempt_ ? attempt_->request() : nullptr;
  if (request == nullptr) {
    pending_trailers_ = std::move(trailers);
    has_pending_trailers_ = true;
    return;
  }
  request->encodeTrailers(trailers);
}

void Router::onRequestComplete() {
  std::chrono::milliseconds timeout = route_->timeout();
  // A gRPC deadline shorter than the route's timeout wins: the caller gives up then anyway.
  if (grpc_timeout_ && (timeout.count() == 0 || *grpc_timeout_ < timeout)) {
    timeout = *grpc_timeout_;
  }
  if (timeout.count() == 0 || upgrade_ || route_timer_) return;
  route_timer_ = worker_.dispatcher().createTimer([this] {
    if (cluster_info_) cluster_info_->stats->request_timeouts.inc();
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

void Router::onAttemptResponseHead(UpstreamAttempt&, http::ResponseHead&& head, bool end_stream) {
  if (done_) return;
  response_started_ = true;
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
}

void Router::onAttemptReset(UpstreamAttempt&, upstream::UpstreamResetReason reason) {
  if (done_) return;
  if (retryIfSafe(reason)) return;
  if (reason == upstream::UpstreamResetReason::kProtocolError) {
    fail(502, "UPE", "upstream sent a malformed response");
  } else {
    fail(503, "UC", "upstream connection closed before the response completed");
  }
}

bool Router::retryIfSafe(upstream::UpstreamResetReason reason) {
  if (reason != upstream::UpstreamResetReason::kRefused || response_started_ ||
      request_has_body_ || retried_) {
    return false;
  }
  retried_ = true;
  endAttempt();
  if (!startAttempt()) return true;  // answered
  attempt_->start(*worker_.clusters().get(info_.upstream_cluster));
  return true;
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
  endAttempt();
}

}  // namespace skiff::router
