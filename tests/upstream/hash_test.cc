// hash64 must equal the published xxHash64: ring hash placement and route hash keys depend on
// every proxy computing the same value.

#include "common/hash.h"

#include <string>

#include "gtest/gtest.h"

namespace skiff {
namespace {

TEST(Hash64Test, KnownXxHash64Vectors) {
  EXPECT_EQ(hash64(""), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(hash64("a"), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(hash64("abc"), 0x44BC2CF5AD770999ULL);
  // 39 bytes: exercises the 32-byte stripe loop and every tail length class.
  EXPECT_EQ(hash64("Nobody inspects the spammish repetition"), 0xFBCEA83C8A378BF1ULL);
}

TEST(Hash64Test, SeedChangesTheHash) { EXPECT_NE(hash64("abc", 0), hash64("abc", 1)); }

TEST(Hash64Test, EveryLengthDiffers) {
  // Catches tail-handling slips (a dropped byte makes two prefixes collide).
  std::string text;
  uint64_t previous = hash64(text);
  for (int i = 0; i < 100; ++i) {
    text.push_back(static_cast<char>('a' + i % 26));
    const uint64_t current = hash64(text);
    EXPECT_NE(current, previous) << i;
    previous = current;
  }
}

}  // namespace
}  // namespace skiff
