#include "ca/token_store.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ca/openssl_util.h"

namespace skiff::ca {
namespace {

constexpr size_t kMaxWorkloadName = 253;

// Hashing first makes the comparison's time independent of both the contents and the lengths.
bool equalInConstantTime(const std::string& a, const std::string& b) {
  unsigned char hash_a[SHA256_DIGEST_LENGTH];
  unsigned char hash_b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), hash_a);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), hash_b);
  return CRYPTO_memcmp(hash_a, hash_b, SHA256_DIGEST_LENGTH) == 0;
}

}  // namespace

bool isSafeWorkloadName(const std::string& workload) {
  if (workload.empty() || workload.size() > kMaxWorkloadName || workload[0] == '.') return false;
  for (char c : workload) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

absl::Status TokenStore::check(const std::string& workload, const std::string& token) const {
  if (!isSafeWorkloadName(workload)) {
    return absl::InvalidArgumentError(
        absl::StrCat("workload \"", workload, "\" is not a valid workload name"));
  }
  if (token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("no token sent for workload ", workload, " (is its token file empty?)"));
  }
  auto expected = readFile(dir_ + "/" + workload);
  if (!expected.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("workload ", workload, " has no token on the control plane"));
  }
  std::string expected_token(absl::StripAsciiWhitespace(*expected));
  if (expected_token.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("workload ", workload, " has an empty token on the control plane"));
  }
  std::string sent(absl::StripAsciiWhitespace(token));
  if (!equalInConstantTime(sent, expected_token)) {
    return absl::UnauthenticatedError(absl::StrCat("wrong token for workload ", workload));
  }
  return absl::OkStatus();
}

}  // namespace skiff::ca
