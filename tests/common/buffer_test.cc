#include "common/buffer.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace skiff {
namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

TEST(BufferTest, AddDrainAndToString) {
  Buffer buffer;
  EXPECT_TRUE(buffer.empty());
  buffer.add("hello ");
  buffer.add("world");
  EXPECT_EQ(buffer.length(), 11u);
  EXPECT_EQ(buffer.toString(), "hello world");
  buffer.drain(6);
  EXPECT_EQ(buffer.toString(), "world");
  buffer.drain(100);
  EXPECT_TRUE(buffer.empty());
}

TEST(BufferTest, LargeAddsSpanSlicesAndStayIntact) {
  Buffer buffer;
  std::string data = pattern(3 * Buffer::kSliceSize + 123);
  buffer.add(data);
  EXPECT_EQ(buffer.length(), data.size());
  EXPECT_EQ(buffer.toString(), data);
  struct iovec iov[8];
  int n = buffer.fillIovecs(iov, 8);
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  EXPECT_EQ(total, data.size());
}

TEST(BufferTest, MovePartOfAnotherBuffer) {
  Buffer source;
  std::string data = pattern(2 * Buffer::kSliceSize + 10);
  source.add(data);
  Buffer target;
  target.add("<");
  target.move(source, Buffer::kSliceSize + 5);
  EXPECT_EQ(target.toString(), "<" + data.substr(0, Buffer::kSliceSize + 5));
  EXPECT_EQ(source.toString(), data.substr(Buffer::kSliceSize + 5));
  target.move(source);
  EXPECT_TRUE(source.empty());
  EXPECT_EQ(target.toString(), "<" + data);
}

TEST(BufferTest, LinearizeJoinsSlices) {
  Buffer buffer;
  Buffer a;
  a.add(pattern(Buffer::kSliceSize));
  buffer.move(a);
  Buffer b;
  b.add(std::string(Buffer::kSliceSize, 'z'));
  buffer.move(b);
  std::string expected = pattern(Buffer::kSliceSize) + std::string(100, 'z');
  absl::string_view joined = buffer.linearize(Buffer::kSliceSize + 100);
  EXPECT_EQ(std::string(joined), expected);
  EXPECT_EQ(buffer.length(), 2 * Buffer::kSliceSize);
}

TEST(BufferTest, SearchFindsNeedlesAcrossSliceBoundaries) {
  Buffer buffer;
  Buffer first;
  first.add(std::string(Buffer::kSliceSize - 2, 'x') + "\r\n");
  buffer.move(first);
  Buffer second;
  second.add(std::string(Buffer::kSliceSize, 'y'));
  buffer.move(second);
  // Force the boundary between the two slices to fall inside "\r\n\r\n".
  buffer.drain(0);
  Buffer third;
  third.add("\r\nend");
  EXPECT_EQ(buffer.search("\r\n"), static_cast<ptrdiff_t>(Buffer::kSliceSize - 2));
  EXPECT_EQ(buffer.search("yy", Buffer::kSliceSize), static_cast<ptrdiff_t>(Buffer::kSliceSize));
  EXPECT_EQ(buffer.search("nothere"), -1);
  Buffer split;
  Buffer p1;
  p1.add(std::string(Buffer::kSliceSize - 1, 'a') + "\r");
  split.move(p1);
  Buffer p2;
  p2.add(std::string(Buffer::kSliceSize, 'b'));
  p2.drain(Buffer::kSliceSize - 3);
  Buffer p3;
  p3.add("\nxyz");
  split.move(p3);
  EXPECT_EQ(split.search("\r\n"), static_cast<ptrdiff_t>(Buffer::kSliceSize - 1));
}

TEST(BufferTest, ReserveAndCommitAppend) {
  Buffer buffer;
  buffer.add("ab");
  char* space = buffer.reserve(4);
  memcpy(space, "cdef", 4);
  buffer.commit(3);
  EXPECT_EQ(buffer.toString(), "abcde");
}

TEST(BufferTest, CopyOutReadsAnyRange) {
  Buffer buffer;
  std::string data = pattern(Buffer::kSliceSize + 50);
  buffer.add(data);
  std::string out(60, '\0');
  buffer.copyOut(Buffer::kSliceSize - 10, 60, out.data());
  EXPECT_EQ(out, data.substr(Buffer::kSliceSize - 10, 60));
}

TEST(BufferTest, SteadyReadDrainCycleReusesStorage) {
  Buffer buffer;
  char* first = buffer.reserve(Buffer::kSliceSize);
  buffer.commit(100);
  buffer.drain(100);
  char* second = buffer.reserve(Buffer::kSliceSize);
  EXPECT_EQ(first, second);
}

}  // namespace
}  // namespace skiff

namespace skiff {
namespace {

// An idle connection holds no buffer memory: an emptied buffer gives its 16 KiB slice back to
// the thread's pool, and the next reserve() anywhere on the thread takes it from there.
TEST(BufferPoolTest, ReleasedSliceGoesToThePoolAndIsReused) {
  Buffer read;
  char* area = read.reserve(Buffer::kSliceSize);  // (from the pool, when earlier tests left any)
  size_t pooled = Buffer::pooledSlices();
  memcpy(area, "GET /", 5);
  read.commit(5);
  read.drain(5);
  EXPECT_EQ(Buffer::pooledSlices(), pooled) << "an empty buffer keeps its slice until released";
  read.releaseStorage();
  EXPECT_EQ(Buffer::pooledSlices(), pooled + 1);
  Buffer other;
  EXPECT_EQ(other.reserve(Buffer::kSliceSize), area) << "the pooled slice is reused";
  EXPECT_EQ(Buffer::pooledSlices(), pooled);
}

TEST(BufferPoolTest, ReleaseKeepsBytesThatAreStillThere) {
  Buffer buffer;
  buffer.add("pending");
  buffer.releaseStorage();
  EXPECT_EQ(buffer.toString(), "pending");
}

// A long-lived scratch buffer (an encoder's) that moves a 16 KiB slice's bytes on must not keep
// that slice as its spare: one per idle connection is what made them cost 12 KB each.
TEST(BufferPoolTest, MoveKeepsOnlySmallSpares) {
  Buffer scratch;
  char* area = scratch.reserve(Buffer::kSliceSize);
  size_t pooled = Buffer::pooledSlices();
  memcpy(area, "hello\n", 6);
  scratch.commit(6);
  Buffer out;
  out.add("HTTP/1.1 200 OK\r\n\r\n");  // room for the small piece: it is copied
  out.move(scratch);
  EXPECT_EQ(out.toString(), "HTTP/1.1 200 OK\r\n\r\nhello\n");
  EXPECT_EQ(Buffer::pooledSlices(), pooled + 1) << "the 16 KiB slice went back to the pool";
}

}  // namespace
}  // namespace skiff
