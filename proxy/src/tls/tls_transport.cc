#include "tls/tls_transport.h"

#include <openssl/err.h>

#include <cstring>

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

// Points the BIO at the caller's buffers for one call.
class TlsTransport::IoScope {
 public:
  IoScope(TlsTransport& transport, Buffer* in, Buffer* out) : transport_(transport) {
    transport_.io_.in = in;
    transport_.io_.out = out;
  }
  ~IoScope() { transport_.io_ = Io{}; }

 private:
  TlsTransport& transport_;
};

BIO_METHOD* TlsTransport::bioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "skiff buffer");
    BIO_meth_set_read(m, [](BIO* bio, char* out, int size) -> int {
      auto* io = static_cast<Io*>(BIO_get_data(bio));
      BIO_clear_retry_flags(bio);
      size_t available = io->in != nullptr ? io->in->length() : io->in_view.size();
      if (available == 0) {
        BIO_set_retry_read(bio);  // more will come with the next read from the socket
        return -1;
      }
      size_t n = std::min(available, static_cast<size_t>(size));
      if (io->in != nullptr) {
        io->in->copyOut(0, n, out);
        io->in->drain(n);
      } else {
        memcpy(out, io->in_view.data(), n);
        io->in_view.remove_prefix(n);
      }
      return static_cast<int>(n);
    });
    BIO_meth_set_write(m, [](BIO* bio, const char* data, int size) -> int {
      auto* io = static_cast<Io*>(BIO_get_data(bio));
      BIO_clear_retry_flags(bio);
      if (io->out == nullptr) {
        BIO_set_retry_write(bio);  // not expected: every call that can write passes a buffer
        return -1;
      }
      io->out->add(data, static_cast<size_t>(size));
      return size;
    });
    BIO_meth_set_ctrl(m, [](BIO*, int command, long, void*) -> long {
      return command == BIO_CTRL_FLUSH ? 1 : 0;
    });
    BIO_meth_set_create(m, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

TlsTransport::TlsTransport(TlsContextConstSharedPtr context, bool server,
                           TlsHandshakeStats* stats)
    : context_(std::move(context)), server_(server), stats_(stats) {
  ssl_ = SSL_new(server ? context_->serverContext() : context_->clientContext());
  BIO* bio = BIO_new(bioMethod());
  BIO_set_data(bio, &io_);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; the SSL owns it
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

absl::Status TlsTransport::fail(absl::string_view what, int ssl_error, Buffer& to_network) {
  std::string detail = errorQueueText();
  if (!state_.verify_failure.empty()) detail = absl::StrCat(state_.verify_failure, "; ", detail);
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
  IoScope io(*this, nullptr, &to_network);
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
    return absl::OkStatus();
  }
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return absl::OkStatus();
  return fail("TLS handshake failed", error, to_network);
}

absl::Status TlsTransport::onNetworkData(Buffer& from_network, Buffer& plaintext,
                                         Buffer& to_network) {
  if (failed_) {
    from_network.clear();
    return absl::FailedPreconditionError("TLS connection already failed");
  }
  if (from_network.length() > 0) noteFirstByte(from_network.frontSlice()[0]);
  IoScope io(*this, &from_network, &to_network);
  absl::Status status = readRecords(plaintext, to_network);
  from_network.clear();  // after close_notify or a failure nothing more counts
  return status;
}

absl::Status TlsTransport::onNetworkData(absl::string_view from_network, Buffer& plaintext,
                                         Buffer& to_network) {
  if (failed_) return absl::FailedPreconditionError("TLS connection already failed");
  if (!from_network.empty()) noteFirstByte(from_network[0]);
  IoScope io(*this, nullptr, &to_network);
  io_.in_view = from_network;
  return readRecords(plaintext, to_network);
}

void TlsTransport::noteFirstByte(unsigned char byte) {
  if (saw_first_byte_) return;
  saw_first_byte_ = true;
  first_byte_tls_ = byte == kHandshakeRecord;
}

absl::Status TlsTransport::readRecords(Buffer& plaintext, Buffer& to_network) {
  if (!handshake_complete_) {
    absl::Status status = advanceHandshake(to_network);
    if (!status.ok() || !handshake_complete_) return status;
  }
  ERR_clear_error();
  while (!peer_closed_) {
    // Nothing left to decrypt: stop here rather than reserve room for a read that would only
    // say "want more".
    bool input_left = io_.in != nullptr ? io_.in->length() > 0 : !io_.in_view.empty();
    if (!input_left && !SSL_has_pending(ssl_)) break;
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
  return absl::OkStatus();
}

absl::Status TlsTransport::encrypt(Buffer& plaintext, Buffer& to_network) {
  if (failed_ || !handshake_complete_) {
    return absl::FailedPreconditionError("TLS connection not established");
  }
  // Small slices (a response head, then its body) would each become a record of their own:
  // gather up to one full record (16 KiB) before each SSL_write.
  IoScope io(*this, nullptr, &to_network);
  ERR_clear_error();  // once: a failure drains the queue, so it stays empty between calls
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
    int n = SSL_write(ssl_, data, static_cast<int>(size));
    if (n <= 0) return fail("TLS write failed", SSL_get_error(ssl_, n), to_network);
    plaintext.drain(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

void TlsTransport::shutdown(Buffer& to_network) {
  if (shutdown_sent_ || failed_ || !handshake_complete_) return;
  shutdown_sent_ = true;
  IoScope io(*this, nullptr, &to_network);
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace skiff::tls
