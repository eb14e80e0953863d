#include "filters/authz/listener_authorization.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace skiff::filters::authz {

ListenerAuthorization::ListenerAuthorization(const config::v1::AuthorizationPolicy& policy,
                                             std::string listener_name, uint32_t listener_port,
                                             http::ListenerStats& stats)
    : policy_(policy),
      listener_name_(std::move(listener_name)),
      listener_port_(listener_port),
      stats_(stats) {}

uint32_t ListenerAuthorization::destinationPort(const net::Connection& connection) const {
  const net::SocketAddress& destination = connection.destinationAddress();
  return destination.length > 0 ? destination.port() : listener_port_;
}

bool ListenerAuthorization::allowConnection(const net::Connection& connection) const {
  AuthorizationInput input;
  input.principal = connection.peerIdentity();
  input.destination_port = destinationPort(connection);
  input.is_http = false;
  return decide(connection, input);
}

bool ListenerAuthorization::allowRequest(const net::Connection& connection,
                                         absl::string_view method, absl::string_view path) const {
  AuthorizationInput input;
  input.principal = connection.peerIdentity();
  input.destination_port = destinationPort(connection);
  input.is_http = true;
  input.method = method;
  input.path = path;
  return decide(connection, input);
}

bool ListenerAuthorization::decide(const net::Connection& connection,
                                   const AuthorizationInput& input) const {
  Decision decision = policy_.evaluate(input);
  if (decision.allowed) {
    stats_.authz_allowed.inc();
    return true;
  }
  stats_.authz_denied.inc();
  SKIFF_LOG(
      kDebug, "%s: denied %s (%s) port %d %s %s by %s", listener_name_,
      connection.remoteAddress().toString(),
      input.principal.empty() ? "plaintext" : std::string(input.principal), input.destination_port,
      std::string(input.method), std::string(input.path),
      decision.rule < 0 ? std::string("the default action") : absl::StrCat("rule ", decision.rule));
  return false;
}

std::string clientIdentityHeaderValue(const net::Connection& connection) {
  return absl::StrCat("By=", connection.localIdentity(), ";URI=", connection.peerIdentity());
}

}  // namespace skiff::filters::authz
