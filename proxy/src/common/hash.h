#pragma once

// A stable 64-bit hash: xxHash64 (Yann Collet's public algorithm), little-endian on every
// machine. Ring hash balancing and route hash keys rely on every proxy, on every host and
// across restarts, computing the same value for the same bytes, so never substitute
// std::hash or absl::Hash (both are per-process or per-build).

#include <cstdint>

#include "absl/strings/string_view.h"

namespace skiff {

uint64_t hash64(absl::string_view data, uint64_t seed = 0);

}  // namespace skiff
