#include "http/http2_server_connection.h"

#include <vector>

#include "common/logging.h"

namespace skiff::http {

// One request stream: the ActiveStream and the ResponseEncoder that frames its response.
class Http2ServerConnection::Stream : public ResponseEncoder {
 public:
  Stream(Http2ServerConnection& parent, int32_t id)
      : parent_(parent),
        id_(id),
        active_(parent.worker_, *parent.config_, *this, parent.remote_ip_, parent.remote_address_,
                *parent.connection_) {}

  ActiveStream& active() { return active_; }

  void onRequestData(Buffer& data, bool end_stream) {
    size_t length = data.length();
    active_.decodeData(data, end_stream);
    // The window reopens as the upstream takes the bytes; while it pushes back, it stays shut.
    if (read_disabled_) {
      unconsumed_ += length;
    } else {
      parent_.codec_.consumed(id_, length);
    }
  }

  void onWritable() {
    if (!write_blocked_) return;
    write_blocked_ = false;
    active_.onDownstreamWriteBlocked(false);
  }

  void markPeerReset() { peer_reset_ = true; }

  // ResponseEncoder
  void encodeHead(ResponseHead& head, bool end_stream) override {
    head.protocol = Protocol::kHttp2;
    parent_.codec_.encodeHead(id_, head, end_stream);
    parent_.scheduleFlush();
  }

  void encodeData(Buffer& data, bool end_stream) override {
    parent_.codec_.encodeData(id_, data, end_stream);
    parent_.scheduleFlush();
    if (!write_blocked_ && parent_.codec_.bufferedBytes(id_) > parent_.stream_buffer_limit_) {
      write_blocked_ = true;
      active_.onDownstreamWriteBlocked(true);
    }
  }

  void encodeTrailers(const HeaderMap& trailers) override {
    parent_.codec_.encodeTrailers(id_, trailers);
    parent_.scheduleFlush();
  }

  void readDisable(bool disable) override {
    read_disabled_ = disable;
    if (!disable && unconsumed_ > 0) {
      parent_.codec_.consumed(id_, unconsumed_);
      unconsumed_ = 0;
      parent_.scheduleFlush();
    }
  }

  void onStreamComplete(bool reset) override {
    if (unconsumed_ > 0) {
      // Bytes the stream will never pass on still count against the connection's window.
      parent_.codec_.consumed(id_, unconsumed_);
      unconsumed_ = 0;
    }
    if (reset && !peer_reset_ && !parent_.closed_) {
      parent_.codec_.resetStream(id_, http2::kInternalError);
    }
    parent_.scheduleFlush();
    parent_.removeStream(id_);
  }

 private:
  Http2ServerConnection& parent_;
  int32_t id_;
  ActiveStream active_;
  size_t unconsumed_ = 0;
  bool read_disabled_ = false;
  bool write_blocked_ = false;
  bool peer_reset_ = false;
};

namespace {

http2::Http2Settings settingsFor(const HttpListenerConfig& config) {
  http2::Http2Settings settings;
  if (config.http2.max_concurrent_streams() > 0) {
    settings.max_concurrent_streams = config.http2.max_concurrent_streams();
  }
  if (config.http2.initial_stream_window_size() > 0) {
    settings.initial_stream_window_size = config.http2.initial_stream_window_size();
  }
  if (config.http2.initial_connection_window_size() > 0) {
    settings.initial_connection_window_size = config.http2.initial_connection_window_size();
  }
  settings.max_header_list_size = static_cast<uint32_t>(config.limits.max_header_bytes);
  return settings;
}

}  // namespace

Http2ServerConnection::Http2ServerConnection(server::WorkerContext& worker,
                                             std::shared_ptr<const HttpListenerConfig> config,
                                             std::unique_ptr<net::Connection> connection)
    : HttpServerConnectionBase(worker, std::move(config), std::move(connection)),
      stream_buffer_limit_(settingsFor(*config_).stream_buffer_limit),
      codec_(settingsFor(*config_), *this) {}

Http2ServerConnection::~Http2ServerConnection() {
  if (flush_scheduled_) worker_.dispatcher().cancelFlush(this);
  streams_.clear();
}

void Http2ServerConnection::start() {
  connection_->setCallbacks(this);
  connection_->startReading();
  scheduleFlush();  // our SETTINGS
  armIdleTimer();
  Buffer& early = connection_->readBuffer();
  if (early.length() > 0) onRead(early, false);
}

void Http2ServerConnection::onIdleTimeout() {
  codec_.goAway(http2::kNoError, false);
  flushDeferred();
  closeConnection(net::Connection::CloseType::kFlushWrite);
}

void Http2ServerConnection::onRead(Buffer& data, bool end_stream) {
  countBytesReceived();
  absl::Status status = codec_.dispatch(data);
  data.clear();
  if (!status.ok()) {
    stats_.protocol_errors.inc();
    SKIFF_LOG(kDebug, "%s: HTTP/2 connection error: %s", config_->name,
              std::string(status.message()));
    flushDeferred();  // the GOAWAY the codec queued
    closeConnection(net::Connection::CloseType::kFlushWrite);
    return;
  }
  scheduleFlush();
  if (end_stream) closeConnection(net::Connection::CloseType::kFlushWrite);
}

void Http2ServerConnection::onRequestHead(int32_t stream_id, RequestHead&& head,
                                          bool end_stream) {
  disarmIdleTimer();
  auto stream = std::make_unique<Stream>(*this, stream_id);
  Stream& ref = *stream;
  streams_[stream_id] = std::move(stream);
  ref.active().decodeHead(std::move(head), end_stream);
}

void Http2ServerConnection::onRequestData(int32_t stream_id, Buffer& data, bool end_stream) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    // The stream was answered early (say, a local reply): drop the bytes, keep the window open.
    codec_.consumed(stream_id, data.length());
    data.clear();
    return;
  }
  it->second->onRequestData(data, end_stream);
}

void Http2ServerConnection::onRequestTrailers(int32_t stream_id, HeaderMap&& trailers) {
  auto it = streams_.find(stream_id);
  if (it != streams_.end()) it->second->active().decodeTrailers(std::move(trailers));
}

void Http2ServerConnection::onStreamReset(int32_t stream_id, uint32_t error_code) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  it->second->markPeerReset();
  it->second->active().abort("DC");
}

void Http2ServerConnection::onStreamWritable(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it != streams_.end()) it->second->onWritable();
}

void Http2ServerConnection::removeStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  // The stream may be on the call stack: it dies on a later loop turn.
  worker_.dispatcher().deferredDelete(std::move(it->second));
  streams_.erase(it);
  if (streams_.empty()) {
    if (draining_ || worker_.draining()) scheduleFlush();  // may now close
    armIdleTimer();
  }
}

void Http2ServerConnection::scheduleFlush() {
  if (flush_scheduled_ || closed_) return;
  flush_scheduled_ = true;
  worker_.dispatcher().scheduleFlush(this);
}

void Http2ServerConnection::flushDeferred() {
  flush_scheduled_ = false;
  if (closed_) return;
  // A socket that does not drain keeps frames (and body bytes) in the codec, where per-stream
  // backpressure sees them, instead of in our write buffer.
  if (connection_->aboveHighWatermark()) return;
  codec_.drainOutput(out_);
  if (out_.length() > 0) {
    stats_.bytes_sent.inc(out_.length());
    connection_->write(out_, false);
  }
  if (codec_.shouldClose() && streams_.empty()) {
    closeConnection(net::Connection::CloseType::kFlushWrite);
  }
}

void Http2ServerConnection::onEvent(net::ConnectionEvent event) {
  if (!onClosedEvent(event)) return;
  // Aborting a stream removes it from the map: walk a copy of the ids.
  std::vector<int32_t> ids;
  for (const auto& [id, stream] : streams_) ids.push_back(id);
  for (int32_t id : ids) {
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->active().abort("DC");
  }
  worker_.onDownstreamClosed(*this);
}

void Http2ServerConnection::onAboveWriteBufferHighWatermark() {}

void Http2ServerConnection::onBelowWriteBufferLowWatermark() { scheduleFlush(); }

void Http2ServerConnection::drain() {
  if (draining_ || closed_) return;
  draining_ = true;
  codec_.goAway(http2::kNoError, /*graceful=*/true);
  scheduleFlush();
}

}  // namespace skiff::http
