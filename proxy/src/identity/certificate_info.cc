#include "identity/certificate_info.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>

#include "tls/spiffe.h"

namespace skiff::identity {
namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
};

template <class Visit>
void forEachCertificate(const std::string& pem, Visit visit) {
  std::unique_ptr<BIO, Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    std::unique_ptr<X509, Free> cert(raw);
    if (!visit(cert.get())) break;
  }
  ERR_clear_error();  // the end of the input reads as an error
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

std::string subjectOf(X509* cert) {
  std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size > 0 ? static_cast<size_t>(size) : 0);
}

}  // namespace

absl::StatusOr<CertificateInfo> readLeaf(const std::string& chain_pem) {
  std::optional<CertificateInfo> info;
  forEachCertificate(chain_pem, [&](X509* cert) {
    info.emplace();
    info->not_before = toTimePoint(X509_get0_notBefore(cert));
    info->not_after = toTimePoint(X509_get0_notAfter(cert));
    BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    if (serial != nullptr) {
      char* hex = BN_bn2hex(serial);
      info->serial_hex = hex;
      OPENSSL_free(hex);
      BN_free(serial);
      std::transform(info->serial_hex.begin(), info->serial_hex.end(), info->serial_hex.begin(),
                     ::tolower);
    }
    info->spiffe_uri = tls::spiffeUriFromCertificate(cert);
    return false;  // the leaf only
  });
  if (!info) return absl::InvalidArgumentError("no PEM CERTIFICATE in the chain");
  return *info;
}

std::vector<std::string> certificateSubjects(const std::string& pem) {
  std::vector<std::string> subjects;
  forEachCertificate(pem, [&](X509* cert) {
    subjects.push_back(subjectOf(cert));
    return true;
  });
  return subjects;
}

int countCertificates(const std::string& pem) {
  int count = 0;
  forEachCertificate(pem, [&](X509*) {
    ++count;
    return true;
  });
  return count;
}

}  // namespace skiff::identity
