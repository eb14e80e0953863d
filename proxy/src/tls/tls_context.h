#pragma once

// An immutable pair of OpenSSL contexts built from one CertificateBundle: the server side (for
// listeners) and the client side (for clusters). Both speak TLS 1.3 only, present the proxy's
// certificate, REQUIRE the peer's certificate, verify its chain against the trust bundle and
// reject a peer whose leaf carries no spiffe:// URI. Built on the main thread, shared read-only
// by the workers (OpenSSL contexts are safe to share once configured); a new identity makes a
// new TlsContext, and connections keep the one they started with.

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/config/v1/tls.pb.h"
#include "tls/certificate_bundle.h"

namespace skiff::tls {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Per-connection data the contexts' callbacks read (SSL ex_data); owned by the TlsTransport.
struct SslConnectionState {
  // Client side: the identities the server may present; null or empty means any.
  const std::vector<std::string>* allowed_identities = nullptr;
  // Server side: protocols to select from, ALPN wire format, in preference order.
  absl::string_view server_alpn;
  // Set by the verify callback: the peer's SPIFFE URI, or why it was refused.
  std::string peer_identity;
  std::string verify_failure;
};
int sslConnectionStateIndex();

class TlsContext {
 public:
  // Checks the key matches the leaf certificate and the leaf carries a SPIFFE URI.
  static absl::StatusOr<std::shared_ptr<const TlsContext>> create(const CertificateBundle& bundle);

  SSL_CTX* serverContext() const { return server_.get(); }
  SSL_CTX* clientContext() const { return client_.get(); }
  // The SPIFFE URI in our own certificate.
  const std::string& identity() const { return identity_; }
  std::chrono::system_clock::time_point notAfter() const { return not_after_; }
  const std::string& serialHex() const { return serial_hex_; }

 private:
  TlsContext() = default;

  SslCtxPtr server_;
  SslCtxPtr client_;
  std::string identity_;
  std::chrono::system_clock::time_point not_after_;
  std::string serial_hex_;
};

using TlsContextConstSharedPtr = std::shared_ptr<const TlsContext>;

// Reads the three PEM files of a bootstrap `identity.static_certificate` and fills identity,
// not_after and serial_hex from the leaf. Errors name the file.
absl::StatusOr<CertificateBundle> loadStaticCertificate(
    const config::v1::StaticCertificate& config);

// Fills identity, not_after and serial_hex of `bundle` from its leaf certificate.
absl::Status describeLeaf(CertificateBundle& bundle);

// "h2", "http/1.1" -> the ALPN wire format (length-prefixed); error for an empty or >255 name.
absl::StatusOr<std::string> alpnWireFormat(const google::protobuf::RepeatedPtrField<std::string>&
                                               protocols);

// The TLS context current on this thread: each worker holds its own pointer, swapped through
// post() by Server::updateIdentity. Null until the proxy has an identity.
const TlsContextConstSharedPtr& currentContext();
void setCurrentContext(TlsContextConstSharedPtr context);

}  // namespace skiff::tls
