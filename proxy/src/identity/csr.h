#pragma once

// A fresh ECDSA P-256 key and a certificate signing request for it. The key stays in this
// process: it is handed to the TLS contexts as PEM in memory and written nowhere.

#include <string>

#include "absl/status/statusor.h"

namespace skiff::identity {

struct KeyAndCsr {
  std::string private_key_pem;  // PKCS#8
  std::string csr_pem;          // "CERTIFICATE REQUEST", signed with the key (ECDSA-SHA256)
};

// `common_name` is informative only (the CA ignores the subject); may be empty.
absl::StatusOr<KeyAndCsr> generateKeyAndCsr(const std::string& common_name);

}  // namespace skiff::identity
