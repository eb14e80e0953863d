#pragma once

// Access log: one JSON object per line, to a file or stdout. Off unless configured.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skiff::access_log {

struct Entry {
  absl::Time start_time;
  std::string protocol;  // "HTTP/1.1", "TCP"
  std::string method;
  std::string authority;
  std::string path;
  int status = 0;  // 0 for TCP
  int grpc_status = -1;  // the response's grpc-status; -1 when it had none
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  std::chrono::microseconds duration{0};
  std::string upstream_cluster;
  std::string upstream_host;
  std::string flags;  // response flags, e.g. "UF", "NR"; empty for none
  std::string request_id;
  std::string downstream_remote;
};

// {"time":"<RFC3339 UTC with ms>","method":...,"authority":...,"path":...,"protocol":...,
//  "status":200,"grpc_status":null or 14,"bytes_received":0,"bytes_sent":12,"duration_ms":1.234,
//  "upstream_cluster":...,"upstream_host":...,"flags":"-" or the flags,"request_id":...,
//  "downstream_remote":...}\n  with JSON string escaping: \" \\ \n \r \t, other control
//  characters (and DEL) as \u00XX; valid UTF-8 passes through, each byte of an invalid
//  sequence becomes \ufffd so the line stays valid JSON whatever the client sent.
std::string formatJsonLine(const Entry& entry);

// One open file per path, shared by all workers; appends whole lines. "/dev/stdout" and
// "/dev/stderr" duplicate the process's descriptor (opening them fails when it is a socket).
class Sink {
 public:
  static absl::StatusOr<std::shared_ptr<Sink>> open(const std::string& path);
  ~Sink();
  void writeLines(const std::string& lines);  // thread-safe
  const std::string& path() const { return path_; }

 private:
  Sink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  // One writeLines() at a time, so lines from different workers never mix.
  std::mutex mu_;
  // Guarded by mu_: a run of failed writes is logged once, not on every flush.
  bool failing_ = false;
};

// Per worker: buffers lines and writes them to the sink when the buffer passes 16 KiB or on
// flush() (the worker calls flush() from a timer about once a second and on shutdown).
class Logger {
 public:
  explicit Logger(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}
  ~Logger() { flush(); }
  void log(const Entry& entry);
  void flush();

 private:
  std::shared_ptr<Sink> sink_;
  std::string pending_;
};

}  // namespace skiff::access_log
