#pragma once

// A listener's authorization policy together with what evaluating it needs from a downstream
// connection: the caller's verified identity (empty for plaintext), the destination port (the
// original destination with use_original_dst, else the listener's own port), and the listener's
// allowed/denied counters. Built on the main thread, shared read-only by the workers; the HTTP
// connection manager asks per request, the TCP proxy once per connection.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "filters/authz/authorization.h"
#include "http/listener_stats.h"
#include "net/connection.h"

namespace skiff::filters::authz {

class ListenerAuthorization {
 public:
  ListenerAuthorization(const config::v1::AuthorizationPolicy& policy, std::string listener_name,
                        uint32_t listener_port, http::ListenerStats& stats);

  // A TCP connection (rules with methods or paths never match it). Counted.
  bool allowConnection(const net::Connection& connection) const;
  // An HTTP request; `path` may carry a query, which is ignored. Counted.
  bool allowRequest(const net::Connection& connection, absl::string_view method,
                    absl::string_view path) const;

  uint32_t destinationPort(const net::Connection& connection) const;

 private:
  bool decide(const net::Connection& connection, const AuthorizationInput& input) const;

  const AuthorizationPolicy policy_;
  const std::string listener_name_;
  const uint32_t listener_port_;
  http::ListenerStats& stats_;
};

// The header a listener with `tls` rewrites on every request ("x-forwarded-client-cert" unless
// the listener names another), and its value for a mutual-TLS caller:
// "By=<own identity>;URI=<caller identity>", as Envoy writes it.
std::string clientIdentityHeaderValue(const net::Connection& connection);

}  // namespace skiff::filters::authz
