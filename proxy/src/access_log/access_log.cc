#include "access_log/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace skiff::access_log {
namespace {

constexpr size_t kFlushThreshold = 16 * 1024;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not one
// (overlong forms, surrogates and code points past U+10FFFF are rejected).
size_t utf8SequenceLength(const std::string& s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

void appendJsonString(std::string& out, const std::string& value) {
  out += '"';
  size_t i = 0;
  while (i < value.size()) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      size_t len = utf8SequenceLength(value, i);
      if (len == 0) {
        out += "\\ufffd";  // keep the line valid JSON whatever bytes the client sent
        ++i;
      } else {
        out.append(value, i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

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
  absl::StrAppend(&out, ",\"status\":", entry.status, ",\"bytes_received\":", entry.bytes_received,
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
