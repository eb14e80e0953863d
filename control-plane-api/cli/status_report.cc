#include "status_report.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "skiff/config/v1/cluster.pb.h"
#include "skiff/config/v1/listener.pb.h"
#include "skiff/config/v1/route.pb.h"

namespace skiff::cli {
namespace {

// Discovery order: what a proxy needs first comes first.
const char* const kKnownTypes[] = {
    "type.googleapis.com/skiff.config.v1.Cluster",
    "type.googleapis.com/skiff.config.v1.ClusterLoadAssignment",
    "type.googleapis.com/skiff.config.v1.Listener",
    "type.googleapis.com/skiff.config.v1.RouteConfiguration",
};
const char* const kKnownTypeColumns[] = {"CLUSTERS", "ENDPOINTS", "LISTENERS", "ROUTES"};

// Versions are content hashes; like git, a prefix is enough to compare rows by eye.
constexpr size_t kShortVersion = 8;

std::string shortVersion(const std::string& version) {
  return version.size() > kShortVersion ? version.substr(0, kShortVersion) : version;
}

std::string typeCell(const control::v1::TypeStatus& type) {
  std::string cell = type.acked_version().empty() ? "-" : shortVersion(type.acked_version());
  if (!type.nacked_version().empty()) {
    absl::StrAppend(&cell, " NACK(", shortVersion(type.nacked_version()), ")");
  } else if (!type.sent_version().empty() && type.sent_version() != type.acked_version()) {
    absl::StrAppend(&cell, " sent(", shortVersion(type.sent_version()), ")");
  }
  return cell;
}

std::string formatUnixTime(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(seconds),
                          absl::UTCTimeZone());
}

}  // namespace

std::string renderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string shortTypeName(const std::string& type_url) {
  size_t dot = type_url.rfind('.');
  return dot == std::string::npos ? type_url : type_url.substr(dot + 1);
}

std::string renderStatusText(const control::v1::ListProxiesResponse& status) {
  std::string out = absl::StrCat("mesh version:    ",
                                 status.mesh_version().empty() ? "(none)" : status.mesh_version(),
                                 "\n");
  absl::StrAppend(&out, "last mesh error: ",
                  status.last_mesh_error().empty() ? "none" : status.last_mesh_error(), "\n\n");
  if (status.proxies().empty()) {
    absl::StrAppend(&out, "no proxies connected\n");
    return out;
  }

  // Columns: the four resource types in push order, then any type this CLI does not know yet.
  std::vector<std::string> type_urls(std::begin(kKnownTypes), std::end(kKnownTypes));
  std::vector<std::string> header = {"NODE", "WORKLOAD", "STREAM", "SYNCED"};
  header.insert(header.end(), std::begin(kKnownTypeColumns), std::end(kKnownTypeColumns));
  for (const auto& proxy : status.proxies()) {
    for (const auto& type : proxy.types()) {
      if (std::find(type_urls.begin(), type_urls.end(), type.type_url()) == type_urls.end()) {
        type_urls.push_back(type.type_url());
        header.push_back(shortTypeName(type.type_url()));
      }
    }
  }

  std::vector<std::vector<std::string>> rows = {header};
  std::string nacks;
  for (const auto& proxy : status.proxies()) {
    std::map<std::string, const control::v1::TypeStatus*> by_url;
    for (const auto& type : proxy.types()) by_url[type.type_url()] = &type;
    std::vector<std::string> row = {
        proxy.node().id(), proxy.node().workload().empty() ? "-" : proxy.node().workload(),
        proxy.stream_type() == "STATE_OF_THE_WORLD" ? "SOTW" : proxy.stream_type(),
        proxy.synced_version().empty() ? "no" : "yes"};
    for (const auto& url : type_urls) {
      auto it = by_url.find(url);
      row.push_back(it == by_url.end() ? "-" : typeCell(*it->second));
    }
    rows.push_back(std::move(row));

    for (const auto& url : type_urls) {
      auto it = by_url.find(url);
      if (it == by_url.end() || it->second->last_nack_error().empty()) continue;
      const control::v1::TypeStatus& type = *it->second;
      absl::StrAppend(&nacks, proxy.node().id(), " ", shortTypeName(url), ": ",
                      type.nacked_version().empty() ? "earlier NACK (since ACKed)"
                                                    : "NACK of version " + type.nacked_version());
      if (type.last_nack_time() > 0) {
        absl::StrAppend(&nacks, " at ", formatUnixTime(type.last_nack_time()));
      }
      absl::StrAppend(&nacks, "\n");
      for (absl::string_view line : absl::StrSplit(type.last_nack_error(), '\n')) {
        absl::StrAppend(&nacks, "    ", line, "\n");
      }
    }
  }
  absl::StrAppend(&out, renderTable(rows));
  if (!nacks.empty()) absl::StrAppend(&out, "\nNACKs:\n", nacks);
  return out;
}

absl::StatusOr<std::string> messageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print as JSON: ", status.ToString()));
  }
  return json;
}

void linkResourceTypes() {
  // Touching each descriptor pulls its .pb.o (and its registration) into the binary.
  (void)config::v1::Cluster::descriptor();
  (void)config::v1::ClusterLoadAssignment::descriptor();
  (void)config::v1::Listener::descriptor();
  (void)config::v1::RouteConfiguration::descriptor();
}

}  // namespace skiff::cli
