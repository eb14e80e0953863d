#pragma once

// Checks of the mutual TLS fields (a listener's and a cluster's `tls`, the bootstrap's
// `identity.static_certificate`), for the proxy's validator.

#include <string>

#include "config/authorization_checks.h"  // FieldErrors
#include "skiff/config/v1/tls.pb.h"

namespace skiff::config {

FieldErrors downstreamTlsErrors(const v1::DownstreamTlsContext& tls, const std::string& path);
FieldErrors upstreamTlsErrors(const v1::UpstreamTlsContext& tls, const std::string& path);
// The source is set; a static certificate names its three files.
FieldErrors identityErrors(const v1::Identity& identity, const std::string& path);

}  // namespace skiff::config
