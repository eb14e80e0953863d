#include "common/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace skiff {
namespace {

// Whether the first `bits` bits of a and b are equal.
bool prefixEqual(const uint8_t* a, const uint8_t* b, int bits) {
  int whole = bits / 8;
  if (memcmp(a, b, whole) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

absl::StatusOr<CidrRange> CidrRange::parse(absl::string_view text) {
  absl::string_view ip = text;
  absl::string_view length_text;
  bool has_length = false;
  if (size_t slash = text.find('/'); slash != absl::string_view::npos) {
    ip = text.substr(0, slash);
    length_text = text.substr(slash + 1);
    has_length = true;
  }
  CidrRange range;
  std::string ip_string(ip);
  int max_length = 0;
  if (inet_pton(AF_INET, ip_string.c_str(), range.bytes_) == 1) {
    range.family_ = AF_INET;
    max_length = 32;
  } else if (inet_pton(AF_INET6, ip_string.c_str(), range.bytes_) == 1) {
    range.family_ = AF_INET6;
    max_length = 128;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an IP address or CIDR range"));
  }
  range.prefix_length_ = max_length;
  if (has_length) {
    int length = -1;
    // SimpleAtoi accepts "+8" and " 8"; a prefix length is digits only.
    bool digits = !length_text.empty() && length_text.size() <= 3 &&
                  length_text.find_first_not_of("0123456789") == absl::string_view::npos;
    if (!digits || !absl::SimpleAtoi(length_text, &length)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": the prefix length must be a number"));
    }
    if (length > max_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\": prefix length ", length, " is out of range (at most ", max_length, ")"));
    }
    range.prefix_length_ = length;
  }
  // Mask the host bits so toString() and comparisons see the network.
  for (int bit = range.prefix_length_; bit < max_length; ++bit) {
    range.bytes_[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  return range;
}

bool CidrRange::contains(const sockaddr* address) const {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET) {
    if (family_ != AF_INET) return false;
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return prefixEqual(reinterpret_cast<const uint8_t*>(&v4->sin_addr), bytes_, prefix_length_);
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(&v6->sin6_addr);
    if (family_ == AF_INET6) return prefixEqual(bytes, bytes_, prefix_length_);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      return prefixEqual(bytes + 12, bytes_, prefix_length_);  // the IPv4 address it carries
    }
  }
  return false;
}

std::string CidrRange::toString() const {
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(family_, bytes_, text, sizeof(text));
  return absl::StrCat(text, "/", prefix_length_);
}

}  // namespace skiff
