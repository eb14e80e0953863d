#pragma once

// One try of a request against one host. The Router holds the request (its route, deadline,
// retry state and body); each try is an UpstreamAttempt: the host, the wait for a slot in that
// host's pool, then the UpstreamRequest it sends on. An attempt only relays: it reports what
// happens to the Router, which decides (answer, fail, or try again elsewhere).

#include <memory>

#include "event/dispatcher.h"
#include "upstream/cluster_info.h"
#include "upstream/host.h"
#include "upstream/upstream_request.h"

namespace skiff::upstream {
class ThreadLocalCluster;
}

namespace skiff::router {

class UpstreamAttempt;

class AttemptCallbacks {
 public:
  virtual ~AttemptCallbacks() = default;
  // The attempt has its UpstreamRequest: the request can be sent.
  virtual void onAttemptReady(UpstreamAttempt& attempt) = 0;
  virtual void onAttemptPoolFailure(UpstreamAttempt& attempt,
                                    upstream::PoolFailureReason reason) = 0;
  virtual void onAttemptResponseHead(UpstreamAttempt& attempt, http::ResponseHead&& head,
                                     bool end_stream) = 0;
  virtual void onAttemptResponseData(UpstreamAttempt& attempt, Buffer& data,
                                     bool end_stream) = 0;
  virtual void onAttemptResponseTrailers(UpstreamAttempt& attempt,
                                         http::HeaderMap&& trailers) = 0;
  // The exchange broke; the attempt is over (no further callback).
  virtual void onAttemptReset(UpstreamAttempt& attempt, upstream::UpstreamResetReason reason) = 0;
  // The upstream takes the request body slower than it comes (true), or keeps up again.
  virtual void onAttemptWriteBlocked(UpstreamAttempt& attempt, bool blocked) = 0;
  // The try passed its per-try timeout (armPerTryTimer); it is still in flight.
  virtual void onAttemptPerTryTimeout(UpstreamAttempt& attempt) = 0;
};

class UpstreamAttempt : public upstream::PoolCallbacks,
                        public upstream::UpstreamRequestCallbacks {
 public:
  // `number`: 1 for the first try of a request, 2 for the first retry, and so on.
  UpstreamAttempt(AttemptCallbacks& callbacks, event::Dispatcher& dispatcher,
                  upstream::ClusterInfoConstSharedPtr cluster, upstream::HostSharedPtr host,
                  uint32_t number);
  // Abandons what is still in flight (see abandon()).
  ~UpstreamAttempt() override;
  UpstreamAttempt(const UpstreamAttempt&) = delete;
  UpstreamAttempt& operator=(const UpstreamAttempt&) = delete;

  // Asks the host's pool for a slot; onAttemptReady or onAttemptPoolFailure follows (perhaps
  // before this returns).
  void start(upstream::ThreadLocalCluster& cluster);

  const upstream::HostSharedPtr& host() const { return host_; }
  uint32_t number() const { return number_; }
  // The UpstreamRequest, from onAttemptReady until the attempt ends; null otherwise.
  upstream::UpstreamRequest* request() { return request_.get(); }
  bool responseStarted() const { return response_started_; }
  // When the pool handed over the request (onAttemptReady).
  event::MonotonicTime requestStart() const { return request_start_; }

  // Starts this try's own deadline (the route's per_try_timeout); once per attempt.
  void armPerTryTimer(std::chrono::milliseconds timeout);

  // The try failed without a response in a way the host is to blame for (a connect failure,
  // a reset, a timeout): outlier detection counts it, when the cluster has it.
  void reportLocalFailure();
  // The exchange finished: its connection goes back to the pool when it can be reused.
  void complete();
  // Gives the attempt up: cancels the wait for a slot, or abandons the request (its
  // connection is closed or its stream reset). No callback follows.
  void abandon();

  // upstream::PoolCallbacks
  void onPoolReady(std::unique_ptr<upstream::UpstreamRequest> request, bool reused) override;
  void onPoolFailure(upstream::PoolFailureReason reason) override;
  // upstream::UpstreamRequestCallbacks
  void onResponseHead(http::ResponseHead&& head, bool end_stream) override;
  void onResponseData(Buffer& data, bool end_stream) override;
  void onResponseTrailers(http::HeaderMap&& trailers) override;
  void onReset(upstream::UpstreamResetReason reason) override;
  void onAboveWriteBufferHighWatermark() override;
  void onBelowWriteBufferLowWatermark() override;

 private:
  // Ends the request's accounting and hands it to the dispatcher for destruction.
  void endRequest(bool completed);

  AttemptCallbacks& callbacks_;
  event::Dispatcher& dispatcher_;
  upstream::ClusterInfoConstSharedPtr cluster_;
  upstream::HostSharedPtr host_;
  uint32_t number_;
  std::shared_ptr<upstream::ConnectionPool> pool_;
  upstream::ConnectionPool::Pending* pending_ = nullptr;
  std::unique_ptr<upstream::UpstreamRequest> request_;
  event::MonotonicTime request_start_{};
  std::unique_ptr<event::Timer> per_try_timer_;
  bool response_started_ = false;
};

}  // namespace skiff::router
