// Access log: the JSON line format, the shared file sink and the per-worker buffering logger.

#include "access_log/access_log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace skiff::access_log {
namespace {

StreamInfo sampleEntry() {
  StreamInfo e;
  e.start_time = absl::FromUnixMillis(1795309323456);  // 2026-11-22T01:02:03.456Z
  e.protocol = "HTTP/1.1";
  e.method = "GET";
  e.authority = "api.example.com";
  e.path = "/v1/items?id=7";
  e.status = 200;
  e.bytes_received = 0;
  e.bytes_sent = 12;
  e.duration = std::chrono::microseconds(1234);
  e.upstream_cluster = "api";
  e.upstream_host = "10.0.0.7:8080";
  e.request_id = "b7c1";
  e.downstream_remote = "10.0.0.1:51234";
  return e;
}

// The value of "key" in a line produced by formatJsonLine (keys are unique and unescaped).
std::string field(const std::string& line, const std::string& key) {
  std::string marker = absl::StrCat("\"", key, "\":");
  size_t start = line.find(marker);
  if (start == std::string::npos) return "<missing>";
  start += marker.size();
  size_t end = start;
  if (line[start] == '"') {
    for (end = start + 1; end < line.size() && line[end] != '"'; ++end) {
      if (line[end] == '\\') ++end;
    }
    ++end;
  } else {
    end = line.find_first_of(",}", start);
  }
  return line.substr(start, end - start);
}

TEST(FormatJsonLineTest, WholeLine) {
  EXPECT_EQ(formatJsonLine(sampleEntry()),
            "{\"time\":\"2026-11-22T01:02:03.456Z\",\"method\":\"GET\","
            "\"authority\":\"api.example.com\",\"path\":\"/v1/items?id=7\","
            "\"protocol\":\"HTTP/1.1\",\"status\":200,\"grpc_status\":null,\"bytes_received\":0,"
            "\"bytes_sent\":12,"
            "\"duration_ms\":1.234,\"upstream_cluster\":\"api\","
            "\"upstream_host\":\"10.0.0.7:8080\",\"flags\":\"-\",\"request_id\":\"b7c1\","
            "\"downstream_remote\":\"10.0.0.1:51234\",\"trace_id\":null,\"span_id\":null}\n");
}

TEST(FormatJsonLineTest, TraceIdsWhenTheStreamHasATrace) {
  StreamInfo e = sampleEntry();
  e.trace.trace_id = {0x0af7651916cd43ddULL, 0x8448eb211c80319cULL};
  e.trace.span_id = 0x00f067aa0ba902b7ULL;
  e.trace.parent_span_id = 0xb7ad6b7169203331ULL;
  const std::string line = formatJsonLine(e);
  EXPECT_EQ(field(line, "trace_id"), "\"0af7651916cd43dd8448eb211c80319c\"");
  EXPECT_EQ(field(line, "span_id"), "\"00f067aa0ba902b7\"");
  EXPECT_EQ(line.substr(line.size() - 2), "}\n");
}

TEST(FormatJsonLineTest, GrpcStatusWhenPresent) {
  StreamInfo e = sampleEntry();
  e.grpc_status = 14;
  EXPECT_NE(formatJsonLine(e).find("\"status\":200,\"grpc_status\":14,"), std::string::npos);
}

TEST(FormatJsonLineTest, TcpEntryWithEmptyFields) {
  StreamInfo e;
  e.start_time = absl::FromUnixSeconds(0);
  e.protocol = "TCP";
  e.response_flags = "UF,URX";
  EXPECT_EQ(formatJsonLine(e),
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"method\":\"\",\"authority\":\"\","
            "\"path\":\"\",\"protocol\":\"TCP\",\"status\":0,\"grpc_status\":null,"
            "\"bytes_received\":0,"
            "\"bytes_sent\":0,\"duration_ms\":0.000,\"upstream_cluster\":\"\","
            "\"upstream_host\":\"\",\"flags\":\"UF,URX\",\"request_id\":\"\","
            "\"downstream_remote\":\"\",\"trace_id\":null,\"span_id\":null}\n");
}

TEST(FormatJsonLineTest, EscapesQuotesBackslashesAndControlCharacters) {
  StreamInfo e = sampleEntry();
  e.path = "/a\"b\\c";
  e.authority = "line\nbreak\r\ttab";
  static const char kMethod[] =
      "nul\0bell\x07"
      "esc\x1b"
      "del\x7f"
      "us\x1f";
  e.method = std::string(kMethod, sizeof(kMethod) - 1);
  std::string line = formatJsonLine(e);
  EXPECT_EQ(field(line, "path"), "\"/a\\\"b\\\\c\"");
  EXPECT_EQ(field(line, "authority"), "\"line\\nbreak\\r\\ttab\"");
  EXPECT_EQ(field(line, "method"), "\"nul\\u0000bell\\u0007esc\\u001bdel\\u007fus\\u001f\"");
  // Exactly one newline, at the end.
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  for (char c : line.substr(0, line.size() - 1)) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "raw control character in the line";
  }
}

TEST(FormatJsonLineTest, Utf8PassesThroughInvalidBytesAreReplaced) {
  StreamInfo e = sampleEntry();
  e.path = "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80";  // é € 😀
  EXPECT_EQ(field(formatJsonLine(e), "path"), "\"/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80\"");
  // Lone continuation, truncated sequence, overlong "/", UTF-16 surrogate, past U+10FFFF.
  e.path =
      "a\x80"
      "b\xc3"
      "c\xc0\xaf"
      "d\xed\xa0\x80"
      "e\xf4\x90\x80\x80";
  EXPECT_EQ(field(formatJsonLine(e), "path"),
            "\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde"
            "\\ufffd\\ufffd\\ufffd\\ufffd\"");
  e.path = "\xe2\x82";  // sequence cut by the end of the string
  EXPECT_EQ(field(formatJsonLine(e), "path"), "\"\\ufffd\\ufffd\"");
}

TEST(FormatJsonLineTest, TimeIsUtcWithMillisecondsTruncated) {
  StreamInfo e = sampleEntry();
  e.start_time = absl::FromUnixMicros(1795309323456999);
  EXPECT_EQ(field(formatJsonLine(e), "time"), "\"2026-11-22T01:02:03.456Z\"");
  e.start_time = absl::FromCivil(absl::CivilSecond(2024, 2, 29, 23, 59, 59), absl::UTCTimeZone()) +
                 absl::Milliseconds(7);
  EXPECT_EQ(field(formatJsonLine(e), "time"), "\"2024-02-29T23:59:59.007Z\"");
  // The local time zone must not leak in.
  e.start_time =
      absl::FromCivil(absl::CivilSecond(2025, 6, 1, 12, 0, 0), absl::FixedTimeZone(-7 * 3600));
  EXPECT_EQ(field(formatJsonLine(e), "time"), "\"2025-06-01T19:00:00.000Z\"");
}

TEST(FormatJsonLineTest, DurationHasThreeDecimals) {
  StreamInfo e = sampleEntry();
  auto duration = [&](int64_t us) {
    e.duration = std::chrono::microseconds(us);
    return field(formatJsonLine(e), "duration_ms");
  };
  EXPECT_EQ(duration(0), "0.000");
  EXPECT_EQ(duration(1), "0.001");
  EXPECT_EQ(duration(999), "0.999");
  EXPECT_EQ(duration(1000), "1.000");
  EXPECT_EQ(duration(1234567), "1234.567");
  EXPECT_EQ(duration(-1500), "-1.500");
}

TEST(FormatJsonLineTest, NumbersAreIntegers) {
  StreamInfo e = sampleEntry();
  e.status = 503;
  e.bytes_received = 18446744073709551615u;
  e.bytes_sent = 1u << 31;
  std::string line = formatJsonLine(e);
  EXPECT_EQ(field(line, "status"), "503");
  EXPECT_EQ(field(line, "bytes_received"), "18446744073709551615");
  EXPECT_EQ(field(line, "bytes_sent"), "2147483648");
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "access_log_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    for (const auto& f : created_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string file(const std::string& name) {
    created_.push_back(dir_ + "/" + name);
    return created_.back();
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
  std::vector<std::string> created_;
};

using SinkTest = TempDir;

TEST_F(SinkTest, OpenErrorNamesPathAndReason) {
  std::string path = dir_ + "/no/such/dir/access.log";
  auto sink = Sink::open(path);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(sink.status().message(), path)) << sink.status();
  EXPECT_TRUE(absl::StrContains(sink.status().message(), "No such file or directory"))
      << sink.status();
}

TEST_F(SinkTest, CreatesWith0644AndAppends) {
  std::string path = file("access.log");
  {
    std::ofstream out(path);
    out << "existing\n";
  }
  chmod(path.c_str(), 0644);
  {
    auto sink = Sink::open(path);
    ASSERT_TRUE(sink.ok()) << sink.status();
    EXPECT_EQ((*sink)->path(), path);
    (*sink)->writeLines("one\n");
    (*sink)->writeLines("two\nthree\n");
  }
  EXPECT_EQ(read(path), "existing\none\ntwo\nthree\n");

  std::string fresh = file("fresh.log");
  mode_t old_mask = umask(022);
  auto sink = Sink::open(fresh);
  umask(old_mask);
  ASSERT_TRUE(sink.ok()) << sink.status();
  struct stat st;
  ASSERT_EQ(stat(fresh.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(SinkTest, DescriptorIsCloseOnExec) {
  auto sink = Sink::open(file("cloexec.log"));
  ASSERT_TRUE(sink.ok());
  // The sink's descriptor is the newest one open in this process.
  int probe = dup(0);
  bool found = false;
  for (int fd = probe - 1; fd > 2 && !found; --fd) {
    std::string link(256, '\0');
    ssize_t n = readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), link.data(), link.size());
    if (n > 0 && absl::EndsWith(link.substr(0, n), "/cloexec.log")) {
      found = true;
      EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    }
  }
  close(probe);
  EXPECT_TRUE(found);
}

TEST_F(SinkTest, StdoutIsAllowed) {
  auto sink = Sink::open("/dev/stdout");
  ASSERT_TRUE(sink.ok()) << sink.status();
  (*sink)->writeLines("");  // nothing to write is fine
}

TEST_F(SinkTest, ConcurrentWritersProduceOnlyWholeLines) {
  std::string path = file("concurrent.log");
  auto opened = Sink::open(path);
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<Sink> sink = *opened;
  constexpr int kThreads = 4, kBatches = 200, kLinesPerBatch = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::string batch;
        for (int l = 0; l < kLinesPerBatch; ++l) {
          // Long, varied lines so batches are big enough for the kernel to split writes.
          absl::StrAppend(&batch, "t", t, " b", b, " l", l, " ",
                          std::string(100 + (b * 37 + l * 11) % 900, 'a' + t), "\n");
        }
        // A full queue drops (tested below); here every line must arrive.
        while (!sink->writeLines(batch)) sink->drain(std::chrono::seconds(5));
      }
    });
  }
  for (auto& th : threads) th.join();
  sink.reset();

  std::string content = read(path);
  ASSERT_FALSE(content.empty());
  ASSERT_EQ(content.back(), '\n');
  std::vector<std::string> lines = absl::StrSplit(content.substr(0, content.size() - 1), '\n');
  ASSERT_EQ(lines.size(), size_t{kThreads} * kBatches * kLinesPerBatch);
  std::set<std::string> seen;
  for (const std::string& line : lines) {
    int t, b, l;
    char tail[8];
    ASSERT_EQ(sscanf(line.c_str(), "t%d b%d l%d %1s", &t, &b, &l, tail), 4) << line;
    std::string expected = absl::StrCat("t", t, " b", b, " l", l, " ",
                                        std::string(100 + (b * 37 + l * 11) % 900, 'a' + t));
    ASSERT_EQ(line, expected);
    ASSERT_TRUE(seen.insert(line).second);
  }
  // Within one writer, batches keep their order.
  std::vector<int> last_batch(kThreads, -1);
  for (const std::string& line : lines) {
    int t, b;
    sscanf(line.c_str(), "t%d b%d", &t, &b);
    ASSERT_GE(b, last_batch[t]);
    last_batch[t] = b;
  }
}

TEST_F(SinkTest, LargeWriteToPipeIsComplete) {
  // A pipe takes at most 64 KiB at a time, so a 1 MiB batch needs the partial-write loop.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string out_path = absl::StrCat("/proc/self/fd/", fds[1]);
  auto sink = Sink::open(out_path);
  close(fds[1]);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::string payload;
  for (int i = 0; payload.size() < (1 << 20); ++i) absl::StrAppend(&payload, "line ", i, "\n");
  std::string received;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) received.append(buf, n);
  });
  (*sink)->writeLines(payload);
  sink->reset();  // closes the write end, so the reader sees EOF
  reader.join();
  close(fds[0]);
  EXPECT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload);
}

TEST_F(SinkTest, ConcurrentWritersToPipeDoNotInterleave) {
  // A regular file with O_APPEND already serialises each write(); a pipe does not once a write
  // passes PIPE_BUF, so this is where the sink's own lock shows.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  auto sink = Sink::open(absl::StrCat("/proc/self/fd/", fds[1]));
  close(fds[1]);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::string received;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) received.append(buf, n);
  });
  constexpr int kThreads = 4, kBatches = 20;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::string batch;
        while (batch.size() < 200 * 1024) {
          absl::StrAppend(&batch, "t", t, " b", b, " ", std::string(60, 'a' + t), "\n");
        }
        (*sink)->writeLines(batch);
      }
    });
  }
  for (auto& w : writers) w.join();
  sink->reset();
  reader.join();
  close(fds[0]);
  std::vector<std::string> lines = absl::StrSplit(received, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    int t = -1, b = -1;
    ASSERT_EQ(sscanf(line.c_str(), "t%d b%d", &t, &b), 2) << line.substr(0, 80);
    ASSERT_EQ(line, absl::StrCat("t", t, " b", b, " ", std::string(60, 'a' + t)))
        << line.substr(0, 80);
  }
}

// A reader that never reads (a container runtime that stopped draining stdout): writers must
// not wait for it. Lines past the queue's bound are dropped and counted, not waited for.
TEST_F(SinkTest, PipeNobodyReadsNeverBlocksWritersAndCountsDrops) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  stats::setThreadShard(0);
  stats::Counter dropped(2);
  auto sink = Sink::open(absl::StrCat("/proc/self/fd/", fds[1]), &dropped);
  close(fds[1]);
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::string batch = std::string(99, 'x') + "\n";  // one 100-byte line
  std::string big;
  while (big.size() < 64 * 1024) big += batch;  // 655 lines
  auto started = std::chrono::steady_clock::now();
  // 20 MiB: the pipe takes 64 KiB, the queue 4 MiB; the rest must be dropped, fast.
  int accepted = 0;
  for (int i = 0; i < 320; ++i) accepted += (*sink)->writeLines(big) ? 1 : 0;
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_LT(elapsed, std::chrono::seconds(2)) << "writers waited for the reader";
  EXPECT_LE(accepted * big.size(), Sink::kMaxQueuedBytes + 2 * big.size());
  uint64_t expected_drops = (320 - accepted) * (big.size() / batch.size());
  EXPECT_EQ((*sink)->droppedLines(), expected_drops);
  EXPECT_EQ(dropped.value(), expected_drops);
  EXPECT_FALSE((*sink)->drain(std::chrono::milliseconds(50))) << "nothing reads the pipe";
  // Reading resumes: everything queued arrives, whole.
  std::string received;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) received.append(buf, n);
  });
  EXPECT_TRUE((*sink)->drain(std::chrono::seconds(10)));
  sink->reset();
  reader.join();
  close(fds[0]);
  EXPECT_EQ(received.size(), accepted * big.size());
}

using LoggerTest = TempDir;

TEST_F(LoggerTest, BuffersUntilFlush) {
  std::string path = file("buffered.log");
  auto sink = Sink::open(path);
  ASSERT_TRUE(sink.ok());
  Logger logger(*sink);
  logger.log(sampleEntry());
  logger.log(sampleEntry());
  EXPECT_EQ(read(path), "");
  logger.flush();
  ASSERT_TRUE((*sink)->drain(std::chrono::seconds(5)));
  EXPECT_EQ(read(path), formatJsonLine(sampleEntry()) + formatJsonLine(sampleEntry()));
  logger.flush();  // nothing pending: nothing written
  EXPECT_EQ(read(path), formatJsonLine(sampleEntry()) + formatJsonLine(sampleEntry()));
}

TEST_F(LoggerTest, FlushesWhenBufferPasses16KiB) {
  std::string path = file("threshold.log");
  auto sink = Sink::open(path);
  ASSERT_TRUE(sink.ok());
  Logger logger(*sink);
  const std::string line = formatJsonLine(sampleEntry());
  size_t logged = 0;
  // Up to the threshold nothing is written.
  while ((logged + 1) * line.size() <= 16 * 1024) {
    logger.log(sampleEntry());
    ++logged;
  }
  EXPECT_EQ(read(path), "");
  // The entry that takes the buffer past 16 KiB writes everything, as whole lines.
  logger.log(sampleEntry());
  ++logged;
  ASSERT_TRUE((*sink)->drain(std::chrono::seconds(5)));
  std::string content = read(path);
  EXPECT_EQ(content.size(), logged * line.size());
  EXPECT_EQ(content.substr(content.size() - line.size()), line);
  // And the buffer starts over.
  logger.log(sampleEntry());
  ASSERT_TRUE((*sink)->drain(std::chrono::seconds(5)));
  EXPECT_EQ(read(path).size(), logged * line.size());
}

TEST_F(LoggerTest, DestructorFlushes) {
  std::string path = file("destructor.log");
  auto sink = Sink::open(path);
  ASSERT_TRUE(sink.ok());
  {
    Logger logger(*sink);
    logger.log(sampleEntry());
    EXPECT_EQ(read(path), "");
  }
  ASSERT_TRUE((*sink)->drain(std::chrono::seconds(5)));
  EXPECT_EQ(read(path), formatJsonLine(sampleEntry()));
}

TEST_F(LoggerTest, WorkersShareOneSink) {
  std::string path = file("workers.log");
  std::shared_ptr<Sink> sink;
  {
    auto opened = Sink::open(path);
    ASSERT_TRUE(opened.ok());
    sink = *opened;
  }
  constexpr int kWorkers = 3, kEntries = 2000;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      Logger logger(sink);
      StreamInfo e = sampleEntry();
      for (int i = 0; i < kEntries; ++i) {
        e.request_id = absl::StrCat(w, "-", i);
        logger.log(e);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(sink->drain(std::chrono::seconds(5)));
  EXPECT_EQ(sink->droppedLines(), 0u);
  std::string content = read(path);
  std::vector<std::string> lines = absl::StrSplit(content, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), size_t{kWorkers} * kEntries);
  std::set<std::string> ids;
  for (const auto& l : lines) {
    ASSERT_TRUE(absl::StartsWith(l, "{\"time\":") && absl::EndsWith(l, "}")) << l;
    ids.insert(field(l, "request_id"));
  }
  EXPECT_EQ(ids.size(), lines.size());
}

}  // namespace
}  // namespace skiff::access_log
