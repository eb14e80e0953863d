#include "ca/workload_identity.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace skiff::ca {
namespace {

// SPIFFE: trust domains are lower-case [a-z0-9.-_]; path segments [A-Za-z0-9.-_], not "." or
// "..".
bool validComponent(const std::string& text, bool lower_case_only) {
  if (text.empty() || text == "." || text == "..") return false;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    const bool letter = lower_case_only ? absl::ascii_islower(u) : absl::ascii_isalpha(u);
    if (!letter && !absl::ascii_isdigit(u) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> workloadSpiffeId(const mesh::v1::MeshFile& mesh,
                                             const std::string& workload) {
  const mesh::v1::Workload* found = nullptr;
  for (const auto& candidate : mesh.workloads()) {
    if (candidate.name() == workload) {
      found = &candidate;
      break;
    }
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("workload ", workload, " is not in the mesh"));
  }
  std::string ns = kDefaultNamespace;
  for (const auto& service : mesh.services()) {
    if (service.name() == found->service() && !service.namespace_().empty()) {
      ns = service.namespace_();
    }
  }
  const std::string trust_domain =
      mesh.settings().trust_domain().empty() ? kDefaultTrustDomain : mesh.settings().trust_domain();
  const std::string account =
      found->service_account().empty() ? found->service() : found->service_account();
  if (!validComponent(trust_domain, true) || !validComponent(ns, false) ||
      !validComponent(account, false)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "workload ", workload, ": trust domain \"", trust_domain, "\", namespace \"", ns,
        "\" and service account \"", account, "\" do not form a valid SPIFFE identity"));
  }
  return absl::StrCat("spiffe://", trust_domain, "/ns/", ns, "/sa/", account);
}

}  // namespace skiff::ca
