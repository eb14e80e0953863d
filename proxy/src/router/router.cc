#include "router/router.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "http/grpc.h"
#include "upstream/original_dst_host.h"

namespace skiff::router {
namespace {

// Request bytes held while waiting for an upstream connection before reading pauses.
constexpr size_t kPendingBodyLimit = 1024 * 1024;

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Router::Router(server::WorkerContext& worker, RouterCallbacks& callbacks, const RouteEntry& route,
               StreamInfo& info)
    : worker_(worker), callbacks_(callbacks), route_(&route), info_(info) {}

Router::~Router() { reset(); }

void Router::decodeHeaders(http::RequestHead&& head, bool end_stream) {
  cluster_name_ = route_->pickCluster(worker_.random().next());
  info_.upstream_cluster = cluster_name_;
  upstream::ThreadLocalCluster* cluster = worker_.clusters().get(cluster_name_);
  if (cluster == nullptr) {
    fail(503, "NC", absl::StrCat("cluster ", cluster_name_, " not found"));
    return;
  }
  cluster_info_ = cluster->infoPtr();
  if (cluster_info_->config.type() == config::v1::Cluster::ORIGINAL_DST) {
    // HTTP passthrough: the request goes where the application sent it.
    const net::Connection* downstream = callbacks_.downstreamConnection();
    if (downstream != nullptr) {
      host_ = upstream::originalDestinationHost(*cluster_info_, *downstream);
    }
  } else {
    upstream::LbContext lb_context;
    lb_context.hash_key = route_->hashKey(head);
    host_ = cluster->chooseHost(lb_context);
  }
  if (!host_) {
    cluster_info_->stats->lb_no_host.inc();
    fail(503, "UH", absl::StrCat("no healthy upstream in cluster ", cluster_name_));
    return;
  }

  info_.upstream_host = host_->address;
  grpc_timeout_ = http::grpc::parseTimeout(head.headers);
  route_->finalizeRequest(head);
  // HTTP/1.0 clients may omit Host; HTTP/1.1 upstreams require one.
  if (head.authority.empty()) head.authority = host_->address;
  upgrade_ = head.headers.has("upgrade");
  request_has_body_ = !end_stream;
  request_head_ = std::move(head);
  request_complete_ = end_stream;
  if (request_complete_) onRequestComplete();
  armIdleTimer();
  requestUpstream(*cluster);
}

void Router::requestUpstream(upstream::ThreadLocalCluster& cluster) {
  ++info_.attempt_count;
  pool_ = cluster.pool(host_);
  pending_ = pool_->newStream(*this);
}

void Router::onPoolReady(std::unique_ptr<upstream::UpstreamRequest> request, bool) {
  pending_ = nullptr;
  upstream_ = std::move(request);
  upstream_->setCallbacks(this);
  upstream_start_ = std::chrono::steady_clock::now();
  cluster_info_->stats->requests_active.add(1);
  host_->active_requests.fetch_add(1, std::memory_order_relaxed);

  upstream_->encodeHead(request_head_, request_complete_ && !request_has_body_);
  if (request_has_body_ && (pending_body_.length() > 0 || request_complete_)) {
    upstream_->encodeData(pending_body_, request_complete_ && !has_pending_trailers_);
  }
  if (has_pending_trailers_) upstream_->encodeTrailers(pending_trailers_);
  if (upstream_ && body_blocked_ && !upstream_->aboveWriteBufferHighWatermark()) {
    setBodyBlocked(false);
  }
}

void Router::onPoolFailure(bool timed_out) {
  pending_ = nullptr;
  fail(503, "UF",
       absl::StrCat("upstream connect ", timed_out ? "timeout" : "error", " to ", host_->address));
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
  if (!upstream_) {
    pending_body_.move(data);
    if (pending_body_.length() > kPendingBodyLimit) setBodyBlocked(true);
    return;
  }
  upstream_->encodeData(data, end_stream);
}

void Router::decodeTrailers(http::HeaderMap&& trailers) {
  if (done_) return;
  request_complete_ = true;
  onRequestComplete();
  if (!upstream_) {
    pending_trailers_ = std::move(trailers);
    has_pending_trailers_ = true;
    return;
  }
  upstream_->encodeTrailers(trailers);
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
  if (done_ || route_ == nullptr) return;
  std::chrono::milliseconds timeout = route_->idleTimeout();
  if (timeout.count() == 0) return;
  if (!idle_timer_) {
    idle_timer_ =
        worker_.dispatcher().createTimer([this] { fail(504, "SI", "stream idle timeout"); });
  }
  idle_timer_->enable(timeout);
}

void Router::onResponseHead(http::ResponseHead&& head, bool end_stream) {
  if (done_) return;
  response_started_ = true;
  armIdleTimer();
  if (head.status == 101) route_timer_.reset();  // a tunnel lives as long as its peers want
  route_->finalizeResponse(head);
  cluster_info_->stats->requests_total.inc(head.status);
  // The connection goes back to the pool before the response goes downstream, so a pipelined
  // next request can take it.
  if (end_stream && head.status != 101) onResponseComplete();
  callbacks_.onUpstreamHead(std::move(head), end_stream);
}

void Router::onResponseData(Buffer& data, bool end_stream) {
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

void Router::onResponseTrailers(http::HeaderMap&& trailers) {
  if (done_) return;
  onResponseComplete();
  callbacks_.onUpstreamTrailers(std::move(trailers));
}

void Router::onResponseComplete() {
  cluster_info_->stats->request_duration.record(secondsSince(upstream_start_));
  endUpstreamRequest(true);
  done_ = true;
  route_timer_.reset();
  idle_timer_.reset();
}

void Router::endUpstreamRequest(bool completed) {
  if (!upstream_) return;
  cluster_info_->stats->requests_active.sub(1);
  host_->active_requests.fetch_sub(1, std::memory_order_relaxed);
  upstream_->setCallbacks(nullptr);
  if (completed) upstream_->complete();
  // A request that did not complete is abandoned as it is destroyed (its connection closes).
  worker_.dispatcher().deferredDelete(std::move(upstream_));
}

void Router::onReset(upstream::UpstreamResetReason reason) {
  if (done_) return;
  endUpstreamRequest(false);
  // The upstream provably did not process the request: one more try is safe when the request
  // can be sent again in full (no body, which we do not keep).
  if (reason == upstream::UpstreamResetReason::kRefused && !response_started_ &&
      !request_has_body_ && !retried_) {
    retried_ = true;
    // Looked up again: by a later loop turn a configuration change may have replaced or
    // removed the cluster (the worker's cluster map is only stable within one turn).
    upstream::ThreadLocalCluster* cluster = worker_.clusters().get(cluster_name_);
    if (cluster == nullptr) {
      fail(503, "NC", absl::StrCat("cluster ", cluster_name_, " not found"));
      return;
    }
    requestUpstream(*cluster);
    return;
  }
  if (reason == upstream::UpstreamResetReason::kProtocolError) {
    fail(502, "UPE", "upstream sent a malformed response");
  } else {
    fail(503, "UC", "upstream connection closed before the response completed");
  }
}

void Router::setBodyBlocked(bool blocked) {
  if (body_blocked_ == blocked) return;
  body_blocked_ = blocked;
  callbacks_.onUpstreamWriteBlocked(blocked);
}

void Router::onAboveWriteBufferHighWatermark() { setBodyBlocked(true); }

void Router::onBelowWriteBufferLowWatermark() { setBodyBlocked(false); }

void Router::onDownstreamWriteBlocked(bool blocked) {
  if (upstream_) upstream_->readDisable(blocked);
}

void Router::fail(int status, absl::string_view flag, absl::string_view detail) {
  if (done_) return;
  // A request that reached the upstream and got no response counts as the failure's status.
  if (upstream_ && !response_started_) cluster_info_->stats->requests_total.inc(status);
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
  if (pending_ != nullptr) {
    pool_->cancel(pending_);
    pending_ = nullptr;
  }
  endUpstreamRequest(false);
}

}  // namespace skiff::router
