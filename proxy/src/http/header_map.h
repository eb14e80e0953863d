#pragma once

// Protocol-neutral HTTP message heads. Header names are stored lower-case (as HTTP/2 requires),
// in arrival order; repeated names stay separate entries.

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace skiff::http {

class HeaderMap {
 public:
  using Entry = std::pair<std::string, std::string>;

  // `name` must already be lower-case.
  void add(std::string name, std::string value);
  // Replaces every entry named `name` with one entry.
  void set(absl::string_view name, absl::string_view value);
  // Removes every entry named `name`; returns how many.
  size_t remove(absl::string_view name);
  // Removes every entry for which `predicate(entry)` holds, in one pass.
  template <class Predicate>
  size_t removeIf(Predicate predicate) {
    size_t before = entries_.size();
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), predicate), entries_.end());
    return before - entries_.size();
  }
  // First value of `name`, or nullptr.
  const std::string* get(absl::string_view name) const;
  bool has(absl::string_view name) const { return get(name) != nullptr; }
  size_t count(absl::string_view name) const;

  const std::vector<Entry>& entries() const { return entries_; }
  // For a filter that finds several headers in one pass and rewrites their values in place
  // (names must stay lower-case).
  std::vector<Entry>& mutableEntries() { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() { entries_.clear(); }
  // Sum of name and value lengths, for size limits.
  size_t byteSize() const;

 private:
  std::vector<Entry> entries_;
};

enum class Protocol { kHttp10, kHttp11, kHttp2 };
absl::string_view protocolName(Protocol protocol);  // "HTTP/1.0", "HTTP/1.1", "HTTP/2"

struct RequestHead {
  std::string method;
  // Origin form: path plus optional "?query". For CONNECT, the authority form.
  std::string path;
  // From the Host header (HTTP/1) or :authority (HTTP/2). Kept out of `headers`.
  std::string authority;
  std::string scheme = "http";
  Protocol protocol = Protocol::kHttp11;
  HeaderMap headers;

  absl::string_view pathWithoutQuery() const;
  absl::string_view query() const;  // after '?', without it; empty if none
};

struct ResponseHead {
  int status = 200;
  std::string reason;  // HTTP/1 only; may be empty
  Protocol protocol = Protocol::kHttp11;
  HeaderMap headers;
};

absl::string_view defaultReasonPhrase(int status);

}  // namespace skiff::http
