// Drives route matching and header maps. A RouteConfiguration (protobuf text format) goes
// through the proxy's admission (validateRouteConfigurationResource, then RouteTable::create, as
// the xDS client does); if admitted, fuzzed requests are matched and finalized. Checks: a match
// is deterministic; virtual hosts are chosen case-insensitively (unless a route tests the
// authority itself); percent-encoding the name of a query parameter does not change the match
// (unless a route tests the raw :path); a matched route picks one of its clusters with a positive
// weight; finalizing never introduces pseudo-headers, `host` or upper-case names. Then a sequence
// of HeaderMap operations runs against a plain vector model, which must agree after every step.
//
// Input layout (text; see tests/fuzz/corpus/routes), sections separated by a line "%%":
//   1. a RouteConfiguration in protobuf text format;
//   2. requests, separated by blank lines: "METHOD AUTHORITY PATH", then "name: value" lines;
//   3. HeaderMap operations, one a line: "+name value" add, "=name value" set, "-name" remove,
//      "~prefix" removeIf(name starts with prefix), "?name" get and count.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "config/bootstrap_loader.h"
#include "fuzz_check.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "http/header_map.h"
#include "router/route_table.h"
#include "skiff/config/v1/route.pb.h"

namespace skiff::router {
namespace {

bool parseText(const std::string& text, google::protobuf::Message& message) {
  // Parse errors are the common case for mutated text; they are not interesting.
  static google::protobuf::io::ErrorCollector* silent = [] {
    struct Silent : google::protobuf::io::ErrorCollector {
      void AddError(int, int, const std::string&) override {}
    };
    return new Silent;
  }();
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(silent);
  return parser.ParseFromString(text, &message);
}

// Which invariants the configuration leaves meaningful.
struct ConfigTraits {
  bool matches_authority = false;  // a header matcher on host / :authority
  bool matches_raw_path = false;   // a header matcher on :path (sees the raw query)
};

ConfigTraits traitsOf(const config::v1::RouteConfiguration& config) {
  ConfigTraits traits;
  for (const auto& host : config.virtual_hosts()) {
    for (const auto& route : host.routes()) {
      for (const auto& header : route.match().headers()) {
        const std::string name = absl::AsciiStrToLower(header.name());
        traits.matches_authority |= name == "host" || name == ":authority";
        traits.matches_raw_path |= name == ":path";
      }
    }
  }
  return traits;
}

std::vector<http::RequestHead> parseRequests(absl::string_view text) {
  std::vector<http::RequestHead> requests;
  for (absl::string_view block : absl::StrSplit(text, "\n\n", absl::SkipWhitespace())) {
    std::vector<absl::string_view> lines = absl::StrSplit(block, '\n', absl::SkipEmpty());
    if (lines.empty()) continue;
    std::vector<std::string> start = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    http::RequestHead head;
    head.method = start[0];
    if (start.size() > 1) head.authority = start[1];
    if (start.size() > 2) head.path = start[2];
    for (size_t i = 1; i < lines.size(); ++i) {
      std::pair<std::string, std::string> field =
          absl::StrSplit(lines[i], absl::MaxSplits(": ", 1));
      absl::AsciiStrToLower(&field.first);
      // What the codecs deliver: lower-case names; host and pseudo-headers live elsewhere.
      if (field.first.empty() || field.first[0] == ':' || field.first == "host") continue;
      head.headers.add(std::move(field.first), std::move(field.second));
    }
    requests.push_back(std::move(head));
  }
  return requests;
}

std::string percentEncodeAlnum(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[c & 15];
    } else {
      out += c;
    }
  }
  return out;
}

// The same query with the names of escape-free parameters percent-encoded.
std::string encodeQueryNames(const http::RequestHead& head) {
  std::string path(head.pathWithoutQuery());
  if (head.path.find('?') == std::string::npos) return head.path;
  path += '?';
  bool first = true;
  for (absl::string_view param : absl::StrSplit(head.query(), '&')) {
    if (!first) path += '&';
    first = false;
    if (param.find('%') != absl::string_view::npos) {
      path.append(param.data(), param.size());
      continue;
    }
    const size_t eq = param.find('=');
    path += percentEncodeAlnum(param.substr(0, eq));
    if (eq != absl::string_view::npos) path.append(param.data() + eq, param.size() - eq);
  }
  return path;
}

bool wellFormedNames(const http::HeaderMap& headers) {
  for (const auto& [name, value] : headers.entries()) {
    if (name.empty() || name[0] == ':' || name == "host") return false;
    if (absl::AsciiStrToLower(name) != name) return false;
  }
  return true;
}

void matchRequests(const RouteTable& table, const ConfigTraits& traits,
                   const std::vector<http::RequestHead>& requests) {
  for (const http::RequestHead& head : requests) {
    const RouteEntry* route = table.match(head);
    FUZZ_CHECK(table.match(head) == route);

    if (!traits.matches_authority) {
      http::RequestHead upper = head;
      absl::AsciiStrToUpper(&upper.authority);
      FUZZ_CHECK(table.match(upper) == route);
    }
    if (!traits.matches_raw_path) {
      http::RequestHead encoded = head;
      encoded.path = encodeQueryNames(head);
      FUZZ_CHECK(table.match(encoded) == route);
    }
    if (route == nullptr) continue;

    const std::vector<WeightedCluster>& clusters = route->clusters();
    FUZZ_CHECK(!clusters.empty());
    for (uint64_t random : {uint64_t{0}, uint64_t{1}, uint64_t{0x9e3779b97f4a7c15}, ~uint64_t{0}}) {
      const std::string& picked = route->pickCluster(random);
      bool found = false;
      for (const auto& cluster : clusters) {
        found |= cluster.name == picked && (cluster.weight > 0 || clusters.size() == 1);
      }
      FUZZ_CHECK(found);
    }
    FUZZ_CHECK(route->timeout().count() >= 0 && route->idleTimeout().count() >= 0);
    FUZZ_CHECK(route->hashKey(head) == route->hashKey(head));

    http::RequestHead request = head;
    route->finalizeRequest(request);
    FUZZ_CHECK(request.method == head.method);
    if (wellFormedNames(head.headers)) FUZZ_CHECK(wellFormedNames(request.headers));
    http::ResponseHead response;
    response.headers.add("server", "upstream");
    route->finalizeResponse(response);
    FUZZ_CHECK(wellFormedNames(response.headers));
  }
}

// HeaderMap against the obvious model: a vector of pairs.
void headerMapOperations(absl::string_view text) {
  http::HeaderMap map;
  std::vector<http::HeaderMap::Entry> model;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const char op = line[0];
    std::pair<std::string, std::string> field =
        absl::StrSplit(line.substr(1), absl::MaxSplits(' ', 1));
    const std::string& name = field.first;
    const std::string& value = field.second;
    size_t expected_count = 0;
    for (const auto& entry : model) expected_count += entry.first == name;
    switch (op) {
      case '+':
        map.add(name, value);
        model.emplace_back(name, value);
        break;
      case '=': {
        map.set(name, value);
        // The first entry of the name takes the value, the others go; the rest keep order.
        std::vector<http::HeaderMap::Entry> next;
        bool replaced = false;
        for (const auto& entry : model) {
          if (entry.first != name) {
            next.push_back(entry);
          } else if (!replaced) {
            next.emplace_back(name, value);
            replaced = true;
          }
        }
        if (!replaced) next.emplace_back(name, value);
        model = std::move(next);
        break;
      }
      case '-': {
        FUZZ_CHECK(map.remove(name) == expected_count);
        std::vector<http::HeaderMap::Entry> next;
        for (const auto& entry : model) {
          if (entry.first != name) next.push_back(entry);
        }
        model = std::move(next);
        break;
      }
      case '~': {
        auto starts = [&name](const http::HeaderMap::Entry& e) {
          return absl::StartsWith(e.first, name);
        };
        size_t removed = map.removeIf(starts);
        std::vector<http::HeaderMap::Entry> next;
        for (const auto& entry : model) {
          if (!starts(entry)) next.push_back(entry);
        }
        FUZZ_CHECK(removed == model.size() - next.size());
        model = std::move(next);
        break;
      }
      default: {
        const std::string* got = map.get(name);
        FUZZ_CHECK((got != nullptr) == (expected_count > 0));
        FUZZ_CHECK(map.has(name) == (expected_count > 0));
        FUZZ_CHECK(map.count(name) == expected_count);
        if (got != nullptr) {
          for (const auto& entry : model) {
            if (entry.first == name) {
              FUZZ_CHECK(*got == entry.second);
              break;
            }
          }
        }
        break;
      }
    }
    FUZZ_CHECK(map.entries() == model);
    FUZZ_CHECK(map.size() == model.size() && map.empty() == model.empty());
    size_t bytes = 0;
    for (const auto& entry : model) bytes += entry.first.size() + entry.second.size();
    FUZZ_CHECK(map.byteSize() == bytes);
  }
}

}  // namespace
}  // namespace skiff::router

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sections = absl::StrSplit(input, "\n%%\n");
  sections.resize(3);

  config::v1::RouteConfiguration config;
  if (router::parseText(sections[0], config) &&
      config::validateRouteConfigurationResource(config).ok()) {
    auto table = router::RouteTable::create(config);
    if (table.ok()) {
      router::matchRequests(**table, router::traitsOf(config), router::parseRequests(sections[1]));
    }
  }
  router::headerMapOperations(sections[2]);
  return 0;
}
