#include "upstream/lb_ring_hash.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "upstream/lb_weights.h"

namespace skiff::upstream {
namespace {

uint64_t nextPowerOfTwo(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Points per host. When the total weight fits in the ring, every unit of weight gets the same
// number of points, rounded up to a power of two: adding or removing a host then rarely
// changes the other hosts' counts, and when it does it only adds or drops their
// highest-numbered replicas, so their existing points (and keys) stay where they are.
std::vector<uint64_t> replicaCounts(const HostVector& hosts, uint64_t minimum_ring_size) {
  uint64_t total_weight = 0;
  for (const auto& host : hosts) total_weight += effectiveWeight(*host);
  std::vector<uint64_t> counts;
  counts.reserve(hosts.size());
  if (total_weight <= minimum_ring_size) {
    uint64_t per_weight = (minimum_ring_size + total_weight - 1) / total_weight;
    const uint64_t rounded = nextPowerOfTwo(per_weight);
    if (rounded * total_weight <= RingHashLoadBalancer::kMaximumRingSize) per_weight = rounded;
    for (const auto& host : hosts) counts.push_back(effectiveWeight(*host) * per_weight);
  } else {
    // Weights larger than the ring: scale down, keeping at least one point per host.
    // weight < 2^32 and ring size <= 2^23, so the product fits.
    for (const auto& host : hosts) {
      const uint64_t scaled =
          (effectiveWeight(*host) * minimum_ring_size + total_weight - 1) / total_weight;
      counts.push_back(std::max<uint64_t>(scaled, 1));
    }
  }
  return counts;
}

}  // namespace

RingHashLoadBalancer::RingHashLoadBalancer(HostVector hosts, uint64_t minimum_ring_size,
                                           Random& random)
    : hosts_(std::move(hosts)), random_(random) {
  if (hosts_.empty()) return;
  if (minimum_ring_size == 0) minimum_ring_size = kDefaultMinimumRingSize;
  minimum_ring_size = std::min(minimum_ring_size, kMaximumRingSize);

  const std::vector<uint64_t> counts = replicaCounts(hosts_, minimum_ring_size);
  uint64_t total = 0;
  for (uint64_t count : counts) total += count;
  ring_.reserve(total);
  std::string key;
  for (uint32_t i = 0; i < hosts_.size(); ++i) {
    const std::string& address = hosts_[i]->address;
    for (uint64_t replica = 0; replica < counts[i]; ++replica) {
      key.clear();
      absl::StrAppend(&key, address, "_", replica);
      ring_.push_back(Point{hash64(key), i});
    }
  }
  // Break hash collisions by address so the ring does not depend on the order of `hosts`.
  std::sort(ring_.begin(), ring_.end(), [this](const Point& a, const Point& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return hosts_[a.index]->address < hosts_[b.index]->address;
  });
}

HostSharedPtr RingHashLoadBalancer::chooseHost(const LbContext& context) {
  if (ring_.empty()) return nullptr;
  // Without a key, a random point: still weighted, as each host's share of the ring is.
  const uint64_t key = context.hash_key ? *context.hash_key : random_.next();
  auto it = std::lower_bound(ring_.begin(), ring_.end(), key,
                             [](const Point& point, uint64_t k) { return point.hash < k; });
  if (it == ring_.end()) it = ring_.begin();
  return hosts_[it->index];
}

}  // namespace skiff::upstream
