// Registry: families of series keyed by name and label set, rendered in the Prometheus text
// exposition format 0.0.4.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "stats/stats.h"

namespace skiff::stats {
namespace {

enum class Type { kCounter, kGauge, kHistogram, kCodeCounter };

const char* typeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
    case Type::kCodeCounter:
      return "counter";  // one counter series per status code
  }
  return "untyped";
}

// A label the renderer adds itself, so a caller may not use it on that type.
const char* reservedLabel(Type type) {
  switch (type) {
    case Type::kHistogram:
      return "le";
    case Type::kCodeCounter:
      return "code";
    default:
      return nullptr;
  }
}

bool isMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool isLabelName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Label values: backslash, double quote and newline are escaped.
void appendEscapedLabelValue(std::string& out, absl::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// HELP text: only backslash and newline are escaped.
void appendEscapedHelp(std::string& out, absl::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// Shortest text that parses back to the same double, never with an exponent ("0.0005").
std::string formatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];  // the longest fixed-format double is ~330 characters
  auto result = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  if (result.ec != std::errc()) return absl::StrCat(v);  // cannot happen with this buffer
  return std::string(buf, result.ptr);
}

// The `le` label of each histogram bucket, computed once.
const std::vector<std::string>& bucketBounds() {
  static const std::vector<std::string> bounds = [] {
    std::vector<std::string> v;
    for (double bound : Histogram::kBounds) v.push_back(formatDouble(bound));
    v.push_back("+Inf");
    return v;
  }();
  return bounds;
}

// The status codes as strings, so rendering does not format 500 integers per series.
const std::vector<std::string>& codeStrings() {
  static const std::vector<std::string> codes = [] {
    std::vector<std::string> v;
    for (int code = 100; code <= 599; ++code) v.push_back(std::to_string(code));
    return v;
  }();
  return codes;
}

struct Series {
  Series(Type type, int shards, std::string rendered_labels) : labels(std::move(rendered_labels)) {
    switch (type) {
      case Type::kCounter:
        counter = std::make_unique<Counter>(shards);
        break;
      case Type::kGauge:
        gauge = std::make_unique<Gauge>(shards);
        break;
      case Type::kHistogram:
        histogram = std::make_unique<Histogram>(shards);
        break;
      case Type::kCodeCounter:
        code_counter = std::make_unique<CodeCounter>(shards);
        break;
    }
  }

  std::string labels;  // `a="b",c="d"` without braces, escaped, in the order given
  // Exactly one is set, matching the family's type.
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::unique_ptr<CodeCounter> code_counter;
};

// `name{labels,extra}` or `name{extra}` or `name`, then a space.
void appendSeriesStart(std::string& out, absl::string_view name, absl::string_view suffix,
                       absl::string_view labels, absl::string_view extra) {
  out.append(name.data(), name.size());
  out.append(suffix.data(), suffix.size());
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out.append(labels.data(), labels.size());
    if (!labels.empty() && !extra.empty()) out += ',';
    out.append(extra.data(), extra.size());
    out += '}';
  }
  out += ' ';
}

}  // namespace

struct Registry::Family {
  Family(Type t, std::string h) : type(t), help(std::move(h)) {}

  // The series for (name, labels) of the given type, created on first use. Misuse is logged
  // and answered with a series kept in `unexported`, so the caller still gets a live metric.
  static Series& find(Registry& registry, const std::string& name, const std::string& help,
                      const Labels& labels, Type type);
  Series& addUnexported(Type t, int shards) {
    unexported.push_back(std::make_unique<Series>(t, shards, std::string()));
    return *unexported.back();
  }
  void render(const std::string& name, std::string& out) const;

  Type type;
  std::string help;
  std::vector<std::unique_ptr<Series>> series;         // creation order
  std::unordered_map<std::string, Series*> by_labels;  // key: label set sorted by name
  std::vector<std::unique_ptr<Series>> unexported;
};

Series& Registry::Family::find(Registry& registry, const std::string& name, const std::string& help,
                               const Labels& labels, Type type) {
  if (!isMetricName(name)) {
    SKIFF_LOG(kError, "stats: invalid metric name \"%s\"; the metric will not be exported",
              absl::CEscape(name));
    // Held by the family under the empty name, which no valid metric can have.
    auto& holder = registry.families_[""];
    if (!holder) holder = std::make_unique<Family>(type, "");
    return holder->addUnexported(type, registry.shards_);
  }

  auto& slot = registry.families_[name];
  if (!slot) slot = std::make_unique<Family>(type, help);
  Family& family = *slot;
  if (family.type != type) {
    SKIFF_LOG(kError, "stats: %s registered as %s and again as %s; the second is not exported",
              name, typeName(family.type), typeName(type));
    return family.addUnexported(type, registry.shards_);
  }

  std::vector<std::pair<absl::string_view, absl::string_view>> sorted(labels.begin(), labels.end());
  std::sort(sorted.begin(), sorted.end());
  const char* reserved = reservedLabel(type);
  for (size_t i = 0; i < sorted.size(); ++i) {
    absl::string_view label = sorted[i].first;
    const char* problem = nullptr;
    if (!isLabelName(label)) {
      problem = "invalid";
    } else if (absl::StartsWith(label, "__") || (reserved != nullptr && label == reserved)) {
      problem = "reserved";
    } else if (i > 0 && sorted[i - 1].first == label) {
      problem = "duplicate";
    }
    if (problem != nullptr) {
      SKIFF_LOG(kError, "stats: %s label name \"%s\" on %s; the metric will not be exported",
                problem, absl::CEscape(label), name);
      return family.addUnexported(type, registry.shards_);
    }
  }

  // Length-prefixed, so no label value can make two different sets look alike.
  std::string key;
  for (const auto& [label, value] : sorted) {
    absl::StrAppend(&key, label.size(), ":", label, value.size(), ":", value);
  }
  auto it = family.by_labels.find(key);
  if (it != family.by_labels.end()) return *it->second;

  std::string rendered;
  for (const auto& [label, value] : labels) {
    if (!rendered.empty()) rendered += ',';
    absl::StrAppend(&rendered, label, "=\"");
    appendEscapedLabelValue(rendered, value);
    rendered += '"';
  }
  family.series.push_back(std::make_unique<Series>(type, registry.shards_, std::move(rendered)));
  Series* series = family.series.back().get();
  family.by_labels.emplace(std::move(key), series);
  return *series;
}

void Registry::Family::render(const std::string& name, std::string& out) const {
  const size_t start = out.size();
  absl::StrAppend(&out, "# HELP ", name, " ");
  appendEscapedHelp(out, help);
  absl::StrAppend(&out, "\n# TYPE ", name, " ", typeName(type), "\n");
  const size_t header_end = out.size();

  std::string extra;
  for (const auto& s : series) {
    switch (type) {
      case Type::kCounter:
        appendSeriesStart(out, name, "", s->labels, "");
        absl::StrAppend(&out, s->counter->value(), "\n");
        break;
      case Type::kGauge:
        appendSeriesStart(out, name, "", s->labels, "");
        absl::StrAppend(&out, s->gauge->value(), "\n");
        break;
      case Type::kHistogram: {
        Histogram::Snapshot snap = s->histogram->snapshot();
        const auto& bounds = bucketBounds();
        uint64_t cumulative = 0;
        for (size_t b = 0; b < snap.buckets.size(); ++b) {
          cumulative += snap.buckets[b];
          extra.assign("le=\"");
          extra += bounds[b];
          extra += '"';
          appendSeriesStart(out, name, "_bucket", s->labels, extra);
          absl::StrAppend(&out, cumulative, "\n");
        }
        appendSeriesStart(out, name, "_sum", s->labels, "");
        absl::StrAppend(&out, formatDouble(snap.sum), "\n");
        appendSeriesStart(out, name, "_count", s->labels, "");
        absl::StrAppend(&out, snap.count, "\n");
        break;
      }
      case Type::kCodeCounter: {
        const auto& codes = codeStrings();
        for (int code = 100; code <= 599; ++code) {
          uint64_t v = s->code_counter->value(code);
          if (v == 0) continue;
          extra.assign("code=\"");
          extra += codes[code - 100];
          extra += '"';
          appendSeriesStart(out, name, "", s->labels, extra);
          absl::StrAppend(&out, v, "\n");
        }
        break;
      }
    }
  }
  // promtool accepts a family without samples, but it tells a reader nothing.
  if (out.size() == header_end) out.resize(start);
}

Registry::Registry(int shards) : shards_(shards < 1 ? 1 : shards) {}
Registry::~Registry() = default;

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  return *Family::find(*this, name, help, labels, Type::kCounter).counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  return *Family::find(*this, name, help, labels, Type::kGauge).gauge;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const Labels& labels) {
  return *Family::find(*this, name, help, labels, Type::kHistogram).histogram;
}

CodeCounter& Registry::codeCounter(const std::string& name, const std::string& help,
                                   const Labels& labels) {
  return *Family::find(*this, name, help, labels, Type::kCodeCounter).code_counter;
}

std::string Registry::renderPrometheus() const {
  std::string out;
  out.reserve(64 * 1024);
  for (const auto& [name, family] : families_) {
    if (name.empty()) continue;  // holder of metrics with invalid names
    family->render(name, out);
  }
  return out;
}

}  // namespace skiff::stats
