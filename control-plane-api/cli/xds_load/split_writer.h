#pragma once

// The trigger of a fan-out round: rewrites one mesh file of skiff-control's config dir with a
// traffic policy whose default split differs from the file's current one.

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace skiff::cli {

// A MeshFile YAML with one TrafficPolicy for `service`: `versions[0]` gets `first_weight`, the
// others share the rest of 100 (the last one takes the remainder).
std::string splitPolicyYaml(const std::string& service, const std::vector<std::string>& versions,
                            int first_weight, int round);

// Writes round `round`'s policy to `path` atomically (temporary file + rename, so the control
// plane never reads half a file). The first version alternates between 100 and 0; when that
// would leave the file as it is, the other value is used, so every round is a real change.
absl::Status writeSplitRound(const std::string& path, const std::string& service,
                             const std::vector<std::string>& versions, int round);

}  // namespace skiff::cli
