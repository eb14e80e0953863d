#pragma once

// Compiled request_headers_to_add/remove (or the response pair) of a route or virtual host.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "http/header_map.h"
#include "skiff/config/v1/common.pb.h"

namespace skiff::router {

class HeaderMutations {
 public:
  // `field` is the path of the owning message, e.g. "virtual_hosts[0].routes[1]"; `add_field`
  // and `remove_field` name the repeated fields for error messages. Host and pseudo-headers
  // are rejected: they live outside HeaderMap (use host_rewrite_literal for the authority).
  static absl::StatusOr<HeaderMutations> create(
      const google::protobuf::RepeatedPtrField<config::v1::HeaderValue>& add,
      const google::protobuf::RepeatedPtrField<std::string>& remove, const std::string& field,
      const std::string& add_field, const std::string& remove_field);

  void applyRemovals(http::HeaderMap& headers) const;
  // append=false replaces every existing value; append=true adds another entry.
  void applyAdditions(http::HeaderMap& headers) const;
  bool empty() const { return add_.empty() && remove_.empty(); }

 private:
  struct Addition {
    std::string key;  // lower-case
    std::string value;
    bool append = false;
  };
  std::vector<Addition> add_;
  std::vector<std::string> remove_;  // lower-case
};

}  // namespace skiff::router
