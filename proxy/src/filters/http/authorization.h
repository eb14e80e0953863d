#pragma once

// The listener's authorization policy, per request, before routing: a denied request is
// answered 403 with flag RBAC ("RBAC: access denied", as Envoy's RBAC filter answers, so
// clients and dashboards read it alike). The policy itself is filters/authz.

#include <memory>

#include "http/filter.h"
#include "http/filter_chain.h"

namespace skiff::filters::authz {
class ListenerAuthorization;
}

namespace skiff::filters {

class AuthorizationFilter : public http::StreamDecoderFilter {
 public:
  static http::FilterChainFactory::Factory factory(
      std::shared_ptr<const authz::ListenerAuthorization> policy);
  explicit AuthorizationFilter(const authz::ListenerAuthorization& policy) : policy_(policy) {}

  void setDecoderFilterCallbacks(http::DecoderFilterCallbacks& callbacks) override {
    callbacks_ = &callbacks;
  }
  http::FilterStatus decodeHeaders(http::RequestHead& head,
                                          bool end_stream) override;

 private:
  const authz::ListenerAuthorization& policy_;
  http::DecoderFilterCallbacks* callbacks_ = nullptr;
};

}  // namespace skiff::filters
