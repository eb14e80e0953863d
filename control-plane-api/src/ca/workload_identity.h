#pragma once

// Which SPIFFE identity a mesh workload's certificate carries:
// spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT, with the trust domain from the mesh
// settings (default cluster.local), the namespace of the workload's service (default
// "default") and the workload's service account (default: the service's name).

#include <string>

#include "absl/status/statusor.h"
#include "skiff/mesh/v1/mesh.pb.h"

namespace skiff::ca {

inline constexpr char kDefaultTrustDomain[] = "cluster.local";
inline constexpr char kDefaultNamespace[] = "default";

// NotFound when `workload` is not in `mesh`; FailedPrecondition when a part of the identity is
// not a valid SPIFFE component (the mesh loader should have refused it).
absl::StatusOr<std::string> workloadSpiffeId(const mesh::v1::MeshFile& mesh,
                                             const std::string& workload);

}  // namespace skiff::ca
