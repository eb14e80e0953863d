#include "router/router.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "http/grpc.h"

namespace skiff::router {
namespace {

// Request bytes held while waiting for an upstream connection before reading pauses.
constexpr size_t kPendingBodyLimit = 1024 * 1024;

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Router::Router(server::WorkerContext& worker, RouterCallbacks& callbacks,
               std::shared_ptr<const RouteTable> routes)
    : worker_(worker), callbacks_(callbacks), routes_(std::move(routes)) {}

Router::~Router() { reset(); }

const std::string& Router::upstreamAddress() const {
  static const std::string kNone;
  return host_ ? host_->address : kNone;
}

void Router::decodeHeaders(http::RequestHead&& head, bool end_stream) {
  route_ = routes_->match(head);
  if (route_ == nullptr) {
    fail(404, "NR", absl::StrCat("no route for ", head.authority, head.pathWithoutQuery()));
    return;
  }
  cluster_name_ = route_->pickCluster(worker_.random().next());
  cluster_ = worker_.clusters().get(cluster_name_);
  if (cluster_ == nullptr) {
    fail(503, "NC", absl::StrCat("cluster ", cluster_name_, " not found"));
    return;
  }
  cluster_info_ = cluster_->infoPtr();
  upstream::LbContext lb_context;
  lb_context.hash_key = route_->hashKey(head);
  host_ = cluster_->chooseHost(lb_context);
  if (!host_) {
    cluster_info_->stats->lb_no_host.inc();
    fail(503, "UH", absl::StrCat("no healthy upstream in cluster ", cluster_name_));
    return;
  }

  grpc_timeout_ = http::grpc::parseTimeout(head.headers);
  route_->finalizeRequest(head);
  // HTTP/1.0 clients may omit Host; HTTP/1.1 upstreams require one.
  if (head.authority.empty()) head.authority = host_->address;
  upgrade_ = head.headers.has("upgrade");
  if (upgrade_) {
    request_framing_ = http1::BodyFraming::kCloseDelimited;  // a tunnel once the upgrade is on
  } else if (head.headers.has("content-length")) {
    request_framing_ = http1::BodyFraming::kContentLength;
  } else if (!end_stream) {
    head.headers.remove("transfer-encoding");
    request_framing_ = http1::BodyFraming::kChunked;
  }
  request_head_ = std::move(head);
  request_complete_ = end_stream;
  if (request_complete_) onRequestComplete();
  armIdleTimer();
  requestUpstreamConnection();
}

void Router::requestUpstreamConnection() {
  pool_ = cluster_->pool(host_);
  pending_ = pool_->newStream(*this);
}

void Router::onPoolReady(std::unique_ptr<upstream::UpstreamConnection> connection, bool reused) {
  pending_ = nullptr;
  connection_ = std::move(connection);
  connection_->setOwner(this);
  reused_connection_ = reused;
  sendRequest();
}

void Router::onPoolFailure(bool timed_out) {
  pending_ = nullptr;
  fail(503, "UF",
       absl::StrCat("upstream connect ", timed_out ? "timeout" : "error", " to ", host_->address));
}

void Router::sendRequest() {
  upstream_start_ = std::chrono::steady_clock::now();
  cluster_info_->stats->requests_active.add(1);
  host_->active_requests.fetch_add(1, std::memory_order_relaxed);
  connection_->countRequest();
  connection_->decoder().expectResponseTo(request_head_.method);

  Buffer& out = connection_->encodeBuffer();
  http1::encodeRequestHead(request_head_,
                           upgrade_ ? http1::BodyFraming::kNone : request_framing_, out);
  if (pending_body_.length() > 0 || request_complete_) {
    http1::encodeData(request_framing_, pending_body_, request_complete_ && !has_pending_trailers_,
                      out);
  }
  if (has_pending_trailers_) http1::encodeTrailers(request_framing_, pending_trailers_, out);
  connection_->connection().write(out, false);
  request_sent_ = request_complete_;
  if (body_blocked_ && !connection_->connection().aboveHighWatermark()) {
    body_blocked_ = false;
    callbacks_.onUpstreamWriteBlocked(false);
  }
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
  if (!connection_) {
    pending_body_.move(data);
    if (!body_blocked_ && pending_body_.length() > kPendingBodyLimit) {
      body_blocked_ = true;
      callbacks_.onUpstreamWriteBlocked(true);
    }
    return;
  }
  Buffer& out = connection_->encodeBuffer();
  http1::encodeData(request_framing_, data, end_stream, out);
  // In a tunnel the downstream's half-close is passed on as ours.
  connection_->connection().write(out, upgrade_ && end_stream);
  if (end_stream) request_sent_ = true;
}

void Router::decodeTrailers(http::HeaderMap&& trailers) {
  if (done_) return;
  request_complete_ = true;
  onRequestComplete();
  if (!connection_) {
    pending_trailers_ = std::move(trailers);
    has_pending_trailers_ = true;
    return;
  }
  Buffer& out = connection_->encodeBuffer();
  http1::encodeTrailers(request_framing_, trailers, out);
  connection_->connection().write(out, false);
  request_sent_ = true;
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
    idle_timer_ = worker_.dispatcher().createTimer([this] { fail(504, "SI", "stream idle timeout"); });
  }
  idle_timer_->enable(timeout);
}

void Router::onResponseHead(http::ResponseHead&& head, bool end_stream) {
  if (done_) return;
  response_started_ = true;
  armIdleTimer();
  if (head.status == 101) {
    route_timer_.reset();
  }
  route_->finalizeResponse(head);
  recordUpstreamResponse(head.status);
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
  // The connection goes back to the pool before the last bytes go downstream, so a pipelined
  // next request can take it; the bytes are taken out of the decoder first, since the next
  // exchange on that connection reuses the decoder.
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

void Router::recordUpstreamResponse(int status) {
  cluster_info_->stats->requests_total.inc(status);
}

void Router::onResponseComplete() {
  if (response_complete_) return;
  response_complete_ = true;
  cluster_info_->stats->request_duration.record(secondsSince(upstream_start_));
  // A connection whose request was not fully sent, or that tunnelled, cannot be reused.
  bool reusable = connection_ && request_sent_ && !connection_->tunnel() &&
                  connection_->decoder().keepAlive();
  releaseConnection(reusable);
  done_ = true;
  route_timer_.reset();
  idle_timer_.reset();
}

void Router::releaseConnection(bool reusable) {
  if (!connection_) return;
  cluster_info_->stats->requests_active.sub(1);
  host_->active_requests.fetch_sub(1, std::memory_order_relaxed);
  connection_->setOwner(nullptr);
  if (body_blocked_) connection_->connection().readDisable(false);
  if (reusable) {
    pool_->release(std::move(connection_));
  } else {
    worker_.dispatcher().deferredDelete(std::move(connection_));
  }
}

void Router::onConnectionLost(upstream::UpstreamConnection&, bool connect_failed,
                              bool protocol_error) {
  if (done_) return;
  if (connection_ && connection_->tunnel()) {
    // The upstream side of a tunnel closed: pass the end of stream on.
    onResponseComplete();
    Buffer empty;
    callbacks_.onUpstreamData(empty, true);
    return;
  }
  bool stale = reused_connection_ && !response_started_ && !protocol_error &&
               pending_body_.empty() && request_framing_ == http1::BodyFraming::kNone &&
               !retried_stale_connection_;
  releaseConnection(false);
  if (stale) {
    // A pooled keep-alive connection the upstream had already closed: the request never
    // reached it, so one fresh attempt is safe.
    retried_stale_connection_ = true;
    requestUpstreamConnection();
    return;
  }
  if (protocol_error) {
    fail(502, "UPE", "upstream sent a malformed response");
  } else {
    fail(503, "UC", "upstream connection closed before the response completed");
  }
}

void Router::onAboveWriteBufferHighWatermark() {
  if (body_blocked_) return;
  body_blocked_ = true;
  callbacks_.onUpstreamWriteBlocked(true);
}

void Router::onBelowWriteBufferLowWatermark() {
  if (!body_blocked_) return;
  body_blocked_ = false;
  callbacks_.onUpstreamWriteBlocked(false);
}

void Router::onDownstreamWriteBlocked(bool blocked) {
  if (connection_) connection_->connection().readDisable(blocked);
}

void Router::fail(int status, absl::string_view flag, absl::string_view detail) {
  if (done_) return;
  // A request that reached the upstream and got no response counts as the failure's status.
  if (connection_ && !response_started_) recordUpstreamResponse(status);
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
  releaseConnection(false);
}

}  // namespace skiff::router
