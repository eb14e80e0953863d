#pragma once

// ORIGINAL_DST clusters have no hosts of their own: each downstream connection's original
// destination (read at accept by a use_original_dst listener) is its one host.

#include "net/connection.h"
#include "upstream/cluster_info.h"
#include "upstream/host.h"
#include "upstream/load_balancer.h"

namespace skiff::upstream {

// A host for `downstream`'s destination, or nullptr when the connection was not redirected
// (its destination is the listener's own address: connecting there would loop back into the
// proxy), which is counted in the cluster's original_dst_refused.
HostSharedPtr originalDestinationHost(const ClusterInfo& cluster,
                                      const net::Connection& downstream);

// The balancer of an ORIGINAL_DST cluster: the host is the context's downstream connection's
// original destination, so HTTP passthrough and the TCP proxy choose hosts the same way as
// for any other cluster. No downstream connection in the context: no host.
class OriginalDstLoadBalancer : public LoadBalancer {
 public:
  explicit OriginalDstLoadBalancer(ClusterInfoConstSharedPtr cluster)
      : cluster_(std::move(cluster)) {}
  HostSharedPtr chooseHost(const LbContext& context) override {
    if (context.downstream_connection == nullptr) return nullptr;
    return originalDestinationHost(*cluster_, *context.downstream_connection);
  }

 private:
  ClusterInfoConstSharedPtr cluster_;  // its refusal counter
};

}  // namespace skiff::upstream
