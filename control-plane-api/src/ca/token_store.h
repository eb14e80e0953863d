#pragma once

// Workload tokens: the credential a proxy presents to be issued its workload's certificate.
// One file per workload in the token directory, named like the workload, holding the token
// (surrounding whitespace ignored). Files are read at every check, so adding, rotating or
// revoking a token needs no restart and no reload signal; a check is one small read.

#include <string>

#include "absl/status/status.h"

namespace skiff::ca {

class TokenStore {
 public:
  explicit TokenStore(std::string dir) : dir_(std::move(dir)) {}

  // OK when `token` is `workload`'s token. Otherwise UNAUTHENTICATED (no token sent, or the
  // wrong one) or PERMISSION_DENIED (the workload has no token here), with a message for the
  // caller that never reveals the expected token. Compares in constant time.
  absl::Status check(const std::string& workload, const std::string& token) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Whether `workload` can name a file of the token directory: [A-Za-z0-9._-], not starting with
// a dot, so that no request reaches outside it.
bool isSafeWorkloadName(const std::string& workload);

}  // namespace skiff::ca
