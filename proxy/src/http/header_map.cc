#include "http/header_map.h"

#include <algorithm>

namespace skiff::http {

void HeaderMap::add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

void HeaderMap::set(absl::string_view name, absl::string_view value) {
  bool replaced = false;
  auto out = entries_.begin();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == name) {
      if (replaced) continue;
      it->second.assign(value.data(), value.size());
      replaced = true;
    }
    if (out != it) *out = std::move(*it);
    ++out;
  }
  entries_.erase(out, entries_.end());
  if (!replaced) entries_.emplace_back(std::string(name), std::string(value));
}

size_t HeaderMap::remove(absl::string_view name) {
  size_t before = entries_.size();
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const Entry& e) { return e.first == name; }),
                 entries_.end());
  return before - entries_.size();
}

const std::string* HeaderMap::get(absl::string_view name) const {
  for (const auto& entry : entries_) {
    if (entry.first == name) return &entry.second;
  }
  return nullptr;
}

size_t HeaderMap::count(absl::string_view name) const {
  size_t n = 0;
  for (const auto& entry : entries_) n += entry.first == name;
  return n;
}

size_t HeaderMap::byteSize() const {
  size_t n = 0;
  for (const auto& entry : entries_) n += entry.first.size() + entry.second.size();
  return n;
}

absl::string_view protocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kHttp10: return "HTTP/1.0";
    case Protocol::kHttp11: return "HTTP/1.1";
    case Protocol::kHttp2: return "HTTP/2";
  }
  return "HTTP/1.1";
}

absl::string_view RequestHead::pathWithoutQuery() const {
  absl::string_view p(path);
  size_t q = p.find('?');
  return q == absl::string_view::npos ? p : p.substr(0, q);
}

absl::string_view RequestHead::query() const {
  absl::string_view p(path);
  size_t q = p.find('?');
  return q == absl::string_view::npos ? absl::string_view() : p.substr(q + 1);
}

absl::string_view defaultReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace skiff::http
