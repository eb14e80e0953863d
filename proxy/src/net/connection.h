#pragma once

// A TCP connection on one worker's loop, accepted or outgoing: a read buffer, a write buffer
// with high/low watermarks (so a slow reader pushes back on its peer instead of growing memory),
// half-close, and deferred-safe close.

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/buffer.h"
#include "event/dispatcher.h"
#include "net/address.h"

namespace skiff::tls {
class TlsTransport;
}  // namespace skiff::tls

namespace skiff::net {

enum class ConnectionEvent {
  kConnected,      // outgoing connection established
  kConnectFailed,  // outgoing connection refused, unreachable or timed out
  kRemoteClose,    // the peer reset or closed (after its EOF was delivered, if any)
  kLocalClose,     // close() was called
};

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are appended to `data`; the callee consumes what it can. `end_stream`: the peer
  // half-closed its side.
  virtual void onRead(Buffer& data, bool end_stream) = 0;
  virtual void onEvent(ConnectionEvent event) = 0;
  virtual void onAboveWriteBufferHighWatermark() {}
  virtual void onBelowWriteBufferLowWatermark() {}
  // Server side: the TLS handshake finished and peerIdentity() is known (an owner that decides
  // on the caller's identity before reading, like TCP authorization, waits for it).
  virtual void onTlsHandshakeDone() {}
};

class Connection : public event::DeferredFlush {
 public:
  static constexpr size_t kDefaultHighWatermark = 1024 * 1024;

  // Takes a pending connection from a listening socket; nullptr when accept fails.
  static std::unique_ptr<Connection> accept(event::Dispatcher& dispatcher, uv_stream_t* server);
  // Starts connecting; the outcome arrives as kConnected or kConnectFailed.
  static std::unique_ptr<Connection> connect(event::Dispatcher& dispatcher,
                                             const sockaddr* address,
                                             std::chrono::milliseconds timeout);
  ~Connection() override;

  // Mutual TLS. Owners keep reading and writing plaintext; the transport sits between the
  // buffers they see and the socket. Server side, on an accepted connection before its owner
  // starts reading: bytes already in the read buffer (sniffed by PERMISSIVE detection) are the
  // start of the TLS stream. A handshake failure closes the connection (kRemoteClose).
  void startServerTls(std::unique_ptr<tls::TlsTransport> transport);
  // Client side, right after connect(): kConnected is raised only once the handshake is done,
  // and a failed handshake is kConnectFailed, like a refused connect. A null transport (no
  // identity yet) fails the connect.
  void startClientTls(std::unique_ptr<tls::TlsTransport> transport);
  bool secure() const { return tls_ != nullptr; }
  // The verified peer's SPIFFE URI; empty for plaintext (or before the handshake).
  const std::string& peerIdentity() const;
  // The SPIFFE URI in our own certificate; empty for plaintext.
  const std::string& localIdentity() const;
  // The protocol ALPN settled on; empty for plaintext or when none was.
  const std::string& negotiatedAlpn() const;
  // True once a TLS handshake finished (false for plaintext).
  bool tlsHandshakeComplete() const;
  // TLS failed: a handshake or record error, or (client side) no identity to present.
  bool tlsFailed() const;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void setCallbacks(ConnectionCallbacks* callbacks) { callbacks_ = callbacks; }
  // Starts delivering reads (accepted connections start paused until this is called). Bytes
  // left unconsumed in the read buffer stay there; an owner that paused reading re-dispatches
  // them itself with readBuffer().
  void startReading();
  Buffer& readBuffer() { return read_buffer_; }

  // Moves `data` into the write buffer. `end_stream` half-closes after it is flushed. The
  // socket write happens once the loop's current callbacks are done, so several writes made
  // while handling one event leave in one syscall.
  void write(Buffer& data, bool end_stream);
  // Nested: reading resumes when every disable has been matched by an enable.
  void readDisable(bool disable);
  bool readEnabled() const { return read_disable_count_ == 0; }

  // kFlushWriteAndLinger: flush, half-close, then read and discard until the peer closes or a
  // short timer ends. Closing with unread request bytes would make the kernel send a reset
  // that can destroy the response (e.g. a 413) before the client reads it.
  // kReset: drop what is queued and send a TCP reset (RST), so the peer sees an abort rather
  // than an end of stream that would pass a truncated stream off as complete.
  enum class CloseType { kFlushWrite, kFlushWriteAndLinger, kNoFlush, kReset };
  void close(CloseType type);
  // True when the connection closed because both directions ended normally: the peer's end of
  // stream was read and ours was sent after every queued byte. False after a reset, a read or
  // write error, a TLS failure, or a close() by the owner.
  bool endedCleanly() const { return read_eof_ && shutdown_done_; }
  bool isOpen() const { return state_ == State::kOpen || state_ == State::kConnecting; }
  bool connecting() const { return state_ == State::kConnecting; }
  bool connectTimedOut() const { return connect_timed_out_; }

  size_t bufferedWriteBytes() const { return write_buffer_.length() + tls_pending_.length(); }
  void setWriteBufferWatermarks(size_t high);
  bool aboveHighWatermark() const { return above_high_watermark_; }

  // event::DeferredFlush
  void flushDeferred() override;

  const SocketAddress& remoteAddress() const { return remote_address_; }
  // The address the connection was accepted on (empty for outgoing connections).
  const SocketAddress& localAddress() const { return local_address_; }
  // Where the client meant to go: the original destination read at accept by a listener with
  // use_original_dst (before an iptables REDIRECT), else the local address.
  const SocketAddress& destinationAddress() const { return destination_address_; }
  void setDestinationAddress(const SocketAddress& address) { destination_address_ = address; }
  // The socket's descriptor, for getsockopt users; -1 once closed.
  int fd() const;
  uint64_t bytesRead() const { return bytes_read_; }
  uint64_t bytesWritten() const { return bytes_written_; }
  event::Dispatcher& dispatcher() { return dispatcher_; }

 private:
  enum class State { kConnecting, kOpen, kClosing, kClosed };
  Connection(event::Dispatcher& dispatcher, uv_tcp_t* handle);

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onReadCb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void onConnectResult(int status);
  void updateReading();
  void releaseIdleReadBuffer();
  // The peer's end of stream (a TCP FIN, or TLS's close_notify): reading stops and the owner
  // is told; the connection closes if our side has ended too.
  void onEndOfStream();
  void flush();
  void onWriteDone(size_t written, int status);
  void afterDrain();
  void closeNow(ConnectionEvent event, bool reset = false);
  void startLingering();
  void raise(ConnectionEvent event);
  // TLS: feeds raw bytes from the socket to the transport; false when the connection closed.
  bool onTlsData(absl::string_view raw);
  void onTlsHandshakeDone();
  // Encrypts tls_pending_ (and close_notify once it is due) into write_buffer_.
  bool encryptPending();
  // Hands what write_buffer_ holds (a TLS alert) to the socket if it takes it at once.
  void writeNowBestEffort();

  event::Dispatcher& dispatcher_;
  uv_tcp_t* handle_;
  ConnectionCallbacks* callbacks_ = nullptr;
  State state_ = State::kOpen;
  SocketAddress remote_address_;
  SocketAddress local_address_;
  SocketAddress destination_address_;

  Buffer read_buffer_;
  Buffer write_buffer_;
  size_t write_in_flight_ = 0;  // bytes at the head of write_buffer_ owned by a uv_write
  bool reading_started_ = false;
  bool read_active_ = false;
  int read_disable_count_ = 0;
  bool read_eof_ = false;
  bool shutdown_after_write_ = false;
  bool shutdown_sent_ = false;
  bool shutdown_done_ = false;
  bool close_after_flush_ = false;
  bool linger_after_flush_ = false;
  bool flush_scheduled_ = false;
  bool lingering_ = false;
  bool above_high_watermark_ = false;
  bool connect_timed_out_ = false;
  size_t high_watermark_ = kDefaultHighWatermark;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  std::unique_ptr<event::Timer> connect_timer_;
  std::unique_ptr<event::Timer> linger_timer_;
  uv_connect_t* connect_req_ = nullptr;

  std::unique_ptr<tls::TlsTransport> tls_;
  Buffer tls_pending_;   // plaintext written by the owner, not yet encrypted
  bool tls_handshaking_ = false;  // client: TCP is up, the handshake is not done yet
  bool tls_close_notify_due_ = false;
  bool tls_unavailable_ = false;  // startClientTls() without a transport
};

}  // namespace skiff::net
