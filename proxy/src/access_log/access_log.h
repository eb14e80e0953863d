#pragma once

// Access log: one JSON object per line, to a file or stdout. Off unless configured.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "stats/stats.h"
#include "stream_info/stream_info.h"

namespace skiff::access_log {

// One line per StreamInfo (an HTTP request or a TCP session):
// {"time":"<RFC3339 UTC with ms>","method":...,"authority":...,"path":...,"protocol":...,
//  "status":200,"grpc_status":null or 14,"bytes_received":0,"bytes_sent":12,"duration_ms":1.234,
//  "upstream_cluster":...,"upstream_host":...,"flags":"-" or the flags,"request_id":...,
//  "downstream_remote":...,"trace_id":"<32 hex>" or null,"span_id":"<16 hex>" or null}\n
//  (trace ids on listeners with `http.tracing`; span_id is this hop's own span), with JSON
//  string escaping: \" \\ \n \r \t, other control
//  characters (and DEL) as \u00XX; valid UTF-8 passes through, each byte of an invalid
//  sequence becomes \ufffd so the line stays valid JSON whatever the client sent.
std::string formatJsonLine(const StreamInfo& entry);

// One open file per path, shared by all workers. Workers never write to it themselves: they
// hand whole batches of lines to the sink's own writer thread, so a slow or stuck reader (a
// container runtime reading stdout, a full disk) never stalls a request. When more than
// kMaxQueuedBytes wait already, a batch is dropped and its lines counted in `dropped`
// (skiff_access_log_dropped_total). "/dev/stdout" and "/dev/stderr" duplicate the process's
// descriptor (opening them fails when it is a socket).
class Sink {
 public:
  static constexpr size_t kMaxQueuedBytes = 4 * 1024 * 1024;

  // `dropped`, when given, counts lines given up (queue full or writes failing); it is only
  // incremented from writeLines() callers, that is on the workers' own shards.
  static absl::StatusOr<std::shared_ptr<Sink>> open(const std::string& path,
                                                    stats::Counter* dropped = nullptr);
  // Writes what is queued, waiting at most kCloseWait for a reader that does not read; past
  // that, the writer thread is left to finish (or block) on its own.
  ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Queues whole lines for the writer thread; thread-safe, never blocks on I/O. False when
  // they were dropped.
  bool writeLines(std::string lines);
  // Waits until everything queued so far is written (or given up); false on timeout.
  bool drain(std::chrono::milliseconds timeout);
  // Lines given up so far (also those the `dropped` counter has not been told about yet).
  uint64_t droppedLines() const;
  const std::string& path() const;

 private:
  static constexpr std::chrono::milliseconds kCloseWait{1000};
  struct State;  // shared with the writer thread, which may outlive the sink
  Sink(std::shared_ptr<State> state, stats::Counter* dropped);
  void countDropped(uint64_t lines);

  std::shared_ptr<State> state_;
  stats::Counter* dropped_;
  std::thread writer_;
};

// Per worker: buffers lines and hands them to the sink when the buffer passes 16 KiB or on
// flush() (the worker calls flush() from a timer about once a second and on shutdown).
class Logger {
 public:
  explicit Logger(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}
  ~Logger() { flush(); }
  void log(const StreamInfo& entry);
  void flush();

 private:
  std::shared_ptr<Sink> sink_;
  std::string pending_;
};

}  // namespace skiff::access_log
