#pragma once

// Checks of an authorization policy, shared by the proxy's validator (a listener's
// `authorization`) and skiff-control's mesh validator (authorization_policies), so that both
// reject the same mistakes with the same words.

#include <string>
#include <utility>
#include <vector>

#include "skiff/config/v1/authorization.pb.h"

namespace skiff::config {

// (field path, reason) pairs; paths are `path` followed by the field, e.g. "rules[0].methods[1]".
using FieldErrors = std::vector<std::pair<std::string, std::string>>;

// `tcp_only`: the policy guards TCP connections only, where a rule with methods or paths could
// never match (almost certainly a mistake).
FieldErrors authorizationPolicyErrors(const v1::AuthorizationPolicy& policy,
                                      const std::string& path, bool tcp_only);

// One rule's fields (the mesh carries rules outside a config::v1 policy).
FieldErrors authorizationRuleErrors(const v1::AuthorizationRule& rule, const std::string& path,
                                    bool tcp_only);

}  // namespace skiff::config
