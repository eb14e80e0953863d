#include "upstream/http2_connection_pool.h"

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/logging.h"
#include "net/connection.h"

namespace skiff::upstream {
namespace {

class Http2UpstreamRequest;

}  // namespace

// One HTTP/2 connection: the socket, the client codec and the streams on it.
class Http2ConnectionPool::Connection : public net::ConnectionCallbacks,
                                        public http2::ClientCodecCallbacks,
                                        public event::DeferredFlush {
 public:
  // `connections`: the cluster's max_connections, of which this connection holds one unit
  // (already taken) until it is destroyed.
  Connection(Http2ConnectionPool& pool, std::unique_ptr<net::Connection> connection,
             ResourceLimit& connections)
      : hold_(connections,
              // The unit comes back after the pool let the connection go: waiters the limit
              // held back may get a connection now.
              [weak = pool.weak_from_this()] {
                if (auto alive = weak.lock()) alive->connectForPending();
              }),
        pool_(pool),
        dispatcher_(pool.dispatcher_),
        stats_(*pool.cluster_->stats),
        connection_(std::move(connection)),
        codec_(pool.settings_, *this) {
    connection_->setCallbacks(this);
    stats_.connections_total.inc();
    stats_.connections_active.add(1);
  }

  // A closed connection is deleted on a later loop turn, possibly after its pool (a cluster
  // update or shutdown drops pools): the destructor touches only what outlives pools.
  ~Connection() override {
    if (flush_scheduled_) dispatcher_.cancelFlush(this);
    connection_->setCallbacks(nullptr);
    connection_->close(net::Connection::CloseType::kNoFlush);
    stats_.connections_active.sub(1);
  }

  bool connected() const { return connected_; }
  bool closed() const { return closed_; }
  size_t activeStreams() const { return streams_.size(); }
  bool hasCapacity() const {
    return connected_ && !closed_ && !codec_.goAwayReceived() &&
           codec_.activeStreams() < codec_.remoteMaxConcurrentStreams();
  }

  absl::StatusOr<int32_t> startStream(const http::RequestHead& head, bool end_stream,
                                      Http2UpstreamRequest& request);
  void removeStream(int32_t id, size_t unconsumed, bool reset);
  http2::ClientCodec& codec() { return codec_; }
  void scheduleFlush() {
    if (flush_scheduled_ || closed_) return;
    flush_scheduled_ = true;
    dispatcher_.scheduleFlush(this);
  }
  void armIdleTimer();
  void close() {
    if (closed_) return;
    closed_ = true;
    idle_timer_.reset();
    connection_->close(net::Connection::CloseType::kFlushWrite);
  }

  // net::ConnectionCallbacks
  void onRead(Buffer& data, bool end_stream) override {
    absl::Status status = codec_.dispatch(data);
    data.clear();
    if (!status.ok()) {
      SKIFF_LOG(kDebug, "HTTP/2 upstream %s: %s", pool_.host_->address,
                std::string(status.message()));
      flushDeferred();
      close();
      return;
    }
    scheduleFlush();
    if (end_stream) close();
  }
  void onEvent(net::ConnectionEvent event) override;
  void onBelowWriteBufferLowWatermark() override { scheduleFlush(); }

  // http2::ClientCodecCallbacks
  void onResponseHead(int32_t id, http::ResponseHead&& head, bool end_stream) override;
  void onResponseData(int32_t id, Buffer& data, bool end_stream) override;
  void onResponseTrailers(int32_t id, http::HeaderMap&& trailers) override;
  void onStreamReset(int32_t id, uint32_t error_code) override;
  void onGoAway(int32_t, uint32_t) override { pool_.onCapacityChanged(*this); }
  void onStreamWritable(int32_t id) override;

  // event::DeferredFlush
  void flushDeferred() override {
    flush_scheduled_ = false;
    if (closed_ || !connected_ || connection_->aboveHighWatermark()) return;
    codec_.drainOutput(out_);
    if (out_.length() > 0) connection_->write(out_, false);
    if (codec_.shouldClose() && streams_.empty()) close();
  }

 private:
  Http2UpstreamRequest* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second;
  }

  ResourceHold hold_;  // first: released last, after the socket is closed
  Http2ConnectionPool& pool_;
  event::Dispatcher& dispatcher_;
  ClusterStats& stats_;
  std::unique_ptr<net::Connection> connection_;
  http2::ClientCodec codec_;
  absl::flat_hash_map<int32_t, Http2UpstreamRequest*> streams_;
  Buffer out_;
  std::unique_ptr<event::Timer> idle_timer_;
  bool connected_ = false;
  bool closed_ = false;
  bool flush_scheduled_ = false;
};

namespace {

// One exchange: a stream on a pooled HTTP/2 connection.
class Http2UpstreamRequest : public UpstreamRequest {
 public:
  Http2UpstreamRequest(std::shared_ptr<Http2ConnectionPool> pool,
                       Http2ConnectionPool::Connection& connection)
      : pool_(std::move(pool)), connection_(&connection) {}

  ~Http2UpstreamRequest() override { finish(/*reset=*/true); }

  void setCallbacks(UpstreamRequestCallbacks* callbacks) override { callbacks_ = callbacks; }

  void encodeHead(const http::RequestHead& head, bool end_stream) override {
    if (connection_ == nullptr) return;
    auto id = connection_->startStream(head, end_stream, *this);
    if (!id.ok()) {
      // The connection lost its capacity between the pool's check and now (GOAWAY).
      connection_ = nullptr;
      if (callbacks_ != nullptr) callbacks_->onReset(UpstreamResetReason::kRefused);
      return;
    }
    id_ = *id;
  }

  void encodeData(Buffer& data, bool end_stream) override {
    if (!live()) {
      data.clear();
      return;
    }
    connection_->codec().encodeData(id_, data, end_stream);
    connection_->scheduleFlush();
    if (!write_blocked_ &&
        connection_->codec().bufferedBytes(id_) > pool_->settings().stream_buffer_limit) {
      write_blocked_ = true;
      if (callbacks_ != nullptr) callbacks_->onAboveWriteBufferHighWatermark();
    }
  }

  void encodeTrailers(const http::HeaderMap& trailers) override {
    if (!live()) return;
    connection_->codec().encodeTrailers(id_, trailers);
    connection_->scheduleFlush();
  }

  void readDisable(bool disable) override {
    read_disabled_ = disable;
    if (!disable && unconsumed_ > 0 && live()) {
      connection_->codec().consumed(id_, unconsumed_);
      unconsumed_ = 0;
      connection_->scheduleFlush();
    }
  }

  void complete() override { finish(/*reset=*/false); }

  bool aboveWriteBufferHighWatermark() const override { return write_blocked_; }

  // From the connection.
  void onHead(http::ResponseHead&& head, bool end_stream) {
    if (callbacks_ != nullptr) callbacks_->onResponseHead(std::move(head), end_stream);
  }
  void onData(Buffer& data, bool end_stream) {
    size_t length = data.length();
    if (callbacks_ != nullptr) callbacks_->onResponseData(data, end_stream);
    if (!live()) return;
    if (read_disabled_) {
      unconsumed_ += length;
    } else {
      connection_->codec().consumed(id_, length);
    }
  }
  void onTrailers(http::HeaderMap&& trailers) {
    if (callbacks_ != nullptr) callbacks_->onResponseTrailers(std::move(trailers));
  }
  void onReset(UpstreamResetReason reason) {
    connection_ = nullptr;  // the stream is gone from the connection
    if (callbacks_ != nullptr) callbacks_->onReset(reason);
  }
  void onWritable() {
    if (!write_blocked_) return;
    write_blocked_ = false;
    if (callbacks_ != nullptr) callbacks_->onBelowWriteBufferLowWatermark();
  }

 private:
  bool live() const { return connection_ != nullptr && id_ > 0; }

  void finish(bool reset) {
    if (connection_ == nullptr) return;
    Http2ConnectionPool::Connection* connection = connection_;
    connection_ = nullptr;
    if (id_ > 0) connection->removeStream(id_, unconsumed_, reset);
  }

  std::shared_ptr<Http2ConnectionPool> pool_;  // keeps the connection's owner alive
  Http2ConnectionPool::Connection* connection_;
  UpstreamRequestCallbacks* callbacks_ = nullptr;
  int32_t id_ = 0;
  size_t unconsumed_ = 0;
  bool read_disabled_ = false;
  bool write_blocked_ = false;
};

}  // namespace

absl::StatusOr<int32_t> Http2ConnectionPool::Connection::startStream(
    const http::RequestHead& head, bool end_stream, Http2UpstreamRequest& request) {
  auto id = codec_.newStream(head, end_stream);
  if (!id.ok()) return id.status();
  streams_[*id] = &request;
  if (idle_timer_) idle_timer_->disable();
  scheduleFlush();
  return id;
}

void Http2ConnectionPool::Connection::removeStream(int32_t id, size_t unconsumed, bool reset) {
  if (streams_.erase(id) == 0) return;
  if (unconsumed > 0) codec_.consumed(id, unconsumed);
  if (reset) codec_.resetStream(id, http2::kCancel);
  scheduleFlush();
  pool_.onCapacityChanged(*this);
}

void Http2ConnectionPool::Connection::armIdleTimer() {
  if (pool_.cluster_->idle_timeout.count() == 0 || closed_) return;
  if (!idle_timer_) idle_timer_ = dispatcher_.createTimer([this] { close(); });
  idle_timer_->enable(pool_.cluster_->idle_timeout);
}

void Http2ConnectionPool::Connection::onEvent(net::ConnectionEvent event) {
  switch (event) {
    case net::ConnectionEvent::kConnected:
      connected_ = true;
      scheduleFlush();  // preface and SETTINGS
      pool_.onConnected(*this);
      return;
    case net::ConnectionEvent::kConnectFailed:
      closed_ = true;
      pool_.onConnectFailed(*this, failureReason(*connection_));
      return;
    case net::ConnectionEvent::kRemoteClose:
    case net::ConnectionEvent::kLocalClose: {
      closed_ = true;
      idle_timer_.reset();
      // Every stream still open is lost with the connection.
      std::vector<Http2UpstreamRequest*> lost;
      for (const auto& [id, request] : streams_) lost.push_back(request);
      streams_.clear();
      for (Http2UpstreamRequest* request : lost) {
        request->onReset(UpstreamResetReason::kConnectionTermination);
      }
      pool_.onClosed(*this);
      return;
    }
  }
}

void Http2ConnectionPool::Connection::onResponseHead(int32_t id, http::ResponseHead&& head,
                                                     bool end_stream) {
  if (Http2UpstreamRequest* request = find(id)) request->onHead(std::move(head), end_stream);
}

void Http2ConnectionPool::Connection::onResponseData(int32_t id, Buffer& data, bool end_stream) {
  Http2UpstreamRequest* request = find(id);
  if (request == nullptr) {
    codec_.consumed(id, data.length());
    data.clear();
    return;
  }
  request->onData(data, end_stream);
}

void Http2ConnectionPool::Connection::onResponseTrailers(int32_t id,
                                                         http::HeaderMap&& trailers) {
  if (Http2UpstreamRequest* request = find(id)) request->onTrailers(std::move(trailers));
}

void Http2ConnectionPool::Connection::onStreamReset(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Http2UpstreamRequest* request = it->second;
  streams_.erase(it);
  request->onReset(error_code == http2::kRefusedStream ? UpstreamResetReason::kRefused
                                                       : UpstreamResetReason::kConnectionTermination);
  pool_.onCapacityChanged(*this);
}

void Http2ConnectionPool::Connection::onStreamWritable(int32_t id) {
  if (Http2UpstreamRequest* request = find(id)) request->onWritable();
}

Http2ConnectionPool::Http2ConnectionPool(event::Dispatcher& dispatcher, HostSharedPtr host,
                                         ClusterInfoConstSharedPtr cluster)
    : dispatcher_(dispatcher), host_(std::move(host)), cluster_(std::move(cluster)) {
  const config::v1::Http2Options& options = cluster_->config.http2();
  if (options.max_concurrent_streams() > 0) {
    settings_.max_concurrent_streams = options.max_concurrent_streams();
  }
  if (options.initial_stream_window_size() > 0) {
    settings_.initial_stream_window_size = options.initial_stream_window_size();
  }
  if (options.initial_connection_window_size() > 0) {
    settings_.initial_connection_window_size = options.initial_connection_window_size();
  }
}

Http2ConnectionPool::~Http2ConnectionPool() = default;

Http2ConnectionPool::Connection* Http2ConnectionPool::connectionWithCapacity() {
  for (auto& connection : connections_) {
    if (connection->hasCapacity()) return connection.get();
  }
  return nullptr;
}

void Http2ConnectionPool::attach(PoolCallbacks& callbacks, Connection& connection) {
  bool reused = connection.activeStreams() > 0 || connection.codec().activeStreams() > 0;
  if (reused) cluster_->stats->connections_reused.inc();
  callbacks.onPoolReady(std::make_unique<Http2UpstreamRequest>(shared_from_this(), connection),
                        reused);
}

ConnectionPool::Pending* Http2ConnectionPool::newStream(PoolCallbacks& callbacks) {
  if (Connection* connection = connectionWithCapacity()) {
    attach(callbacks, *connection);
    return nullptr;
  }
  std::unique_ptr<Pending> admitted =
      Pending::admit(callbacks, cluster_->breakers->pending_requests);
  if (!admitted) return nullptr;
  pending_.push_back(std::move(admitted));
  Pending* pending = pending_.back().get();
  connectForPending();
  return pending;
}

void Http2ConnectionPool::connectForPending() {
  if (pending_.empty() || draining_) return;
  // One connection being set up serves every waiter that fits in its stream limit.
  for (auto& connection : connections_) {
    if (!connection->connected() && !connection->closed()) return;
  }
  // At the cluster's max_connections the waiters wait for stream capacity on the connections
  // this pool has; a pool with none may always open one.
  ResourceLimit& limit = cluster_->breakers->connections;
  if (!limit.tryAcquireConnection(!connections_.empty())) return;
  auto socket = net::Connection::connect(
      dispatcher_, reinterpret_cast<const sockaddr*>(&host_->sockaddr), cluster_->connect_timeout);
  if (cluster_->tls) socket->startClientTls(cluster_->tls->newTransport());
  connections_.push_back(std::make_unique<Connection>(*this, std::move(socket), limit));
}

void Http2ConnectionPool::cancel(Pending* pending) {
  pending_.remove_if([&](const auto& p) { return p.get() == pending; });
}

void Http2ConnectionPool::servePending() {
  while (!pending_.empty()) {
    Connection* connection = connectionWithCapacity();
    if (connection == nullptr) break;
    std::unique_ptr<Pending> pending = std::move(pending_.front());
    pending_.pop_front();
    // The request's head is sent inside onPoolReady, so the capacity check stays true.
    attach(pending->callbacks, *connection);
  }
  connectForPending();
}

void Http2ConnectionPool::onConnected(Connection& connection) {
  servePending();
  if (connection.activeStreams() == 0) connection.armIdleTimer();
}

void Http2ConnectionPool::onConnectFailed(Connection& connection, PoolFailureReason reason) {
  cluster_->stats->connect_failures.inc();
  if (reason == PoolFailureReason::kTimeout) cluster_->stats->connect_timeouts.inc();
  // Everyone waiting was waiting for this connection.
  std::list<std::unique_ptr<Pending>> failed;
  failed.swap(pending_);
  onClosed(connection);
  for (auto& pending : failed) pending->callbacks.onPoolFailure(reason);
}

void Http2ConnectionPool::onCapacityChanged(Connection& connection) {
  servePending();
  if (connection.activeStreams() == 0) {
    if (draining_ || connection.codec().goAwayReceived()) {
      connection.close();
    } else {
      connection.armIdleTimer();
    }
  }
}

void Http2ConnectionPool::onClosed(Connection& connection) {
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() == &connection) {
      dispatcher_.deferredDelete(std::move(*it));
      connections_.erase(it);
      return;
    }
  }
}

void Http2ConnectionPool::drain() {
  draining_ = true;
  // close() leads to onClosed(), which erases from connections_: collect first.
  std::vector<Connection*> idle;
  for (auto& connection : connections_) {
    if (connection->activeStreams() == 0) idle.push_back(connection.get());
  }
  for (Connection* connection : idle) connection->close();
}

}  // namespace skiff::upstream
