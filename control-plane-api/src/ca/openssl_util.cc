#include "ca/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace skiff::ca {

std::string lastOpenSslError() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

absl::StatusOr<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

absl::StatusOr<std::vector<OsslPtr<X509>>> parseCertificates(const std::string& pem) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<OsslPtr<X509>> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the input reads as an error
  if (certs.empty()) return absl::InvalidArgumentError("no PEM CERTIFICATE found");
  return certs;
}

absl::StatusOr<OsslPtr<EVP_PKEY>> parsePrivateKey(const std::string& pem) {
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  OsslPtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("no PEM private key found (", lastOpenSslError(), ")"));
  }
  return key;
}

namespace {
std::string drain(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size > 0 ? static_cast<size_t>(size) : 0);
}
}  // namespace

std::string certificatePem(X509* cert) {
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return drain(bio.get());
}

std::string privateKeyPem(EVP_PKEY* key) {
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return drain(bio.get());
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return std::chrono::system_clock::time_point{};
  }
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

std::string nameToString(const X509_NAME* name) {
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return drain(bio.get());
}

bool isSelfSigned(X509* cert) { return X509_self_signed(cert, 0) == 1; }

}  // namespace skiff::ca
