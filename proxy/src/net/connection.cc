#include "net/connection.h"

#include <sys/socket.h>

#include "common/logging.h"
#include "tls/tls_transport.h"

namespace skiff::net {
namespace {

constexpr size_t kReadSize = 16 * 1024;
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr int kMaxIovecs = 16;

// Where the socket reads ciphertext into: decrypted at once inside the read callback, so one
// area per thread serves every TLS connection of a worker (none is held while idle).
char* tlsReadArea() {
  static thread_local std::unique_ptr<char[]> area(new char[kReadSize]);
  return area.get();
}

struct WriteRequest {
  uv_write_t req;
  Connection* connection;
  size_t bytes;
};

}  // namespace

Connection::Connection(event::Dispatcher& dispatcher, uv_tcp_t* handle)
    : dispatcher_(dispatcher), handle_(handle) {
  handle_->data = this;
}

Connection::~Connection() {
  if (flush_scheduled_) dispatcher_.cancelFlush(this);
  if (state_ != State::kClosed) {
    callbacks_ = nullptr;
    closeNow(ConnectionEvent::kLocalClose);
  }
}

std::unique_ptr<Connection> Connection::accept(event::Dispatcher& dispatcher,
                                               uv_stream_t* server) {
  auto* handle = new uv_tcp_t;
  uv_tcp_init(dispatcher.loop(), handle);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(handle)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    return nullptr;
  }
  uv_tcp_nodelay(handle, 1);
  std::unique_ptr<Connection> connection(new Connection(dispatcher, handle));
  sockaddr_storage peer{};
  int length = sizeof(peer);
  if (uv_tcp_getpeername(handle, reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    connection->remote_address_ = fromSockaddr(reinterpret_cast<sockaddr*>(&peer), length);
  }
  sockaddr_storage local{};
  length = sizeof(local);
  if (uv_tcp_getsockname(handle, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
    connection->local_address_ = fromSockaddr(reinterpret_cast<sockaddr*>(&local), length);
    connection->destination_address_ = connection->local_address_;
  }
  return connection;
}

int Connection::fd() const {
  if (state_ == State::kClosed) return -1;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(handle_), &fd) != 0) return -1;
  return fd;
}

std::unique_ptr<Connection> Connection::connect(event::Dispatcher& dispatcher,
                                                const sockaddr* address,
                                                std::chrono::milliseconds timeout) {
  auto* handle = new uv_tcp_t;
  uv_tcp_init(dispatcher.loop(), handle);
  std::unique_ptr<Connection> connection(new Connection(dispatcher, handle));
  connection->state_ = State::kConnecting;
  connection->remote_address_ =
      fromSockaddr(address, address->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                           : sizeof(sockaddr_in));
  uv_tcp_nodelay(handle, 1);
  auto* req = new uv_connect_t;
  req->data = connection.get();
  connection->connect_req_ = req;
  int rc = uv_tcp_connect(req, handle, address, [](uv_connect_t* req, int status) {
    auto* self = static_cast<Connection*>(req->data);
    delete req;
    if (self != nullptr) {
      self->connect_req_ = nullptr;
      self->onConnectResult(status);
    }
  });
  if (rc != 0) {
    delete req;
    connection->connect_req_ = nullptr;
    // Report the failure from the loop, after the caller has set its callbacks.
    Connection* raw = connection.get();
    connection->connect_timer_ = dispatcher.createTimer([raw, rc] { raw->onConnectResult(rc); });
    connection->connect_timer_->enable(std::chrono::milliseconds(0));
    return connection;
  }
  if (timeout.count() > 0) {
    Connection* raw = connection.get();
    connection->connect_timer_ =
        dispatcher.createTimer([raw] { raw->onConnectResult(UV_ETIMEDOUT); });
    connection->connect_timer_->enable(timeout);
  }
  return connection;
}

void Connection::onConnectResult(int status) {
  if (state_ != State::kConnecting) return;
  // With TLS the connect timeout also covers the handshake.
  if (status != 0 || !tls_) connect_timer_.reset();
  if (status != 0) {
    connect_timed_out_ = status == UV_ETIMEDOUT;
    SKIFF_LOG(kDebug, "connect to %s failed: %s", remote_address_.toString(), uv_strerror(status));
    if (connect_req_ != nullptr) {
      connect_req_->data = nullptr;  // uv_close cancels it; its callback frees it
      connect_req_ = nullptr;
    }
    closeNow(ConnectionEvent::kConnectFailed);
    return;
  }
  if (tls_) {
    // Still "connecting" for the owner until the handshake is done.
    tls_handshaking_ = true;
    startReading();
    absl::Status started = tls_->startHandshake(write_buffer_);
    if (!started.ok()) {
      SKIFF_LOG(kDebug, "TLS to %s: %s", remote_address_.toString(), started.message());
      closeNow(ConnectionEvent::kConnectFailed);
      return;
    }
    flush();
    return;
  }
  state_ = State::kOpen;
  startReading();
  raise(ConnectionEvent::kConnected);
  if (state_ == State::kOpen) flush();
}

void Connection::startReading() {
  reading_started_ = true;
  updateReading();
}

void Connection::readDisable(bool disable) {
  read_disable_count_ += disable ? 1 : -1;
  if (read_disable_count_ < 0) read_disable_count_ = 0;
  updateReading();
}

void Connection::updateReading() {
  bool want = (reading_started_ && read_disable_count_ == 0 &&
               (state_ == State::kOpen || tls_handshaking_) && !read_eof_) ||
              (lingering_ && !read_eof_);
  if (want == read_active_) return;
  read_active_ = want;
  auto* stream = reinterpret_cast<uv_stream_t*>(handle_);
  if (want) {
    uv_read_start(stream, &Connection::onAlloc, &Connection::onReadCb);
  } else {
    uv_read_stop(stream);
  }
}

void Connection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  buf->base = self->tls_ ? tlsReadArea() : self->read_buffer_.reserve(kReadSize);
  buf->len = kReadSize;
}

void Connection::onReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<Connection*>(stream->data);
  if (self == nullptr || self->state_ == State::kClosed) return;
  if (self->lingering_) {
    self->read_buffer_.clear();
    if (nread < 0) self->closeNow(ConnectionEvent::kLocalClose);
    return;
  }
  if (self->state_ != State::kOpen && !self->tls_handshaking_) return;
  if (nread > 0 && self->tls_) {
    self->bytes_read_ += nread;
    if (self->onTlsData(absl::string_view(tlsReadArea(), static_cast<size_t>(nread)))) {
      self->releaseIdleReadBuffer();
    }
    return;
  }
  if (nread < 0 && self->tls_handshaking_) {
    self->closeNow(ConnectionEvent::kConnectFailed);  // the server hung up mid-handshake
    return;
  }
  if (nread > 0) {
    self->read_buffer_.commit(static_cast<size_t>(nread));
    self->bytes_read_ += nread;
    if (self->callbacks_ != nullptr) self->callbacks_->onRead(self->read_buffer_, false);
    self->releaseIdleReadBuffer();
    return;
  }
  if (nread == 0) {
    self->releaseIdleReadBuffer();  // libuv's EAGAIN: the reserved slice was not filled
    return;
  }
  if (nread == UV_EOF && self->tls_) {
    // A TCP FIN that no close_notify preceded (a close_notify ends reading, so it cannot be
    // seen after one): whoever cut the stream, its end is unknown, so it ends as an abort and
    // never as a clean end of stream that would pass a truncated stream off as complete.
    if (self->tls_->handshakeComplete()) {
      SKIFF_LOG(kDebug, "TLS with %s: TCP end of stream without close_notify",
                self->remote_address_.toString());
      self->tls_->noteTruncated();
    }
    self->closeNow(ConnectionEvent::kRemoteClose);
    return;
  }
  if (nread == UV_EOF) {
    self->onEndOfStream();
    return;
  }
  SKIFF_LOG(kDebug, "read error from %s: %s", self->remote_address_.toString(),
            uv_strerror(static_cast<int>(nread)));
  self->closeNow(ConnectionEvent::kRemoteClose);
}

void Connection::releaseIdleReadBuffer() {
  // The owner consumed everything: an idle connection keeps no read slice (the next read takes
  // one from the worker's pool).
  if (read_buffer_.empty()) read_buffer_.releaseStorage();
}

void Connection::write(Buffer& data, bool end_stream) {
  if (state_ == State::kClosed || state_ == State::kClosing || shutdown_after_write_) {
    data.clear();
    return;
  }
  if (tls_) {
    tls_pending_.move(data);  // encrypted at flush: one pass over what this turn wrote
  } else {
    write_buffer_.move(data);
  }
  if (end_stream) shutdown_after_write_ = true;
  if (!above_high_watermark_ && bufferedWriteBytes() > high_watermark_) {
    above_high_watermark_ = true;
    if (callbacks_ != nullptr) callbacks_->onAboveWriteBufferHighWatermark();
  }
  if (state_ == State::kOpen && !flush_scheduled_) {
    flush_scheduled_ = true;
    dispatcher_.scheduleFlush(this);
  }
}

void Connection::flushDeferred() {
  flush_scheduled_ = false;
  if (state_ == State::kOpen || tls_handshaking_) flush();
}

void Connection::flush() {
  if (write_in_flight_ > 0 || state_ == State::kClosed) return;
  if (tls_ && !encryptPending()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(handle_);
  while (write_buffer_.length() > 0) {
    uv_buf_t bufs[kMaxIovecs];
    struct iovec iov[kMaxIovecs];
    int n = write_buffer_.fillIovecs(iov, kMaxIovecs);
    size_t total = 0;
    for (int i = 0; i < n; ++i) {
      bufs[i] = uv_buf_init(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
      total += iov[i].iov_len;
    }
    int written = uv_try_write(stream, bufs, n);
    if (written > 0) {
      write_buffer_.drain(written);
      bytes_written_ += written;
      afterDrain();
      if (state_ == State::kClosed) return;
      if (static_cast<size_t>(written) == total) continue;
      // Partial: hand the rest to libuv below.
      n = write_buffer_.fillIovecs(iov, kMaxIovecs);
      total = 0;
      for (int i = 0; i < n; ++i) {
        bufs[i] = uv_buf_init(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
        total += iov[i].iov_len;
      }
    } else if (written != UV_EAGAIN && written != UV_ENOSYS) {
      SKIFF_LOG(kDebug, "write to %s failed: %s", remote_address_.toString(),
                uv_strerror(written));
      closeNow(ConnectionEvent::kRemoteClose);
      return;
    }
    auto* request = new WriteRequest{{}, this, total};
    request->req.data = request;
    write_in_flight_ = total;
    int rc = uv_write(&request->req, stream, bufs, n, [](uv_write_t* req, int status) {
      auto* request = static_cast<WriteRequest*>(req->data);
      Connection* self = request->connection;
      size_t bytes = request->bytes;
      delete request;
      if (status == UV_ECANCELED) return;  // the handle was closed; `self` may be gone
      self->onWriteDone(bytes, status);
    });
    if (rc != 0) {
      delete request;
      write_in_flight_ = 0;
      closeNow(ConnectionEvent::kRemoteClose);
    }
    return;
  }
  // All written: a connection that has also consumed what it read keeps no buffer memory (a
  // response is usually the last thing that happens before a connection goes idle).
  write_buffer_.releaseStorage();
  releaseIdleReadBuffer();
  // Plaintext still waiting for the handshake: the end of stream and the close wait too.
  if (!tls_pending_.empty()) return;
  if (shutdown_after_write_ && !shutdown_sent_) {
    shutdown_sent_ = true;
    auto* req = new uv_shutdown_t;
    req->data = this;
    uv_shutdown(req, stream, [](uv_shutdown_t* req, int status) {
      auto* self = static_cast<Connection*>(req->data);
      delete req;
      if (status == UV_ECANCELED) return;
      self->shutdown_done_ = true;
      // Both directions finished: nothing more can happen on this connection.
      if (self->read_eof_) self->closeNow(ConnectionEvent::kLocalClose);
    });
  }
  if (close_after_flush_) {
    if (linger_after_flush_) {
      startLingering();
    } else {
      closeNow(ConnectionEvent::kLocalClose);
    }
  }
}

void Connection::startLingering() {
  if (lingering_) return;
  lingering_ = true;
  close_after_flush_ = false;
  state_ = State::kClosing;
  read_buffer_.clear();
  if (read_eof_) {
    closeNow(ConnectionEvent::kLocalClose);
    return;
  }
  auto* req = new uv_shutdown_t;
  req->data = this;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(handle_),
                  [](uv_shutdown_t* req, int) { delete req; }) != 0) {
    delete req;
  }
  updateReading();
  linger_timer_ = dispatcher_.createTimer([this] { closeNow(ConnectionEvent::kLocalClose); });
  linger_timer_->enable(kLingerTime);
}

void Connection::onWriteDone(size_t written, int status) {
  write_in_flight_ = 0;
  if (status != 0) {
    closeNow(ConnectionEvent::kRemoteClose);
    return;
  }
  write_buffer_.drain(written);
  bytes_written_ += written;
  afterDrain();
  if (state_ != State::kClosed) flush();
}

void Connection::afterDrain() {
  if (above_high_watermark_ && bufferedWriteBytes() <= high_watermark_ / 2) {
    above_high_watermark_ = false;
    if (callbacks_ != nullptr) callbacks_->onBelowWriteBufferLowWatermark();
  }
}

void Connection::setWriteBufferWatermarks(size_t high) { high_watermark_ = high; }

void Connection::close(CloseType type) {
  if (state_ == State::kClosed) return;
  if (type == CloseType::kReset) {
    closeNow(ConnectionEvent::kLocalClose, /*reset=*/true);
    return;
  }
  if (type != CloseType::kNoFlush && state_ == State::kOpen) {
    linger_after_flush_ = type == CloseType::kFlushWriteAndLinger;
    if (tls_ && tls_->handshakeComplete() && !tls_close_notify_due_) {
      tls_close_notify_due_ = true;
      if (write_in_flight_ == 0 && !encryptPending()) return;
    }
    if (write_buffer_.length() > 0 || write_in_flight_ > 0 || !tls_pending_.empty()) {
      close_after_flush_ = true;
      read_disable_count_++;
      updateReading();
      if (!flush_scheduled_ && write_in_flight_ == 0) {
        flush_scheduled_ = true;
        dispatcher_.scheduleFlush(this);
      }
      return;
    }
    if (linger_after_flush_) {
      startLingering();
      return;
    }
  }
  closeNow(ConnectionEvent::kLocalClose);
}

void Connection::closeNow(ConnectionEvent event, bool reset) {
  if (state_ == State::kClosed) return;
  if (reset && state_ != State::kConnecting) {
    // A zero linger time makes close() send RST and discard what the kernel still holds.
    // (uv_tcp_close_reset refuses a handle that was half-closed, which is when it matters.)
    int fd = this->fd();
    struct linger abort_on_close = {1, 0};
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
  }
  state_ = State::kClosed;
  connect_timer_.reset();
  linger_timer_.reset();
  if (connect_req_ != nullptr) {
    connect_req_->data = nullptr;
    connect_req_ = nullptr;
  }
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  raise(event);
}

void Connection::raise(ConnectionEvent event) {
  if (callbacks_ != nullptr) callbacks_->onEvent(event);
}

namespace {
const std::string kNoIdentity;
}  // namespace

const std::string& Connection::peerIdentity() const {
  return tls_ ? tls_->peerIdentity() : kNoIdentity;
}

const std::string& Connection::localIdentity() const {
  return tls_ ? tls_->localIdentity() : kNoIdentity;
}

const std::string& Connection::negotiatedAlpn() const {
  return tls_ ? tls_->negotiatedAlpn() : kNoIdentity;
}

bool Connection::tlsHandshakeComplete() const { return tls_ && tls_->handshakeComplete(); }

bool Connection::tlsFailed() const { return tls_unavailable_ || (tls_ && tls_->failed()); }

void Connection::startServerTls(std::unique_ptr<tls::TlsTransport> transport) {
  tls_ = std::move(transport);
  // Bytes read while sniffing are the start of the TLS stream.
  if (read_buffer_.length() > 0) {
    std::string sniffed = read_buffer_.toString();
    read_buffer_.clear();
    onTlsData(sniffed);
  }
}

void Connection::startClientTls(std::unique_ptr<tls::TlsTransport> transport) {
  if (!transport) {
    // No identity to present: fail the connect from the loop, after the owner set callbacks.
    tls_unavailable_ = true;
    connect_timer_ = dispatcher_.createTimer([this] { onConnectResult(UV_EPROTO); });
    connect_timer_->enable(std::chrono::milliseconds(0));
    return;
  }
  tls_ = std::move(transport);
}

bool Connection::onTlsData(absl::string_view raw) {
  size_t plaintext_before = read_buffer_.length();
  bool was_complete = tls_->handshakeComplete();
  absl::Status status = tls_->onNetworkData(raw, read_buffer_, write_buffer_);
  if (!status.ok()) {
    SKIFF_LOG(kDebug, "TLS with %s: %s", remote_address_.toString(), status.message());
    writeNowBestEffort();
    closeNow(tls_handshaking_ ? ConnectionEvent::kConnectFailed : ConnectionEvent::kRemoteClose);
    return false;
  }
  if (!was_complete && tls_->handshakeComplete()) {
    onTlsHandshakeDone();
    if (state_ == State::kClosed) return false;
  }
  if ((write_buffer_.length() > 0 || !tls_pending_.empty()) && !flush_scheduled_ &&
      state_ == State::kOpen) {
    flush_scheduled_ = true;
    dispatcher_.scheduleFlush(this);
  }
  if (tls_->peerClosed() && !read_eof_) {
    // close_notify is TLS's end of stream, whether or not the TCP FIN follows (a peer may keep
    // the socket open until it reads ours).
    onEndOfStream();
    return state_ != State::kClosed;
  }
  if (read_buffer_.length() > plaintext_before && callbacks_ != nullptr) {
    callbacks_->onRead(read_buffer_, false);
  }
  return state_ != State::kClosed;
}

void Connection::onEndOfStream() {
  read_eof_ = true;
  updateReading();
  if (callbacks_ != nullptr) callbacks_->onRead(read_buffer_, true);
  if (shutdown_done_ && state_ != State::kClosed) closeNow(ConnectionEvent::kRemoteClose);
}

void Connection::onTlsHandshakeDone() {
  if (!tls_handshaking_) {  // server side: the owner is already reading
    if (callbacks_ != nullptr) callbacks_->onTlsHandshakeDone();
    return;
  }
  tls_handshaking_ = false;
  connect_timer_.reset();
  state_ = State::kOpen;
  raise(ConnectionEvent::kConnected);
  if (state_ == State::kOpen) flush();
}

bool Connection::encryptPending() {
  if (!tls_->handshakeComplete()) return true;
  if (!tls_pending_.empty()) {
    absl::Status status = tls_->encrypt(tls_pending_, write_buffer_);
    if (!status.ok()) {
      SKIFF_LOG(kDebug, "TLS to %s: %s", remote_address_.toString(), status.message());
      tls_pending_.clear();
      closeNow(ConnectionEvent::kRemoteClose);
      return false;
    }
  }
  if (shutdown_after_write_ || tls_close_notify_due_) tls_->shutdown(write_buffer_);
  return true;
}

void Connection::writeNowBestEffort() {
  if (write_in_flight_ > 0 || write_buffer_.empty()) return;
  struct iovec iov[kMaxIovecs];
  uv_buf_t bufs[kMaxIovecs];
  int n = write_buffer_.fillIovecs(iov, kMaxIovecs);
  for (int i = 0; i < n; ++i) {
    bufs[i] = uv_buf_init(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
  }
  uv_try_write(reinterpret_cast<uv_stream_t*>(handle_), bufs, n);
}

}  // namespace skiff::net
