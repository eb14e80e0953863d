#include "filters/http/client_identity.h"

#include <memory>

#include "filters/authz/listener_authorization.h"
#include "net/connection.h"

namespace skiff::filters {

http::FilterChainFactory::Factory ClientIdentityFilter::factory(std::string header) {
  return [header = std::move(header)](http::FilterChainBuilder& chain) {
    chain.addDecoderFilter(std::make_unique<ClientIdentityFilter>(header));
  };
}

http::FilterStatus ClientIdentityFilter::decodeHeaders(http::RequestHead& head,
                                                              bool) {
  head.headers.remove(header_);
  const net::Connection& connection = callbacks_->connection();
  if (!connection.peerIdentity().empty()) {
    head.headers.add(header_, authz::clientIdentityHeaderValue(connection));
  }
  return http::FilterStatus::kContinue;
}

}  // namespace skiff::filters
