#include "access_log/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_string.h"
#include "common/logging.h"

namespace skiff::access_log {
namespace {

constexpr size_t kFlushThreshold = 16 * 1024;

// Milliseconds with exactly three decimals, from integer microseconds (no rounding noise).
std::string formatDurationMs(std::chrono::microseconds duration) {
  int64_t us = duration.count();
  const char* sign = "";
  uint64_t magnitude = static_cast<uint64_t>(us);
  if (us < 0) {
    sign = "-";
    magnitude = 0 - magnitude;
  }
  return absl::StrFormat("%s%d.%03d", sign, magnitude / 1000, magnitude % 1000);
}

}  // namespace

std::string formatJsonLine(const Entry& entry) {
  std::string out;
  out.reserve(256 + entry.path.size() + entry.authority.size());
  out += "{\"time\":";
  appendJsonString(out,
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", entry.start_time, absl::UTCTimeZone()));
  out += ",\"method\":";
  appendJsonString(out, entry.method);
  out += ",\"authority\":";
  appendJsonString(out, entry.authority);
  out += ",\"path\":";
  appendJsonString(out, entry.path);
  out += ",\"protocol\":";
  appendJsonString(out, entry.protocol);
  absl::StrAppend(&out, ",\"status\":", entry.status, ",\"grpc_status\":",
                  entry.grpc_status < 0 ? std::string("null") : std::to_string(entry.grpc_status),
                  ",\"bytes_received\":", entry.bytes_received,
                  ",\"bytes_sent\":", entry.bytes_sent,
                  ",\"duration_ms\":", formatDurationMs(entry.duration));
  out += ",\"upstream_cluster\":";
  appendJsonString(out, entry.upstream_cluster);
  out += ",\"upstream_host\":";
  appendJsonString(out, entry.upstream_host);
  out += ",\"flags\":";
  appendJsonString(out, entry.flags.empty() ? std::string("-") : entry.flags);
  out += ",\"request_id\":";
  appendJsonString(out, entry.request_id);
  out += ",\"downstream_remote\":";
  appendJsonString(out, entry.downstream_remote);
  out += "}\n";
  return out;
}

absl::StatusOr<std::shared_ptr<Sink>> Sink::open(const std::string& path) {
  int fd;
  if (path == "/dev/stdout" || path == "/dev/stderr") {
    // open() of /dev/stdout fails with ENXIO when the descriptor is a socket (systemd, some
    // container runtimes); duplicating it works for every kind of descriptor.
    fd = ::fcntl(path == "/dev/stdout" ? STDOUT_FILENO : STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
  } else {
    do {
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
  }
  if (fd < 0) {
    int error = errno;
    return absl::ErrnoToStatus(error,
                               absl::StrCat("access log ", path, ": ", std::strerror(error)));
  }
  return std::shared_ptr<Sink>(new Sink(path, fd));
}

Sink::~Sink() {
  if (fd_ >= 0) ::close(fd_);
}

void Sink::writeLines(const std::string& lines) {
  std::lock_guard<std::mutex> lock(mu_);
  const char* data = lines.data();
  size_t left = lines.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, data, left);
    if (n > 0) {
      data += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    int error = n < 0 ? errno : EIO;  // a zero-byte write would otherwise loop forever
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      // A non-blocking stdout (shared with a libuv tty or pipe): wait a bounded time.
      struct pollfd pfd = {fd_, POLLOUT, 0};
      int ready;
      do {
        ready = ::poll(&pfd, 1, 1000);
      } while (ready < 0 && errno == EINTR);
      if (ready > 0) continue;
      error = ready == 0 ? ETIMEDOUT : errno;
    }
    if (!failing_) {
      SKIFF_LOG(kWarn,
                "access log %s: write failed: %s; dropping %d bytes (logged once until "
                "writes succeed again)",
                path_, std::strerror(error), left);
    }
    failing_ = true;
    return;
  }
  failing_ = false;
}

void Logger::log(const Entry& entry) {
  pending_ += formatJsonLine(entry);
  if (pending_.size() > kFlushThreshold) flush();
}

void Logger::flush() {
  if (pending_.empty()) return;
  if (sink_ != nullptr) sink_->writeLines(pending_);
  pending_.clear();
}

}  // namespace skiff::access_log
