#include "http/connection_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/logging.h"

namespace skiff::http {
namespace {

std::string generateRequestId(Random& random) {
  // RFC 4122 version 4 UUID.
  uint64_t high = random.next();
  uint64_t low = random.next();
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  std::string hex = absl::StrCat(absl::Hex(high, absl::kZeroPad16), absl::Hex(low, absl::kZeroPad16));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20, 12));
}

bool hasToken(const std::string* value, absl::string_view token) {
  if (value == nullptr) return false;
  for (absl::string_view part : absl::StrSplit(*value, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(part), token)) return true;
  }
  return false;
}

// Hop-by-hop headers (RFC 9110 7.6.1) do not cross the proxy, nor do the headers the
// Connection header names. An upgrade keeps "connection: upgrade" and "upgrade".
void removeHopByHopHeaders(HeaderMap& headers, bool keep_upgrade) {
  std::vector<std::string> named;  // extra hop-by-hop names listed in Connection (rare)
  if (const std::string* connection = headers.get("connection")) {
    for (absl::string_view part : absl::StrSplit(*connection, ',')) {
      std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
      if (!name.empty() && name != "upgrade" && name != "close" && name != "keep-alive") {
        named.push_back(std::move(name));
      }
    }
  }
  headers.removeIf([&](const HeaderMap::Entry& entry) {
    const std::string& name = entry.first;
    if (name == "connection" || name == "keep-alive" || name == "proxy-connection") return true;
    if (name == "upgrade") return !keep_upgrade;
    if (name == "te") {
      return !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(entry.second), "trailers");
    }
    return !named.empty() && std::find(named.begin(), named.end(), name) != named.end();
  });
  if (keep_upgrade) headers.add("connection", "upgrade");
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// One request and its response.
class HttpConnectionManager::ActiveStream : public router::RouterCallbacks {
 public:
  explicit ActiveStream(HttpConnectionManager& parent)
      : parent_(parent), start_(std::chrono::steady_clock::now()), start_time_(absl::Now()) {
    parent_.stats_.requests_active.add(1);
  }
  ~ActiveStream() override { parent_.stats_.requests_active.sub(1); }

  void decodeHead(RequestHead&& head, bool end_stream) {
    method_ = head.method;
    authority_ = head.authority;
    path_ = head.path;
    protocol_ = head.protocol;
    request_complete_ = end_stream;
    close_after_response_ = !http1::wantsKeepAlive(head.protocol, head.headers) ||
                            parent_.draining_ || parent_.worker_.draining();
    http10_keep_alive_ = head.protocol == Protocol::kHttp10 && !close_after_response_;
    is_head_request_ = head.method == "HEAD";

    const std::string* expect = head.headers.get("expect");
    if (expect != nullptr) {
      if (!absl::EqualsIgnoreCase(*expect, "100-continue")) {
        sendLocalReply(417, "DPE", "unsupported expectation");
        return;
      }
      if (head.protocol == Protocol::kHttp11 && !end_stream) {
        // Answer the client ourselves; the upstream gets the body without waiting.
        Buffer interim;
        interim.add("HTTP/1.1 100 Continue\r\n\r\n");
        parent_.write(interim);
      }
      head.headers.remove("expect");
    }

    upgrade_ = hasToken(head.headers.get("connection"), "upgrade") && head.headers.has("upgrade");
    removeHopByHopHeaders(head.headers, upgrade_);
    if (const std::string* id = head.headers.get("x-request-id")) {
      request_id_ = *id;
    } else {
      request_id_ = generateRequestId(parent_.worker_.random());
      head.headers.add("x-request-id", request_id_);
    }
    const std::string& remote_ip = parent_.remote_ip_;
    if (const std::string* xff = head.headers.get("x-forwarded-for")) {
      head.headers.set("x-forwarded-for", absl::StrCat(*xff, ", ", remote_ip));
    } else {
      head.headers.add("x-forwarded-for", remote_ip);
    }
    head.headers.set("x-forwarded-proto", "http");

    router_ = std::make_unique<router::Router>(parent_.worker_, *this, parent_.config_->routes);
    router_->decodeHeaders(std::move(head), end_stream);
  }

  void decodeData(Buffer& data, bool end_stream) {
    bytes_received_ += data.length();
    if (end_stream) request_complete_ = true;
    if (router_ && !complete_) {
      router_->decodeData(data, end_stream);
    } else {
      data.clear();
    }
  }

  void decodeTrailers(HeaderMap&& trailers) {
    request_complete_ = true;
    if (router_ && !complete_) router_->decodeTrailers(std::move(trailers));
  }

  // router::RouterCallbacks
  void onUpstreamHead(ResponseHead&& head, bool end_stream) override {
    status_ = head.status;
    if (head.status == 101 && upgrade_) {
      tunnel_ = true;
      framing_ = http1::BodyFraming::kCloseDelimited;
      removeHopByHopHeaders(head.headers, true);
      head.protocol = Protocol::kHttp11;
      Buffer& out = parent_.encode_buffer_;
      http1::encodeResponseHead(head, http1::BodyFraming::kNone, out);
      parent_.write(out);
      response_started_ = true;
      // Bytes the client sent after its upgrade request belong to the tunnel.
      Buffer& early = parent_.connection_->readBuffer();
      if (early.length() > 0) router_->decodeData(early, false);
      return;
    }
    removeHopByHopHeaders(head.headers, false);
    if (upgrade_) close_after_response_ = true;  // refused upgrade: the rest of the stream is not HTTP
    bool bodyless = is_head_request_ || head.status == 204 || head.status == 304;
    if (bodyless) {
      framing_ = http1::BodyFraming::kNone;
    } else if (head.headers.has("content-length")) {
      framing_ = http1::BodyFraming::kContentLength;
    } else if (end_stream) {
      head.headers.add("content-length", "0");
      framing_ = http1::BodyFraming::kNone;
    } else if (protocol_ == Protocol::kHttp11) {
      head.headers.remove("transfer-encoding");
      framing_ = http1::BodyFraming::kChunked;
    } else {
      head.headers.remove("transfer-encoding");
      framing_ = http1::BodyFraming::kCloseDelimited;
      close_after_response_ = true;
    }
    if (close_after_response_) {
      head.headers.add("connection", "close");
    } else if (http10_keep_alive_) {
      head.headers.add("connection", "keep-alive");
    }
    head.protocol = Protocol::kHttp11;
    Buffer& out = parent_.encode_buffer_;
    http1::encodeResponseHead(head, framing_, out);
    response_started_ = true;
    if (end_stream) {
      parent_.write(out);
      complete();
      return;
    }
    parent_.write(out);
  }

  void onUpstreamData(Buffer& data, bool end_stream) override {
    if (complete_) return;
    Buffer& out = parent_.encode_buffer_;
    http1::encodeData(framing_, data, end_stream, out);
    parent_.write(out);
    if (end_stream) complete();
  }

  void onUpstreamTrailers(HeaderMap&& trailers) override {
    if (complete_) return;
    Buffer& out = parent_.encode_buffer_;
    http1::encodeTrailers(framing_, trailers, out);
    parent_.write(out);
    complete();
  }

  void onUpstreamFailure(int status, absl::string_view flag, absl::string_view detail) override {
    if (complete_) return;
    if (response_started_) {
      // Part of the response is already out: the only honest signal left is a reset.
      flags_ = std::string(flag);
      reset_ = true;
      complete();
      return;
    }
    sendLocalReply(status, flag, detail);
  }

  void onUpstreamWriteBlocked(bool blocked) override {
    parent_.connection_->readDisable(blocked);
  }

  void onDownstreamWriteBlocked(bool blocked) {
    if (router_) router_->onDownstreamWriteBlocked(blocked);
  }

  // The proxy answers by itself: a short text body and the response flag in a header.
  void sendLocalReply(int status, absl::string_view flag, absl::string_view detail) {
    if (complete_) return;
    if (router_) router_->reset();
    status_ = status;
    flags_ = std::string(flag);
    if (!request_complete_ || upgrade_) close_after_response_ = true;
    std::string body = absl::StrCat(detail, "\n");
    ResponseHead head;
    head.status = status;
    head.headers.add("content-type", "text/plain");
    head.headers.add("content-length", std::to_string(body.size()));
    head.headers.add("x-skiff-flags", std::string(flag));
    if (close_after_response_) {
      head.headers.add("connection", "close");
    } else if (http10_keep_alive_) {
      head.headers.add("connection", "keep-alive");
    }
    Buffer& out = parent_.encode_buffer_;
    http1::encodeResponseHead(head, http1::BodyFraming::kContentLength, out);
    if (!is_head_request_) out.add(body);
    response_started_ = true;
    parent_.write(out);
    complete();
  }

  // The downstream closed or reset before the exchange finished.
  void abort(absl::string_view flag) {
    if (complete_) return;
    flags_ = std::string(flag);
    reset_ = true;
    if (router_) router_->reset();
    complete();
  }

  void complete() {
    if (complete_) return;
    complete_ = true;
    ListenerStats& stats = parent_.stats_;
    stats.requests_total.inc(status_ == 0 ? 499 : status_);
    stats.request_duration.record(secondsSince(start_));
    if (access_log::Logger* logger = parent_.worker_.accessLogger(parent_.config_->access_log)) {
      access_log::Entry entry;
      entry.start_time = start_time_;
      entry.protocol = std::string(protocolName(protocol_));
      entry.method = method_;
      entry.authority = authority_;
      entry.path = path_;
      entry.status = status_;
      entry.bytes_received = bytes_received_;
      entry.bytes_sent = bytes_sent_;
      entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start_);
      if (router_) {
        entry.upstream_cluster = router_->clusterName();
        entry.upstream_host = router_->upstreamAddress();
      }
      entry.flags = flags_;
      entry.request_id = request_id_;
      entry.downstream_remote = parent_.connection_->remoteAddress().toString();
      logger->log(entry);
    }
    parent_.onStreamComplete();
  }

  void addBytesSent(uint64_t n) { bytes_sent_ += n; }
  bool requestComplete() const { return request_complete_; }
  bool closeAfterResponse() const { return close_after_response_ || reset_ || tunnel_; }
  bool reset() const { return reset_; }
  bool tunnel() const { return tunnel_; }
  bool isComplete() const { return complete_; }
  router::Router* router() { return router_.get(); }

 private:
  HttpConnectionManager& parent_;
  std::chrono::steady_clock::time_point start_;
  absl::Time start_time_;
  std::unique_ptr<router::Router> router_;
  std::string method_, authority_, path_, request_id_, flags_;
  Protocol protocol_ = Protocol::kHttp11;
  http1::BodyFraming framing_ = http1::BodyFraming::kNone;
  int status_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t bytes_sent_ = 0;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool close_after_response_ = false;
  bool http10_keep_alive_ = false;
  bool is_head_request_ = false;
  bool upgrade_ = false;
  bool tunnel_ = false;
  bool reset_ = false;
  bool complete_ = false;
};

HttpConnectionManager::HttpConnectionManager(server::WorkerContext& worker,
                                             std::shared_ptr<const HttpListenerConfig> config,
                                             std::unique_ptr<net::Connection> connection)
    : worker_(worker),
      config_(std::move(config)),
      stats_(*config_->stats),
      connection_(std::move(connection)),
      remote_ip_(connection_->remoteAddress().ip()),
      decoder_(config_->limits, *this) {
  stats_.connections_total.inc();
  stats_.connections_active.add(1);
}

HttpConnectionManager::~HttpConnectionManager() {
  stream_.reset();
  connection_->setCallbacks(nullptr);
  stats_.connections_active.sub(1);
}

void HttpConnectionManager::start() {
  connection_->setCallbacks(this);
  connection_->startReading();
  armIdleTimer();
}

void HttpConnectionManager::armIdleTimer() {
  if (config_->idle_timeout.count() == 0 || closed_) return;
  if (!idle_timer_) {
    idle_timer_ = worker_.dispatcher().createTimer(
        [this] { closeConnection(net::Connection::CloseType::kFlushWrite); });
  }
  idle_timer_->enable(config_->idle_timeout);
}

void HttpConnectionManager::onRead(Buffer& data, bool end_stream) {
  uint64_t total = connection_->bytesRead();
  stats_.bytes_received.inc(total - bytes_received_reported_);
  bytes_received_reported_ = total;
  if (stream_ && stream_->tunnel()) {
    stream_->router()->decodeData(data, end_stream);
    return;
  }
  dispatch();
  if (!end_stream || closed_) return;
  downstream_eof_ = true;
  if (!stream_) {
    closeConnection(net::Connection::CloseType::kFlushWrite);
  } else if (!stream_->requestComplete()) {
    stream_->abort("DC");
  }
  // Otherwise the response is still coming: it is sent, then the connection closes.
}

void HttpConnectionManager::dispatch() {
  if (dispatching_) return;
  dispatching_ = true;
  Buffer& input = connection_->readBuffer();
  while (!closed_) {
    if (next_message_pending_) {
      next_message_pending_ = false;
      decoder_.startNextMessage();
    }
    // A whole request is in: wait for its response before reading the next one.
    if (decoder_.messageComplete() || decoder_.upgradeRequested()) break;
    size_t before = input.length();
    auto error = decoder_.dispatch(input);
    if (error) {
      onProtocolError(*error);
      break;
    }
    if (next_message_pending_) continue;
    if (input.length() == before) break;
  }
  dispatching_ = false;
}

void HttpConnectionManager::onRequestHead(RequestHead&& head, bool end_stream) {
  if (idle_timer_) idle_timer_->disable();
  stream_ = std::make_unique<ActiveStream>(*this);
  stream_->decodeHead(std::move(head), end_stream);
}

void HttpConnectionManager::onRequestData(Buffer& data, bool end_stream) {
  if (stream_) {
    stream_->decodeData(data, end_stream);
  } else {
    data.clear();
  }
}

void HttpConnectionManager::onRequestTrailers(HeaderMap&& trailers) {
  if (stream_) stream_->decodeTrailers(std::move(trailers));
}

void HttpConnectionManager::onProtocolError(const http1::CodecError& error) {
  stats_.protocol_errors.inc();
  SKIFF_LOG(kDebug, "%s: downstream protocol error %d: %s", config_->name, error.status,
            error.detail);
  if (!stream_) {
    stream_ = std::make_unique<ActiveStream>(*this);
  }
  stream_->sendLocalReply(error.status, "DPE", error.detail);
  // The rest of the bytes cannot be trusted: the connection closes after the reply.
  closeConnection(net::Connection::CloseType::kFlushWriteAndLinger);
}

void HttpConnectionManager::onStreamComplete() {
  bool unread_request = !stream_->requestComplete();
  bool close = stream_->closeAfterResponse() || unread_request || downstream_eof_ || draining_;
  bool reset = stream_->reset();
  worker_.dispatcher().deferredDelete(std::move(stream_));
  if (reset) {
    closeConnection(net::Connection::CloseType::kNoFlush);
    return;
  }
  if (close) {
    closeConnection(unread_request ? net::Connection::CloseType::kFlushWriteAndLinger
                                   : net::Connection::CloseType::kFlushWrite);
    return;
  }
  armIdleTimer();
  next_message_pending_ = true;
  if (!connection_->readEnabled()) connection_->readDisable(false);
  // Pipelined bytes that already arrived are handled now, not at the next read.
  if (!dispatching_) dispatch();
}

void HttpConnectionManager::write(Buffer& data) {
  size_t length = data.length();
  connection_->write(data, false);
  stats_.bytes_sent.inc(length);
  if (stream_) stream_->addBytesSent(length);
}

void HttpConnectionManager::closeConnection(net::Connection::CloseType type) {
  if (closed_) return;
  closed_ = true;
  idle_timer_.reset();
  connection_->close(type);
}

void HttpConnectionManager::onEvent(net::ConnectionEvent event) {
  if (event != net::ConnectionEvent::kRemoteClose && event != net::ConnectionEvent::kLocalClose) {
    return;
  }
  closed_ = true;
  idle_timer_.reset();
  if (stream_) stream_->abort(event == net::ConnectionEvent::kRemoteClose ? "DC" : "LR");
  worker_.onDownstreamClosed(*this);
}

void HttpConnectionManager::onAboveWriteBufferHighWatermark() {
  if (stream_) stream_->onDownstreamWriteBlocked(true);
}

void HttpConnectionManager::onBelowWriteBufferLowWatermark() {
  if (stream_) stream_->onDownstreamWriteBlocked(false);
}

void HttpConnectionManager::drain() {
  draining_ = true;
  if (!stream_) closeConnection(net::Connection::CloseType::kFlushWrite);
}

}  // namespace skiff::http
