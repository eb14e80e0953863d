#include "filters/http/authorization.h"

#include "filters/authz/listener_authorization.h"

namespace skiff::filters {

http::FilterChainFactory::Factory AuthorizationFilter::factory(
    std::shared_ptr<const authz::ListenerAuthorization> policy) {
  // The factory keeps the policy alive; the filters it makes borrow it.
  return [policy = std::move(policy)](http::FilterChainBuilder& chain) {
    chain.addDecoderFilter(std::make_unique<AuthorizationFilter>(*policy));
  };
}

http::FilterStatus AuthorizationFilter::decodeHeaders(http::RequestHead& head,
                                                             bool) {
  if (policy_.allowRequest(callbacks_->connection(), head.method, head.path)) {
    return http::FilterStatus::kContinue;
  }
  callbacks_->sendLocalReply(403, "RBAC", "RBAC: access denied");
  return http::FilterStatus::kStop;
}

}  // namespace skiff::filters
