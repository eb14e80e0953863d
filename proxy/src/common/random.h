#pragma once

// Fast non-cryptographic randomness for load balancing and sampling: one generator per worker.

#include <cstdint>

namespace skiff {

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t next() = 0;
  // Uniform in [0, bound); bound must be > 0.
  uint64_t nextBelow(uint64_t bound) { return next() % bound; }
};

// xoshiro256** seeded with splitmix64.
class FastRandom : public Random {
 public:
  explicit FastRandom(uint64_t seed);
  // Seeded from the OS.
  FastRandom();
  uint64_t next() override;

 private:
  uint64_t state_[4];
};

}  // namespace skiff
