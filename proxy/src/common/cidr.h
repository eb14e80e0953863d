#pragma once

// An IP prefix ("10.96.0.0/12", "fd77::/64") or a single address ("10.0.0.2" is "10.0.0.2/32"),
// matched against socket addresses. IPv4-mapped IPv6 addresses ("::ffff:10.0.0.2", what a
// dual-stack socket reports for an IPv4 peer) match as the IPv4 address they carry.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff {

class CidrRange {
 public:
  // An error names what is wrong ("prefix length 33 is out of range for IPv4"). Host bits
  // below the prefix are ignored (masked), as the kernel does for routes.
  static absl::StatusOr<CidrRange> parse(absl::string_view text);

  // False for other families and for AF_UNSPEC.
  bool contains(const sockaddr* address) const;
  int family() const { return family_; }
  int prefixLength() const { return prefix_length_; }
  // Canonical "ip/len".
  std::string toString() const;

 private:
  int family_ = 0;
  int prefix_length_ = 0;
  uint8_t bytes_[16] = {};  // network byte order, masked to the prefix
};

}  // namespace skiff
