#include "tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tls/spiffe.h"

namespace skiff::tls {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// The most recent OpenSSL error as text, and the queue cleared (it is per thread).
std::string openSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

BioPtr memoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`, in order.
absl::StatusOr<std::vector<X509Ptr>> readCertificates(const std::string& pem, const char* what) {
  BioPtr bio = memoryBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the read that ended the loop left "no start line"
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no PEM certificate"));
  }
  return certs;
}

int verifyPeer(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* state = ssl == nullptr ? nullptr
                               : static_cast<SslConnectionState*>(
                                     SSL_get_ex_data(ssl, sslConnectionStateIndex()));
  if (!preverify_ok) {
    if (state != nullptr && state->verify_failure.empty()) {
      state->verify_failure =
          X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    }
    return 0;
  }
  // Intermediates and the root only need the chain check OpenSSL already did.
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  std::string uri = spiffeUriFromCertificate(X509_STORE_CTX_get_current_cert(store));
  auto refuse = [&](std::string why) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    if (state != nullptr) state->verify_failure = std::move(why);
    return 0;
  };
  if (uri.empty()) return refuse("peer certificate has no spiffe:// URI SAN");
  if (state == nullptr) return 1;
  const auto* allowed = state->allowed_identities;
  if (allowed != nullptr && !allowed->empty() &&
      std::find(allowed->begin(), allowed->end(), uri) == allowed->end()) {
    return refuse(absl::StrCat("peer identity ", uri, " is not allowed"));
  }
  state->peer_identity = std::move(uri);
  return 1;
}

int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
               const unsigned char* offered, unsigned int offered_length, void*) {
  auto* state = static_cast<SslConnectionState*>(SSL_get_ex_data(ssl, sslConnectionStateIndex()));
  if (state == nullptr || state->server_alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  // SSL_select_next_proto takes non-const pointers but only reads through them.
  int rc = SSL_select_next_proto(
      &selected, out_length,
      reinterpret_cast<const unsigned char*>(state->server_alpn.data()),
      static_cast<unsigned int>(state->server_alpn.size()), offered, offered_length);
  if (rc != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

absl::StatusOr<SslCtxPtr> newContext(bool server, X509* leaf,
                                     const std::vector<X509Ptr>& chain, EVP_PKEY* key,
                                     X509_STORE* trust) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return absl::InternalError(openSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  if (SSL_CTX_use_certificate(ctx.get(), leaf) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("certificate: ", openSslError()));
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), chain[i].get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("certificate chain: ", openSslError()));
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key does not match the certificate");
  }
  SSL_CTX_set1_cert_store(ctx.get(), trust);
  // Send exactly the configured chain (leaf + the file's intermediates). Without this, OpenSSL
  // rebuilds and verifies our own chain against the trust store on every handshake ("auto
  // chain"), which tools/bench-mtls measured at ~25% of a mutual handshake's CPU; peers hold
  // the same trust bundle, so they never needed what it would add.
  // RELEASE_BUFFERS: OpenSSL frees a connection's record buffers (about 34 KiB) whenever they
  // are empty, so an idle mTLS connection does not hold them.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verifyPeer);
  if (server) {
    SSL_CTX_set_alpn_select_cb(ctx.get(), selectAlpn, nullptr);
    // Proxies keep their upstream connections pooled and never store sessions, so tickets would
    // be bytes and signatures for nothing: no resumption (every handshake is a full one).
    SSL_CTX_set_num_tickets(ctx.get(), 0);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  }
  return ctx;
}

absl::StatusOr<std::string> readFile(const std::string& path, const char* field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int sslConnectionStateIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

absl::Status describeLeaf(CertificateBundle& bundle) {
  auto certs = readCertificates(bundle.certificate_chain_pem, "certificate chain");
  if (!certs.ok()) return certs.status();
  X509* leaf = (*certs)[0].get();
  bundle.identity = spiffeUriFromCertificate(leaf);
  struct tm not_after {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &not_after) == 1) {
    bundle.not_after = std::chrono::system_clock::from_time_t(timegm(&not_after));
  }
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr);
  if (serial != nullptr) {
    char* hex = BN_bn2hex(serial);
    bundle.serial_hex = hex;
    OPENSSL_free(hex);
    BN_free(serial);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::create(
    const CertificateBundle& bundle) {
  auto chain = readCertificates(bundle.certificate_chain_pem, "certificate chain");
  if (!chain.ok()) return chain.status();
  auto roots = readCertificates(bundle.trust_bundle_pem, "trust bundle");
  if (!roots.ok()) return roots.status();
  BioPtr key_bio = memoryBio(bundle.private_key_pem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key: no PEM private key");
  }
  X509* leaf = (*chain)[0].get();
  std::string identity = spiffeUriFromCertificate(leaf);
  if (identity.empty()) {
    return absl::InvalidArgumentError("certificate: the leaf has no spiffe:// URI SAN");
  }
  if (auto parsed = parseSpiffeId(identity); !parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate: ", identity, ": ", parsed.status().message()));
  }
  std::unique_ptr<X509_STORE, StoreDeleter> trust(X509_STORE_new());
  for (const auto& root : *roots) {
    if (X509_STORE_add_cert(trust.get(), root.get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("trust bundle: ", openSslError()));
    }
  }
  std::shared_ptr<TlsContext> context(new TlsContext());
  auto server = newContext(true, leaf, *chain, key.get(), trust.get());
  if (!server.ok()) return server.status();
  auto client = newContext(false, leaf, *chain, key.get(), trust.get());
  if (!client.ok()) return client.status();
  context->server_ = std::move(*server);
  context->client_ = std::move(*client);
  CertificateBundle described = bundle;
  absl::Status status = describeLeaf(described);
  if (!status.ok()) return status;
  context->identity_ = std::move(identity);
  context->not_after_ = described.not_after;
  context->serial_hex_ = described.serial_hex;
  return std::shared_ptr<const TlsContext>(std::move(context));
}

absl::StatusOr<CertificateBundle> loadStaticCertificate(
    const config::v1::StaticCertificate& config) {
  CertificateBundle bundle;
  auto chain = readFile(config.certificate_chain_file(), "certificate_chain_file");
  if (!chain.ok()) return chain.status();
  auto key = readFile(config.private_key_file(), "private_key_file");
  if (!key.ok()) return key.status();
  auto trust = readFile(config.trust_bundle_file(), "trust_bundle_file");
  if (!trust.ok()) return trust.status();
  bundle.certificate_chain_pem = std::move(*chain);
  bundle.private_key_pem = std::move(*key);
  bundle.trust_bundle_pem = std::move(*trust);
  absl::Status status = describeLeaf(bundle);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate_chain_file: ", config.certificate_chain_file(), ": ",
                     status.message()));
  }
  return bundle;
}

absl::StatusOr<std::string> alpnWireFormat(
    const google::protobuf::RepeatedPtrField<std::string>& protocols) {
  std::string wire;
  for (const std::string& protocol : protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return absl::InvalidArgumentError("an ALPN protocol name must have 1 to 255 bytes");
    }
    wire.push_back(static_cast<char>(protocol.size()));
    wire += protocol;
  }
  return wire;
}

namespace {
thread_local TlsContextConstSharedPtr current_context;
}  // namespace

const TlsContextConstSharedPtr& currentContext() { return current_context; }
void setCurrentContext(TlsContextConstSharedPtr context) { current_context = std::move(context); }

}  // namespace skiff::tls
