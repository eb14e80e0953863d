#pragma once

// Helpers shared by the router tests.

#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "http/header_map.h"
#include "router/route_table.h"

namespace skiff::router::testing {

inline config::v1::RouteConfiguration parseConfig(const std::string& text) {
  config::v1::RouteConfiguration config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  return config;
}

inline std::shared_ptr<const RouteTable> makeTable(const std::string& text) {
  auto table = RouteTable::create(parseConfig(text));
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

inline http::RequestHead request(const std::string& authority, const std::string& path,
                                 const std::string& method = "GET") {
  http::RequestHead head;
  head.authority = authority;
  head.path = path;
  head.method = method;
  return head;
}

// The route name matched, or "<none>".
inline std::string routed(const RouteTable& table, const http::RequestHead& head) {
  const RouteEntry* entry = table.match(head);
  return entry == nullptr ? "<none>" : entry->name();
}

}  // namespace skiff::router::testing
