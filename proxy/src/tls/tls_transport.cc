#include "tls/tls_transport.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace skiff::tls {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
// A TLS record's content type for handshake messages: what a ClientHello starts with.
constexpr unsigned char kHandshakeRecord = 0x16;

std::string errorQueueText() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text;
}

}  // namespace

TlsTransport::TlsTransport(TlsContextConstSharedPtr context, bool server,
                           TlsHandshakeStats* stats)
    : context_(std::move(context)), server_(server), stats_(stats) {
  ssl_ = SSL_new(server ? context_->serverContext() : context_->clientContext());
  network_in_ = BIO_new(BIO_s_mem());
  network_out_ = BIO_new(BIO_s_mem());
  // An empty input BIO means "wait for more", not end of file.
  BIO_set_mem_eof_return(network_in_, -1);
  BIO_set_mem_eof_return(network_out_, -1);
  SSL_set_bio(ssl_, network_in_, network_out_);
  SSL_set_ex_data(ssl_, sslConnectionStateIndex(), &state_);
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

std::unique_ptr<TlsTransport> TlsTransport::newServer(TlsContextConstSharedPtr context,
                                                      std::string alpn_wire,
                                                      TlsHandshakeStats* stats) {
  std::unique_ptr<TlsTransport> transport(new TlsTransport(std::move(context), true, stats));
  transport->server_alpn_ = std::move(alpn_wire);
  transport->state_.server_alpn = transport->server_alpn_;
  return transport;
}

std::unique_ptr<TlsTransport> TlsTransport::newClient(TlsContextConstSharedPtr context,
                                                      ClientOptions options,
                                                      TlsHandshakeStats* stats) {
  std::unique_ptr<TlsTransport> transport(new TlsTransport(std::move(context), false, stats));
  transport->client_options_ = std::move(options);
  const ClientOptions& o = transport->client_options_;
  transport->state_.allowed_identities = &o.allowed_identities;
  if (!o.alpn_wire.empty()) {
    SSL_set_alpn_protos(transport->ssl_, reinterpret_cast<const unsigned char*>(o.alpn_wire.data()),
                        static_cast<unsigned int>(o.alpn_wire.size()));
  }
  if (!o.sni.empty()) SSL_set_tlsext_host_name(transport->ssl_, o.sni.c_str());
  return transport;
}

void TlsTransport::drainOutput(Buffer& to_network) {
  size_t pending;
  while ((pending = BIO_ctrl_pending(network_out_)) > 0) {
    char* out = to_network.reserve(pending);
    int n = BIO_read(network_out_, out, static_cast<int>(pending));
    to_network.commit(n > 0 ? static_cast<size_t>(n) : 0);
    if (n <= 0) break;
  }
}

absl::Status TlsTransport::fail(absl::string_view what, int ssl_error, Buffer& to_network) {
  std::string detail = errorQueueText();
  if (!state_.verify_failure.empty()) detail = absl::StrCat(state_.verify_failure, "; ", detail);
  drainOutput(to_network);  // the alert, if OpenSSL queued one
  bool was_handshaking = !handshake_complete_;
  failed_ = true;
  if (was_handshaking && stats_ != nullptr) {
    if (server_ && saw_first_byte_ && !first_byte_tls_) {
      stats_->plaintext_refused.inc();
    } else {
      stats_->failed.inc();
    }
  }
  if (server_ && saw_first_byte_ && !first_byte_tls_) {
    return absl::PermissionDeniedError("plaintext where TLS is required");
  }
  return absl::UnavailableError(absl::StrCat(what, " (ssl error ", ssl_error, "): ", detail));
}

absl::Status TlsTransport::startHandshake(Buffer& to_network) {
  if (server_ || failed_) return absl::OkStatus();
  return advanceHandshake(to_network);
}

absl::Status TlsTransport::advanceHandshake(Buffer& to_network) {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_complete_ = true;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl_, &alpn, &alpn_length);
    alpn_.assign(reinterpret_cast<const char*>(alpn), alpn_length);
    if (state_.peer_identity.empty()) {
      // The verify callback sets it; a peer without a certificate never gets this far.
      return fail("peer presented no SPIFFE identity", 0, to_network);
    }
    if (stats_ != nullptr) stats_->succeeded.inc();
    drainOutput(to_network);
    return absl::OkStatus();
  }
  int error = SSL_get_error(ssl_, rc);
  drainOutput(to_network);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return absl::OkStatus();
  return fail("TLS handshake failed", error, to_network);
}

absl::Status TlsTransport::onNetworkData(Buffer& from_network, Buffer& plaintext,
                                         Buffer& to_network) {
  if (failed_) {
    from_network.clear();
    return absl::FailedPreconditionError("TLS connection already failed");
  }
  if (!saw_first_byte_ && from_network.length() > 0) {
    saw_first_byte_ = true;
    first_byte_tls_ = static_cast<unsigned char>(from_network.frontSlice()[0]) == kHandshakeRecord;
  }
  while (from_network.length() > 0) {
    absl::string_view slice = from_network.frontSlice();
    int written = BIO_write(network_in_, slice.data(), static_cast<int>(slice.size()));
    if (written <= 0) return fail("TLS input buffer", 0, to_network);
    from_network.drain(static_cast<size_t>(written));
  }
  if (!handshake_complete_) {
    absl::Status status = advanceHandshake(to_network);
    if (!status.ok() || !handshake_complete_) return status;
  }
  while (!peer_closed_) {
    ERR_clear_error();
    char* out = plaintext.reserve(kReadChunk);
    int n = SSL_read(ssl_, out, static_cast<int>(kReadChunk));
    if (n > 0) {
      plaintext.commit(static_cast<size_t>(n));
      continue;
    }
    plaintext.commit(0);
    int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ) break;
    if (error == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      break;
    }
    return fail("TLS read failed", error, to_network);
  }
  // Post-handshake messages (key updates) may need an answer.
  drainOutput(to_network);
  return absl::OkStatus();
}

absl::Status TlsTransport::encrypt(Buffer& plaintext, Buffer& to_network) {
  if (failed_ || !handshake_complete_) {
    return absl::FailedPreconditionError("TLS connection not established");
  }
  // Small slices (a response head, then its body) would each become a record of their own:
  // gather up to one full record (16 KiB) before each SSL_write.
  char staging[kReadChunk];
  while (plaintext.length() > 0) {
    absl::string_view slice = plaintext.frontSlice();
    const char* data = slice.data();
    size_t size = slice.size();
    if (size < kReadChunk && plaintext.length() > size) {
      size = std::min(plaintext.length(), kReadChunk);
      plaintext.copyOut(0, size, staging);
      data = staging;
    } else {
      size = std::min(size, kReadChunk);
    }
    ERR_clear_error();
    int n = SSL_write(ssl_, data, static_cast<int>(size));
    if (n <= 0) return fail("TLS write failed", SSL_get_error(ssl_, n), to_network);
    plaintext.drain(static_cast<size_t>(n));
  }
  drainOutput(to_network);
  return absl::OkStatus();
}

void TlsTransport::shutdown(Buffer& to_network) {
  if (shutdown_sent_ || failed_ || !handshake_complete_) return;
  shutdown_sent_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
  drainOutput(to_network);
}

}  // namespace skiff::tls
