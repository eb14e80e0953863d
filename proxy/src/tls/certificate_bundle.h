#pragma once

// The proxy's own identity material, as PEM text: what a TlsContext is built from. Produced by
// the static-certificate loader (files) or the certificate-service client (CSR + signed reply)
// on the main thread; consumed by Server::updateIdentity.
#include <chrono>
#include <string>

namespace skiff::tls {

struct CertificateBundle {
  // Leaf first, then intermediates.
  std::string certificate_chain_pem;
  std::string private_key_pem;
  // CA certificates a peer's chain must lead to.
  std::string trust_bundle_pem;
  // The SPIFFE URI in the leaf certificate ("" when not known yet).
  std::string identity;
  std::chrono::system_clock::time_point not_after;
  std::string serial_hex;
};

}  // namespace skiff::tls
