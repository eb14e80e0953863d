#include "router/route_header_mutation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace skiff::router {
namespace {

absl::Status checkName(const std::string& lower, const std::string& field) {
  if (lower.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  if (lower == "host" || lower[0] == ':') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cannot modify '", lower, "' (host and pseudo-headers)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HeaderMutations> HeaderMutations::create(
    const google::protobuf::RepeatedPtrField<config::v1::HeaderValue>& add,
    const google::protobuf::RepeatedPtrField<std::string>& remove, const std::string& field,
    const std::string& add_field, const std::string& remove_field) {
  HeaderMutations mutations;
  for (int i = 0; i < remove.size(); ++i) {
    std::string name = absl::AsciiStrToLower(remove[i]);
    absl::Status status = checkName(name, absl::StrCat(field, ".", remove_field, "[", i, "]"));
    if (!status.ok()) return status;
    mutations.remove_.push_back(std::move(name));
  }
  for (int i = 0; i < add.size(); ++i) {
    std::string name = absl::AsciiStrToLower(add[i].key());
    absl::Status status = checkName(name, absl::StrCat(field, ".", add_field, "[", i, "].key"));
    if (!status.ok()) return status;
    mutations.add_.push_back(Addition{std::move(name), add[i].value(), add[i].append()});
  }
  return mutations;
}

void HeaderMutations::applyRemovals(http::HeaderMap& headers) const {
  for (const auto& name : remove_) headers.remove(name);
}

void HeaderMutations::applyAdditions(http::HeaderMap& headers) const {
  for (const auto& addition : add_) {
    if (addition.append) {
      headers.add(addition.key, addition.value);
    } else {
      headers.set(addition.key, addition.value);
    }
  }
}

}  // namespace skiff::router
