#include "ca/certificate_authority.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ca/openssl_util.h"

namespace skiff::ca {
namespace {

constexpr char kDevelopmentRootName[] = "Skiff development CA";

// Adds one extension written in OpenSSL's config syntax ("critical,CA:FALSE"); only constant
// values go through here, never anything a caller sent.
absl::Status addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  OsslPtr<X509_EXTENSION> extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), ": ", lastOpenSslError()));
  }
  return absl::OkStatus();
}

// A URI subjectAltName built as a structure (no config-string parsing of the identity).
absl::Status addUriSan(X509* cert, const std::string& uri) {
  OsslPtr<GENERAL_NAMES> names(GENERAL_NAMES_new());
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* text = ASN1_IA5STRING_new();
  if (names == nullptr || name == nullptr || text == nullptr ||
      ASN1_STRING_set(text, uri.data(), static_cast<int>(uri.size())) != 1) {
    GENERAL_NAME_free(name);
    ASN1_IA5STRING_free(text);
    return absl::InternalError("cannot build the subjectAltName");
  }
  GENERAL_NAME_set0_value(name, GEN_URI, text);
  sk_GENERAL_NAME_push(names.get(), name);
  // Critical: the subject is empty, so the SAN is the certificate's only name (RFC 5280 4.2.1.6).
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 1, X509V3_ADD_DEFAULT) != 1) {
    return absl::InternalError("cannot add the subjectAltName: " + lastOpenSslError());
  }
  return absl::OkStatus();
}

// 128 random bits; BN_bin2bn reads them as unsigned, so the serial is positive (and at most 17
// DER octets, within RFC 5280's 20).
absl::StatusOr<std::string> setRandomSerial(X509* cert) {
  unsigned char bytes[16];
  do {
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("RAND_bytes failed");
  } while (std::all_of(bytes, bytes + sizeof(bytes), [](unsigned char b) { return b == 0; }));
  OsslPtr<BIGNUM> number(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!number || BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) == nullptr) {
    return absl::InternalError("cannot set the serial number");
  }
  char* hex = BN_bn2hex(number.get());
  std::string text(hex);
  OPENSSL_free(hex);
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

time_t toTimeT(std::chrono::system_clock::time_point t) {
  return std::chrono::system_clock::to_time_t(t);
}

// The signature digest for the CA's key type: none for EdDSA keys, SHA-256 otherwise.
const EVP_MD* digestFor(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return nullptr;
  return EVP_sha256();
}

absl::Status checkP256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) {
    return absl::InvalidArgumentError(
        absl::StrCat("csr: the key must be ECDSA P-256, not ", EVP_PKEY_get0_type_name(key)));
  }
  char group[64] = {};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &length) != 1 ||
      std::strcmp(group, "prime256v1") != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("csr: the key must be ECDSA P-256, not EC curve ", group));
  }
  return absl::OkStatus();
}

// Writes `content` to a new file (never over an existing one) with `mode`.
absl::Status writeNewFile(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int error = errno;
      ::close(fd);
      return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

bool exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

absl::Status generateDevelopmentRoot(const std::string& cert_path, const std::string& key_path) {
  OsslPtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  OsslPtr<X509> cert(X509_new());
  if (!key || !cert) return absl::InternalError("cannot generate a key: " + lastOpenSslError());
  X509_set_version(cert.get(), X509_VERSION_3);
  auto serial = setRandomSerial(cert.get());
  if (!serial.ok()) return serial.status();
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("skiff"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(kDevelopmentRootName), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  const auto now = std::chrono::system_clock::now();
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), toTimeT(now - kClockSkewAllowance));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), toTimeT(now + kDevelopmentRootLifetime));
  X509_set_pubkey(cert.get(), key.get());
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            {NID_key_usage, "critical,keyCertSign,cRLSign"},
                            {NID_subject_key_identifier, "hash"},
                            {NID_authority_key_identifier, "keyid:always"}}) {
    absl::Status status = addExtension(cert.get(), cert.get(), nid, value);
    if (!status.ok()) return status;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError("cannot self-sign the root: " + lastOpenSslError());
  }
  // The key first: a crash in between leaves a key without a certificate, which the next start
  // reports instead of silently generating a second root.
  absl::Status status = writeNewFile(key_path, privateKeyPem(key.get()), 0600);
  if (status.ok()) status = writeNewFile(cert_path, certificatePem(cert.get()), 0644);
  return status;
}

}  // namespace

CertificateAuthority::~CertificateAuthority() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::create(
    X509* signing_cert, EVP_PKEY* signing_key, std::vector<X509*> above) {
  std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
  ca->cert_ = signing_cert;
  ca->key_ = signing_key;
  std::vector<OsslPtr<X509>> owned;
  for (X509* cert : above) owned.emplace_back(cert);

  if (X509_check_private_key(signing_cert, signing_key) != 1) {
    return absl::InvalidArgumentError("the CA key does not match the CA certificate");
  }
  if (X509_check_ca(signing_cert) == 0) {
    return absl::InvalidArgumentError("the CA certificate is not a CA (basicConstraints)");
  }
  if (isSelfSigned(signing_cert)) {
    ca->trust_bundle_pem_ = certificatePem(signing_cert);
  } else {
    ca->intermediates_pem_ = certificatePem(signing_cert);
  }
  for (const auto& cert : owned) {
    if (isSelfSigned(cert.get())) {
      ca->trust_bundle_pem_ += certificatePem(cert.get());
    } else {
      ca->intermediates_pem_ += certificatePem(cert.get());
    }
  }
  if (ca->trust_bundle_pem_.empty()) {
    return absl::InvalidArgumentError(
        "the CA certificate is an intermediate: --ca-chain must hold its chain up to a "
        "self-signed root");
  }
  ca->subject_ = nameToString(X509_get_subject_name(signing_cert));
  ca->cert_not_after_ = toTimePoint(X509_get0_notAfter(signing_cert));
  if (ca->cert_not_after_ <= std::chrono::system_clock::now()) {
    return absl::InvalidArgumentError("the CA certificate has expired");
  }
  return ca;
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::fromFiles(
    const std::string& cert_file, const std::string& key_file, const std::string& chain_file) {
  auto cert_pem = readFile(cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto certs = parseCertificates(*cert_pem);
  if (!certs.ok())
    return absl::InvalidArgumentError(absl::StrCat(cert_file, ": ", certs.status().message()));
  auto key_pem = readFile(key_file);
  if (!key_pem.ok()) return key_pem.status();
  auto key = parsePrivateKey(*key_pem);
  if (!key.ok())
    return absl::InvalidArgumentError(absl::StrCat(key_file, ": ", key.status().message()));

  // The signing certificate is the first of its file; any others there count as chain.
  std::vector<X509*> above;
  for (size_t i = 1; i < certs->size(); ++i) above.push_back((*certs)[i].release());
  if (!chain_file.empty()) {
    auto chain_pem = readFile(chain_file);
    if (!chain_pem.ok()) return chain_pem.status();
    auto chain = parseCertificates(*chain_pem);
    if (!chain.ok()) {
      for (X509* cert : above) X509_free(cert);
      return absl::InvalidArgumentError(absl::StrCat(chain_file, ": ", chain.status().message()));
    }
    for (auto& cert : *chain) above.push_back(cert.release());
  }
  return create((*certs)[0].release(), key->release(), std::move(above));
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::fromDirectory(
    const std::string& dir, bool* generated) {
  const std::string cert_path = dir + "/ca.pem";
  const std::string key_path = dir + "/ca-key.pem";
  *generated = false;
  const bool have_cert = exists(cert_path);
  const bool have_key = exists(key_path);
  if (have_cert != have_key) {
    return absl::FailedPreconditionError(absl::StrCat(
        have_cert ? key_path : cert_path, " is missing but ", have_cert ? cert_path : key_path,
        " exists: restore it, or remove both to generate a new development CA"));
  }
  if (!have_cert) {
    ::mkdir(dir.c_str(), 0700);
    absl::Status status = generateDevelopmentRoot(cert_path, key_path);
    if (!status.ok()) return status;
    *generated = true;
  }
  return fromFiles(cert_path, key_path, "");
}

absl::StatusOr<SignedCertificate> CertificateAuthority::sign(
    const std::string& csr_pem, const std::string& spiffe_uri, std::chrono::seconds ttl,
    std::chrono::system_clock::time_point now) const {
  OsslPtr<BIO> bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  OsslPtr<X509_REQ> request(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!request) {
    lastOpenSslError();
    return absl::InvalidArgumentError("csr: not a PEM CERTIFICATE REQUEST");
  }
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(request.get());
  if (public_key == nullptr) return absl::InvalidArgumentError("csr: no public key");
  if (X509_REQ_verify(request.get(), public_key) != 1) {
    lastOpenSslError();
    return absl::InvalidArgumentError("csr: the signature does not verify");
  }
  absl::Status status = checkP256(public_key);
  if (!status.ok()) return status;

  ttl = std::clamp(ttl, kMinCertificateTtl, std::max(kMinCertificateTtl, max_ttl_));
  SignedCertificate result;
  result.not_before = now - kClockSkewAllowance;
  result.not_after = std::min(now + ttl, cert_not_after_);
  // Whole seconds: what the certificate can say.
  result.not_before = std::chrono::system_clock::from_time_t(toTimeT(result.not_before));
  result.not_after = std::chrono::system_clock::from_time_t(toTimeT(result.not_after));

  OsslPtr<X509> cert(X509_new());
  if (!cert) return absl::InternalError("X509_new failed");
  X509_set_version(cert.get(), X509_VERSION_3);
  auto serial = setRandomSerial(cert.get());
  if (!serial.ok()) return serial.status();
  result.serial_hex = *serial;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_));
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), toTimeT(result.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), toTimeT(result.not_after));
  X509_set_pubkey(cert.get(), public_key);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_key_usage, "critical,digitalSignature"},
                            {NID_ext_key_usage, "serverAuth,clientAuth"},
                            {NID_subject_key_identifier, "hash"},
                            {NID_authority_key_identifier, "keyid:always"}}) {
    status = addExtension(cert.get(), cert_, nid, value);
    if (!status.ok()) return status;
  }
  status = addUriSan(cert.get(), spiffe_uri);
  if (!status.ok()) return status;
  if (X509_sign(cert.get(), key_, digestFor(key_)) <= 0) {
    return absl::InternalError("cannot sign: " + lastOpenSslError());
  }
  result.certificate_chain_pem = certificatePem(cert.get()) + intermediates_pem_;
  result.trust_bundle_pem = trust_bundle_pem_;
  return result;
}

}  // namespace skiff::ca
