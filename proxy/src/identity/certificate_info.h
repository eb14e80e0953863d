#pragma once

// What the proxy reports about its certificate (GET /certificates, metrics): read back from the
// PEM the CA returned, not taken on the CA's word.

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skiff::identity {

struct CertificateInfo {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::string serial_hex;  // lower case
  std::string spiffe_uri;  // the first spiffe:// URI SAN, "" when none
};

// The first certificate of `chain_pem`.
absl::StatusOr<CertificateInfo> readLeaf(const std::string& chain_pem);
// The subject of each certificate of `pem` ("CN=..., O=..."), in order.
std::vector<std::string> certificateSubjects(const std::string& pem);
// How many certificates `pem` holds.
int countCertificates(const std::string& pem);

}  // namespace skiff::identity
