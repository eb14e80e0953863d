#include "upstream/http1_connection_pool.h"

#include <algorithm>

namespace skiff::upstream {

namespace {

// One exchange on an HTTP/1.1 connection, which it owns until complete() gives the connection
// back to the pool (or closes it).
class Http1UpstreamRequest : public UpstreamRequest, public Http1ConnectionOwner {
 public:
  Http1UpstreamRequest(std::shared_ptr<Http1ConnectionPool> pool, event::Dispatcher& dispatcher,
                       std::unique_ptr<Http1UpstreamConnection> connection, bool reused)
      : pool_(std::move(pool)),
        dispatcher_(dispatcher),
        connection_(std::move(connection)),
        reused_(reused) {
    connection_->setOwner(this);
  }

  ~Http1UpstreamRequest() override {
    if (connection_) {
      connection_->setOwner(nullptr);
      dispatcher_.deferredDelete(std::move(connection_));
    }
  }

  void setCallbacks(UpstreamRequestCallbacks* callbacks) override { callbacks_ = callbacks; }

  void encodeHead(const http::RequestHead& head, bool end_stream) override {
    upgrade_ = head.headers.has("upgrade");
    if (upgrade_) {
      framing_ = http1::BodyFraming::kCloseDelimited;  // a tunnel once the upgrade is on
    } else if (head.headers.has("content-length")) {
      framing_ = http1::BodyFraming::kContentLength;
    } else if (!end_stream) {
      framing_ = http1::BodyFraming::kChunked;
    } else {
      framing_ = http1::BodyFraming::kNone;
    }
    connection_->countRequest();
    connection_->decoder().expectResponseTo(head.method);
    Buffer& out = connection_->encodeBuffer();
    http1::encodeRequestHead(head, upgrade_ ? http1::BodyFraming::kNone : framing_, out);
    connection_->connection().write(out, false);
    request_sent_ = end_stream;
  }

  void encodeData(Buffer& data, bool end_stream) override {
    Buffer& out = connection_->encodeBuffer();
    http1::encodeData(framing_, data, end_stream, out);
    // In a tunnel the downstream's half-close is passed on as ours.
    connection_->connection().write(out, upgrade_ && end_stream);
    if (end_stream) request_sent_ = true;
  }

  void encodeTrailers(const http::HeaderMap& trailers) override {
    Buffer& out = connection_->encodeBuffer();
    http1::encodeTrailers(framing_, trailers, out);
    connection_->connection().write(out, false);
    request_sent_ = true;
  }

  void readDisable(bool disable) override { connection_->connection().readDisable(disable); }

  bool aboveWriteBufferHighWatermark() const override {
    return connection_->connection().aboveHighWatermark();
  }

  void complete() override {
    if (!connection_) return;
    connection_->setOwner(nullptr);
    // Reading may be paused by backpressure; an idle connection must notice a close.
    connection_->connection().readDisable(false);
    // A connection whose request was not fully sent, or that tunnelled, cannot be reused.
    bool reusable =
        request_sent_ && !connection_->tunnel() && connection_->decoder().keepAlive();
    if (reusable) {
      pool_->release(std::move(connection_));
    } else {
      dispatcher_.deferredDelete(std::move(connection_));
    }
  }

  // Http1ConnectionOwner. An abandoned request (callbacks cleared, destruction deferred) ignores
  // what still arrives; its connection closes when it is destroyed.
  void onResponseHead(http::ResponseHead&& head, bool end_stream) override {
    response_started_ = true;
    if (callbacks_ != nullptr) callbacks_->onResponseHead(std::move(head), end_stream);
  }
  void onResponseData(Buffer& data, bool end_stream) override {
    if (callbacks_ == nullptr) {
      data.clear();
      return;
    }
    callbacks_->onResponseData(data, end_stream);
  }
  void onResponseTrailers(http::HeaderMap&& trailers) override {
    if (callbacks_ != nullptr) callbacks_->onResponseTrailers(std::move(trailers));
  }
  void onConnectionLost(Http1UpstreamConnection&, bool, bool protocol_error) override {
    if (callbacks_ == nullptr) return;
    if (connection_->tunnel()) {
      // The upstream side of a tunnel closed: that is the end of its stream.
      Buffer empty;
      callbacks_->onResponseData(empty, true);
      return;
    }
    UpstreamResetReason reason = UpstreamResetReason::kConnectionTermination;
    if (protocol_error) {
      reason = UpstreamResetReason::kProtocolError;
    } else if (reused_ && !response_started_) {
      // A pooled keep-alive connection the upstream had already closed: the request never
      // reached it.
      reason = UpstreamResetReason::kRefused;
    }
    callbacks_->onReset(reason);
  }
  void onAboveWriteBufferHighWatermark() override {
    if (callbacks_ != nullptr) callbacks_->onAboveWriteBufferHighWatermark();
  }
  void onBelowWriteBufferLowWatermark() override {
    if (callbacks_ != nullptr) callbacks_->onBelowWriteBufferLowWatermark();
  }

 private:
  std::shared_ptr<Http1ConnectionPool> pool_;
  event::Dispatcher& dispatcher_;
  std::unique_ptr<Http1UpstreamConnection> connection_;
  UpstreamRequestCallbacks* callbacks_ = nullptr;
  http1::BodyFraming framing_ = http1::BodyFraming::kNone;
  bool reused_;
  bool upgrade_ = false;
  bool request_sent_ = false;
  bool response_started_ = false;
};

}  // namespace

Http1ConnectionPool::Http1ConnectionPool(event::Dispatcher& dispatcher, HostSharedPtr host,
                                         ClusterInfoConstSharedPtr cluster)
    : dispatcher_(dispatcher), host_(std::move(host)), cluster_(std::move(cluster)) {}

Http1ConnectionPool::~Http1ConnectionPool() {
  for (auto& connection : connecting_) connection->setOwner(nullptr);
  for (auto& idle : idle_) idle.connection->setOwner(nullptr);
}

void Http1ConnectionPool::hand(PoolCallbacks& callbacks,
                               std::unique_ptr<Http1UpstreamConnection> connection, bool reused) {
  if (reused) cluster_->stats->connections_reused.inc();
  connection->setIdle(false);
  callbacks.onPoolReady(std::make_unique<Http1UpstreamRequest>(shared_from_this(), dispatcher_,
                                                               std::move(connection), reused),
                        reused);
}

ConnectionPool::Pending* Http1ConnectionPool::newStream(PoolCallbacks& callbacks) {
  while (!idle_.empty()) {
    IdleConnection idle = std::move(idle_.back());
    idle_.pop_back();
    if (idle.connection->lost()) {
      dispatcher_.deferredDelete(std::move(idle.connection));
      continue;
    }
    hand(callbacks, std::move(idle.connection), true);
    return nullptr;
  }
  std::unique_ptr<Pending> admitted =
      Pending::admit(callbacks, cluster_->breakers->pending_requests);
  if (!admitted) return nullptr;
  pending_.push_back(std::move(admitted));
  Pending* request = pending_.back().get();
  connectForPending();
  return request;
}

void Http1ConnectionPool::connectForPending() {
  if (draining_ || pending_.size() <= connecting_.size()) return;
  // At the cluster's max_connections a request waits for one of this pool's connections to
  // come back; a pool with none may always open one, or its requests would never run.
  ResourceLimit& limit = cluster_->breakers->connections;
  if (!limit.tryAcquireConnection(open_connections_ > 0)) return;
  ++open_connections_;
  auto hold = std::make_unique<ResourceHold>(
      limit, [pool = weak_from_this()] {
        if (auto alive = pool.lock()) alive->onConnectionDestroyed();
      });
  auto connection = net::Connection::connect(
      dispatcher_, reinterpret_cast<const sockaddr*>(&host_->sockaddr), cluster_->connect_timeout);
  if (cluster_->tls) connection->startClientTls(cluster_->tls->newTransport());
  connecting_.push_back(std::make_unique<Http1UpstreamConnection>(
      std::move(connection), host_, *cluster_->stats, std::move(hold)));
  connecting_.back()->setOwner(this);
}

void Http1ConnectionPool::onConnectionDestroyed() {
  --open_connections_;
  connectForPending();
}

void Http1ConnectionPool::cancel(Pending* request) {
  // The connection it caused keeps going and joins the idle set when it connects.
  pending_.remove_if([&](const auto& p) { return p.get() == request; });
}

std::unique_ptr<Http1UpstreamConnection> Http1ConnectionPool::takeConnecting(
    Http1UpstreamConnection& connection) {
  auto it = std::find_if(connecting_.begin(), connecting_.end(),
                         [&](const auto& c) { return c.get() == &connection; });
  if (it == connecting_.end()) return nullptr;
  std::unique_ptr<Http1UpstreamConnection> taken = std::move(*it);
  connecting_.erase(it);
  return taken;
}

void Http1ConnectionPool::onConnected(Http1UpstreamConnection& connection) {
  auto taken = takeConnecting(connection);
  if (!taken) return;
  if (pending_.empty()) {
    release(std::move(taken));
    return;
  }
  std::unique_ptr<Pending> request = std::move(pending_.front());
  pending_.pop_front();
  hand(request->callbacks, std::move(taken), false);
}

void Http1ConnectionPool::onConnectionLost(Http1UpstreamConnection& connection,
                                           bool connect_failed, bool protocol_error) {
  if (auto taken = takeConnecting(connection)) {
    PoolFailureReason reason = failureReason(taken->connection());
    cluster_->stats->connect_failures.inc();
    if (reason == PoolFailureReason::kTimeout) cluster_->stats->connect_timeouts.inc();
    taken->setOwner(nullptr);
    dispatcher_.deferredDelete(std::move(taken));
    // Fail one waiting request per failed attempt, oldest first.
    if (!pending_.empty() && pending_.size() > connecting_.size()) {
      std::unique_ptr<Pending> request = std::move(pending_.front());
      pending_.pop_front();
      request->callbacks.onPoolFailure(reason);
    }
    return;
  }
  closeIdle(&connection);
}

void Http1ConnectionPool::closeIdle(Http1UpstreamConnection* connection) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->connection.get() == connection) {
      it->connection->setOwner(nullptr);
      dispatcher_.deferredDelete(std::move(it->connection));
      // This may run inside the timer's own callback: let the timer die later.
      if (it->idle_timer) dispatcher_.deferredDelete(std::move(it->idle_timer));
      idle_.erase(it);
      return;
    }
  }
}

void Http1ConnectionPool::release(std::unique_ptr<Http1UpstreamConnection> connection) {
  uint32_t max_requests = cluster_->max_requests_per_connection;
  if (draining_ || connection->lost() || !connection->connected() ||
      (max_requests > 0 && connection->requestsSent() >= max_requests)) {
    connection->setOwner(nullptr);
    dispatcher_.deferredDelete(std::move(connection));
    return;
  }
  if (!pending_.empty()) {
    std::unique_ptr<Pending> request = std::move(pending_.front());
    pending_.pop_front();
    hand(request->callbacks, std::move(connection), true);
    return;
  }
  connection->setOwner(this);
  connection->setIdle(true);
  Http1UpstreamConnection* raw = connection.get();
  IdleConnection idle{std::move(connection), nullptr};
  if (cluster_->idle_timeout.count() > 0) {
    idle.idle_timer = dispatcher_.createTimer([this, raw] { closeIdle(raw); });
    idle.idle_timer->enable(cluster_->idle_timeout);
  }
  idle_.push_back(std::move(idle));
}

void Http1ConnectionPool::drain() {
  draining_ = true;
  while (!idle_.empty()) closeIdle(idle_.front().connection.get());
}

}  // namespace skiff::upstream
