#include "router/upstream_attempt.h"

#include "upstream/thread_local_clusters.h"

namespace skiff::router {

UpstreamAttempt::UpstreamAttempt(AttemptCallbacks& callbacks, event::Dispatcher& dispatcher,
                                 upstream::ClusterInfoConstSharedPtr cluster,
                                 upstream::HostSharedPtr host, uint32_t number)
    : callbacks_(callbacks),
      dispatcher_(dispatcher),
      cluster_(std::move(cluster)),
      host_(std::move(host)),
      number_(number) {}

UpstreamAttempt::~UpstreamAttempt() { abandon(); }

void UpstreamAttempt::start(upstream::ThreadLocalCluster& cluster) {
  pool_ = cluster.pool(host_);
  pending_ = pool_->newStream(*this);
}

void UpstreamAttempt::onPoolReady(std::unique_ptr<upstream::UpstreamRequest> request, bool) {
  pending_ = nullptr;
  request_ = std::move(request);
  request_->setCallbacks(this);
  request_start_ = dispatcher_.timeSource().monotonicTime();
  cluster_->stats->requests_active.add(1);
  host_->active_requests.fetch_add(1, std::memory_order_relaxed);
  callbacks_.onAttemptReady(*this);
}

void UpstreamAttempt::onPoolFailure(upstream::PoolFailureReason reason) {
  pending_ = nullptr;
  // An overflow is this proxy's own limit, not the host's fault.
  if (reason != upstream::PoolFailureReason::kOverflow) reportLocalFailure();
  callbacks_.onAttemptPoolFailure(*this, reason);
}

void UpstreamAttempt::onResponseHead(http::ResponseHead&& head, bool end_stream) {
  response_started_ = true;
  per_try_timer_.reset();  // the try answered in time; the route's timeouts take it from here
  cluster_->stats->requests_total.inc(head.status);
  if (cluster_->outlier != nullptr) cluster_->outlier->reportStatus(*host_, head.status);
  callbacks_.onAttemptResponseHead(*this, std::move(head), end_stream);
}

void UpstreamAttempt::onResponseData(Buffer& data, bool end_stream) {
  callbacks_.onAttemptResponseData(*this, data, end_stream);
}

void UpstreamAttempt::onResponseTrailers(http::HeaderMap&& trailers) {
  callbacks_.onAttemptResponseTrailers(*this, std::move(trailers));
}

void UpstreamAttempt::onReset(upstream::UpstreamResetReason reason) {
  endRequest(false);
  // A refused request (a stale keep-alive connection, REFUSED_STREAM) says nothing bad about
  // the host.
  if (reason != upstream::UpstreamResetReason::kRefused && !response_started_) {
    reportLocalFailure();
  }
  callbacks_.onAttemptReset(*this, reason);
}

void UpstreamAttempt::onAboveWriteBufferHighWatermark() {
  callbacks_.onAttemptWriteBlocked(*this, true);
}

void UpstreamAttempt::onBelowWriteBufferLowWatermark() {
  callbacks_.onAttemptWriteBlocked(*this, false);
}

void UpstreamAttempt::armPerTryTimer(std::chrono::milliseconds timeout) {
  if (per_try_timer_ || timeout.count() == 0) return;
  per_try_timer_ = dispatcher_.createTimer([this] {
    reportLocalFailure();
    callbacks_.onAttemptPerTryTimeout(*this);
  });
  per_try_timer_->enable(timeout);
}

void UpstreamAttempt::reportLocalFailure() {
  if (cluster_->outlier != nullptr) cluster_->outlier->reportLocalFailure(*host_);
}

void UpstreamAttempt::complete() {
  per_try_timer_.reset();
  if (!request_) return;
  cluster_->stats->request_duration.record(
      std::chrono::duration<double>(dispatcher_.timeSource().monotonicTime() - request_start_)
          .count());
  endRequest(true);
}

void UpstreamAttempt::abandon() {
  per_try_timer_.reset();
  if (pending_ != nullptr) {
    pool_->cancel(pending_);
    pending_ = nullptr;
  }
  endRequest(false);
}

void UpstreamAttempt::endRequest(bool completed) {
  if (!request_) return;
  cluster_->stats->requests_active.sub(1);
  host_->active_requests.fetch_sub(1, std::memory_order_relaxed);
  request_->setCallbacks(nullptr);
  if (completed) request_->complete();
  // The request may be on the call stack (this runs inside its callbacks); a request that did
  // not complete is abandoned as it is destroyed (its connection closes).
  dispatcher_.deferredDelete(std::move(request_));
}

}  // namespace skiff::router
