#pragma once

// ORIGINAL_DST clusters have no hosts of their own: each downstream connection's original
// destination (read at accept by a use_original_dst listener) is its one host. Shared by the
// TCP proxy and the router (HTTP passthrough).

#include "net/connection.h"
#include "upstream/cluster_info.h"
#include "upstream/host.h"

namespace skiff::upstream {

// A host for `downstream`'s destination, or nullptr when the connection was not redirected
// (its destination is the listener's own address: connecting there would loop back into the
// proxy), which is counted in the cluster's original_dst_refused.
HostSharedPtr originalDestinationHost(const ClusterInfo& cluster,
                                      const net::Connection& downstream);

}  // namespace skiff::upstream
