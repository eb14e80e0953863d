#pragma once

// The mesh's certificate authority: a signing certificate and key (a root, or an intermediate
// with the chain up to its roots), and the one operation it offers, signing a workload's CSR
// into a short-lived X.509-SVID whose only identity is the SPIFFE URI the caller decided on.
// The CSR only contributes its public key: its subject and extensions are ignored, so a
// workload cannot ask for a name, a CA bit or a usage it was not given.
//
// Immutable after loading; sign() is safe to call from any number of threads.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace skiff::ca {

// The lifetime asked for when the request names none, and the cap when the operator sets none.
inline constexpr std::chrono::seconds kDefaultCertificateTtl{24 * 3600};
inline constexpr std::chrono::seconds kDefaultMaxCertificateTtl{48 * 3600};
// Shorter lifetimes are raised to this: a certificate must outlive its own renewal round trip.
inline constexpr std::chrono::seconds kMinCertificateTtl{10};
// How long a generated development root is valid.
inline constexpr std::chrono::hours kDevelopmentRootLifetime{24 * 365 * 10};
// notBefore is backdated by this much so a peer whose clock is slightly behind accepts it.
inline constexpr std::chrono::seconds kClockSkewAllowance{60};

struct SignedCertificate {
  // PEM: the leaf, then the intermediates up to (not including) the root.
  std::string certificate_chain_pem;
  std::string trust_bundle_pem;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  // Lower-case hex, as `openssl x509 -serial` prints it (without the "serial=").
  std::string serial_hex;
};

class CertificateAuthority {
 public:
  // `cert_file` and `key_file` sign. `chain_file` (optional for a self-signed root, required
  // for an intermediate) holds the certificates above the signing one: the self-signed ones
  // form the trust bundle, the others are sent with every leaf as intermediates.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> fromFiles(
      const std::string& cert_file, const std::string& key_file, const std::string& chain_file);

  // DIR/ca.pem and DIR/ca-key.pem; when neither exists, a self-signed ECDSA P-256 root is
  // generated there first (*generated is set: the caller warns loudly, it is a development
  // CA). One without the other is an error: a half-written CA is never replaced silently.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> fromDirectory(const std::string& dir,
                                                                             bool* generated);

  ~CertificateAuthority();
  CertificateAuthority(const CertificateAuthority&) = delete;
  CertificateAuthority& operator=(const CertificateAuthority&) = delete;

  // Signs `csr_pem` (PEM "CERTIFICATE REQUEST"; its signature must verify and its key must be
  // ECDSA P-256) for `spiffe_uri`. `ttl` is clamped to [kMinCertificateTtl, max_ttl] and to the
  // signing certificate's own notAfter. InvalidArgument for a bad CSR.
  absl::StatusOr<SignedCertificate> sign(const std::string& csr_pem, const std::string& spiffe_uri,
                                         std::chrono::seconds ttl,
                                         std::chrono::system_clock::time_point now) const;

  void setMaxTtl(std::chrono::seconds max_ttl) { max_ttl_ = max_ttl; }
  std::chrono::seconds maxTtl() const { return max_ttl_; }
  const std::string& trustBundlePem() const { return trust_bundle_pem_; }
  // The signing certificate's subject, one line ("CN=..., O=...").
  const std::string& subject() const { return subject_; }

 private:
  CertificateAuthority() = default;
  // Takes ownership of every pointer (also on error).
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> create(X509* signing_cert,
                                                                      EVP_PKEY* signing_key,
                                                                      std::vector<X509*> above);

  X509* cert_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  std::string intermediates_pem_;  // the signing cert (if not a root) and those above it
  std::string trust_bundle_pem_;
  std::string subject_;
  std::chrono::system_clock::time_point cert_not_after_;
  std::chrono::seconds max_ttl_ = kDefaultMaxCertificateTtl;
};

}  // namespace skiff::ca
