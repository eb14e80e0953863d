#include "identity/csr.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace skiff::identity {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

std::string drain(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size > 0 ? static_cast<size_t>(size) : 0);
}

absl::Status opensslError(const char* what) {
  char text[256] = {};
  ERR_error_string_n(ERR_get_error(), text, sizeof(text));
  ERR_clear_error();
  return absl::InternalError(std::string(what) + ": " + text);
}

}  // namespace

absl::StatusOr<KeyAndCsr> generateKeyAndCsr(const std::string& common_name) {
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return opensslError("cannot generate an ECDSA P-256 key");
  Ptr<X509_REQ> request(X509_REQ_new());
  if (!request) return opensslError("X509_REQ_new");
  X509_REQ_set_version(request.get(), 0);  // v1, the only version there is
  if (!common_name.empty()) {
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(request.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
  }
  if (X509_REQ_set_pubkey(request.get(), key.get()) != 1 ||
      X509_REQ_sign(request.get(), key.get(), EVP_sha256()) <= 0) {
    return opensslError("cannot sign the CSR");
  }
  KeyAndCsr result;
  Ptr<BIO> csr_bio(BIO_new(BIO_s_mem()));
  Ptr<BIO> key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(csr_bio.get(), request.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return opensslError("cannot encode the key or CSR");
  }
  result.csr_pem = drain(csr_bio.get());
  result.private_key_pem = drain(key_bio.get());
  return result;
}

}  // namespace skiff::identity
