#pragma once

// One TLS connection's engine: it owns no socket. Raw bytes from the network go in and plaintext
// comes out; plaintext goes in and raw bytes for the network come out. OpenSSL reads and writes
// the caller's Buffers directly through a small BIO (no memory BIO in between: one copy less
// each way).
// net::Connection drives it, so the connection's owners keep reading and writing plaintext.
// Errors are values; after an error the transport only produces the alert it queued.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/buffer.h"
#include "tls/tls_context.h"
#include "tls/tls_stats.h"

namespace skiff::tls {

struct ClientOptions {
  // Exact SPIFFE identities the server may present; empty: any the trust bundle vouches for.
  std::vector<std::string> allowed_identities;
  std::string alpn_wire;  // ALPN wire format; empty: none offered
  std::string sni;        // empty: none sent
};

class TlsTransport {
 public:
  // `alpn_wire`: the protocols the server selects from, in preference order (wire format).
  // `stats` may be null.
  static std::unique_ptr<TlsTransport> newServer(TlsContextConstSharedPtr context,
                                                 std::string alpn_wire, TlsHandshakeStats* stats);
  static std::unique_ptr<TlsTransport> newClient(TlsContextConstSharedPtr context,
                                                 ClientOptions options, TlsHandshakeStats* stats);
  ~TlsTransport();
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // Client: queues the ClientHello. Server: nothing to do until bytes arrive.
  absl::Status startHandshake(Buffer& to_network);
  // Consumes all of `from_network`; appends decrypted bytes to `plaintext` and whatever must be
  // sent back (handshake messages, alerts) to `to_network`. An error means the connection is
  // done (a handshake failure, a bad record); an alert may still be in `to_network`.
  absl::Status onNetworkData(Buffer& from_network, Buffer& plaintext, Buffer& to_network);
  // The same for bytes the caller holds elsewhere (a connection's fixed read area): all of
  // them are consumed (a partial record waits inside OpenSSL).
  absl::Status onNetworkData(absl::string_view from_network, Buffer& plaintext,
                             Buffer& to_network);
  // Encrypts all of `plaintext` into `to_network`. Only after the handshake.
  absl::Status encrypt(Buffer& plaintext, Buffer& to_network);
  // Queues close_notify (once).
  void shutdown(Buffer& to_network);

  bool handshakeComplete() const { return handshake_complete_; }
  // The peer sent close_notify: no more plaintext will come.
  bool peerClosed() const { return peer_closed_; }
  bool failed() const { return failed_; }
  // The TCP stream ended after the handshake without the peer's close_notify: counted, since
  // what the peer meant to send may have been cut short.
  void noteTruncated() {
    if (stats_ != nullptr) stats_->truncated.inc();
  }
  // The verified peer's SPIFFE URI (empty before the handshake completes).
  const std::string& peerIdentity() const { return state_.peer_identity; }
  // The SPIFFE URI in our own certificate.
  const std::string& localIdentity() const { return context_->identity(); }
  // The protocol ALPN settled on; empty when none.
  const std::string& negotiatedAlpn() const { return alpn_; }
  bool isServer() const { return server_; }

 private:
  TlsTransport(TlsContextConstSharedPtr context, bool server, TlsHandshakeStats* stats);
  absl::Status advanceHandshake(Buffer& to_network);
  // The body of both onNetworkData: the BIO already points at the input.
  absl::Status readRecords(Buffer& plaintext, Buffer& to_network);
  void noteFirstByte(unsigned char byte);
  absl::Status fail(absl::string_view what, int ssl_error, Buffer& to_network);
  static BIO_METHOD* bioMethod();

  TlsContextConstSharedPtr context_;  // keeps the SSL_CTX alive for ssl_
  bool server_;
  TlsHandshakeStats* stats_;
  SSL* ssl_ = nullptr;
  // What the BIO reads from and appends to, set for the length of one call.
  struct Io {
    Buffer* in = nullptr;
    absl::string_view in_view;  // used when `in` is null
    Buffer* out = nullptr;
  };
  class IoScope;
  friend class IoScope;
  Io io_;
  ClientOptions client_options_;
  std::string server_alpn_;
  SslConnectionState state_;
  std::string alpn_;
  bool handshake_complete_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
  bool shutdown_sent_ = false;
  // The first byte received: a handshake that fails on bytes that were not a TLS record is
  // plaintext refused (counted apart from real handshake failures).
  bool saw_first_byte_ = false;
  bool first_byte_tls_ = false;
};

}  // namespace skiff::tls
