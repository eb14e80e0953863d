#include "filters/http/trace_context.h"

#include <string>

#include "absl/strings/match.h"
#include "common/random.h"
#include "server/worker_context.h"
#include "tracing/sampler.h"
#include "tracing/trace_context.h"

namespace skiff::filters {
namespace {

using tracing::ParseResult;
using tracing::Sampling;
using tracing::SpanId;
using tracing::TraceContext;
using tracing::TraceId;

constexpr absl::string_view kTraceparent = "traceparent";
constexpr absl::string_view kTracestate = "tracestate";
constexpr absl::string_view kB3 = "b3";
constexpr absl::string_view kB3Prefix = "x-b3-";

bool isB3Name(absl::string_view name) { return name == kB3 || absl::StartsWith(name, kB3Prefix); }

// Where the request's trace headers are, found in one pass over its headers.
struct TraceHeaders {
  size_t traceparent = 0;  // index of the first one
  int traceparent_count = 0;
  bool tracestate = false;
  absl::string_view b3;
  int b3_count = 0;
  tracing::B3Headers multi;
  bool multi_repeated = false;  // an x-b3-* header came twice
  bool force = false;

  bool anyB3() const { return b3_count > 0 || multi.any(); }
};

void noteMultiHeader(absl::string_view suffix, absl::string_view value, TraceHeaders& found) {
  std::optional<absl::string_view>* slot = nullptr;
  if (suffix == "traceid") {
    slot = &found.multi.trace_id;
  } else if (suffix == "spanid") {
    slot = &found.multi.span_id;
  } else if (suffix == "parentspanid") {
    slot = &found.multi.parent_span_id;
  } else if (suffix == "sampled") {
    slot = &found.multi.sampled;
  } else if (suffix == "flags") {
    slot = &found.multi.flags;
  } else {
    return;  // not one B3 defines
  }
  if (slot->has_value()) found.multi_repeated = true;
  *slot = value;
}

TraceHeaders findTraceHeaders(const http::HeaderMap& headers, const std::string& force_header) {
  TraceHeaders found;
  const auto& entries = headers.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const absl::string_view name = entries[i].first;
    const absl::string_view value = entries[i].second;
    if (name == kTraceparent) {
      if (found.traceparent_count++ == 0) found.traceparent = i;
    } else if (name == kTracestate) {
      found.tracestate = true;
    } else if (name == kB3) {
      if (found.b3_count++ == 0) found.b3 = value;
    } else if (absl::StartsWith(name, kB3Prefix)) {
      noteMultiHeader(name.substr(kB3Prefix.size()), value, found);
    } else if (name == force_header) {
      found.force = value == "1" || absl::EqualsIgnoreCase(value, "true");
    }
  }
  return found;
}

// The incoming B3 context: the single header first, then the multi-header form. Headers that
// came twice are malformed (which copy would be right?).
ParseResult parseB3(const TraceHeaders& found, TraceContext& out) {
  bool malformed = false;
  if (found.b3_count > 0) {
    if (found.b3_count == 1 && tracing::parseB3Single(found.b3, out) == ParseResult::kValid) {
      return ParseResult::kValid;
    }
    malformed = true;
  }
  if (found.multi.any()) {
    if (!found.multi_repeated && tracing::parseB3Multi(found.multi, out) == ParseResult::kValid) {
      return malformed ? ParseResult::kMalformed : ParseResult::kValid;
    }
    malformed = true;
  }
  return malformed ? ParseResult::kMalformed : ParseResult::kAbsent;
}

TraceId newTraceId(Random& random) {
  TraceId id;
  do {
    id.high = random.next();
    id.low = random.next();
  } while (!id.valid());
  return id;
}

SpanId newSpanId(Random& random) {
  SpanId id;
  do {
    id = random.next();
  } while (id == 0);
  return id;
}

std::string hex64(uint64_t value) {
  std::string out(tracing::kSpanIdHexSize, '0');
  tracing::writeHex64(value, out.data());
  return out;
}

// Replaces the request's B3 headers by this hop's, in the form the caller used.
void rewriteB3(http::HeaderMap& headers, bool keep, bool single, const StreamInfo::Trace& trace,
               bool trace_id_64, Sampling sampling) {
  headers.removeIf([](const http::HeaderMap::Entry& entry) { return isB3Name(entry.first); });
  if (!keep) return;
  if (single) {
    char b3[tracing::kMaxB3SingleSize];
    const size_t size = tracing::formatB3Single(trace.trace_id, trace_id_64, trace.span_id,
                                                sampling, trace.parent_span_id, b3);
    headers.add(std::string(kB3), std::string(b3, size));
    return;
  }
  char trace_id[tracing::kTraceIdHexSize];
  const size_t size = tracing::formatTraceId(trace.trace_id, trace_id_64, trace_id);
  headers.add("x-b3-traceid", std::string(trace_id, size));
  headers.add("x-b3-spanid", hex64(trace.span_id));
  if (trace.parent_span_id != 0) headers.add("x-b3-parentspanid", hex64(trace.parent_span_id));
  // Debug implies sampled, and B3 says not to send both.
  if (sampling == Sampling::kDebug) {
    headers.add("x-b3-flags", "1");
  } else {
    headers.add("x-b3-sampled", tracing::isSampled(sampling) ? "1" : "0");
  }
}

}  // namespace

http::FilterChainFactory::Factory TraceContextFilter::factory(
    std::shared_ptr<const tracing::TracingConfig> config, http::ListenerStats* stats) {
  return [config = std::move(config), stats](http::FilterChainBuilder& chain) {
    chain.addDecoderFilter(std::make_unique<TraceContextFilter>(*config, stats));
  };
}

http::FilterStatus TraceContextFilter::decodeHeaders(http::RequestHead& head, bool) {
  const TraceHeaders found = findTraceHeaders(head.headers, config_.force_sampling_header);
  auto& entries = head.headers.mutableEntries();

  enum class Source { kNone, kW3c, kB3 } source = Source::kNone;
  TraceContext incoming;  // parsers leave it alone unless they succeed
  if (config_.accept_w3c && found.traceparent_count > 0) {
    if (found.traceparent_count == 1 &&
        tracing::parseTraceparent(entries[found.traceparent].second, incoming) ==
            ParseResult::kValid) {
      source = Source::kW3c;
    } else {
      countMalformed(http::ListenerStats::kW3cTraceFormat);
    }
  }
  const bool b3_in = config_.accept_b3 && found.anyB3();
  if (source == Source::kNone && b3_in) {
    TraceContext b3;
    switch (parseB3(found, b3)) {
      case ParseResult::kValid:
        incoming = b3;
        source = Source::kB3;
        break;
      case ParseResult::kMalformed:
        countMalformed(http::ListenerStats::kB3TraceFormat);
        break;
      case ParseResult::kAbsent:
        break;
    }
  }

  Random& random = callbacks_->worker().random();
  StreamInfo::Trace& trace = callbacks_->streamInfo().trace;
  const bool joined = incoming.hasIds();  // else a sampling-only B3 header, or nothing usable
  trace.trace_id = joined ? incoming.trace_id : newTraceId(random);
  trace.parent_span_id = joined ? incoming.span_id : 0;
  trace.span_id = newSpanId(random);
  const Sampling sampling =
      tracing::decideSampling(incoming.sampling, found.force, trace.trace_id, config_.sampler);
  trace.sampled = tracing::isSampled(sampling);

  char traceparent[tracing::kTraceparentSize];
  tracing::formatTraceparent(trace.trace_id, trace.span_id, trace.sampled, traceparent);
  const absl::string_view traceparent_view(traceparent, sizeof(traceparent));
  if (found.traceparent_count == 0) {
    head.headers.add(std::string(kTraceparent), std::string(traceparent_view));
  } else if (found.traceparent_count == 1) {
    entries[found.traceparent].second.assign(traceparent, sizeof(traceparent));  // in place
  } else {
    head.headers.set(kTraceparent, traceparent_view);  // one instead of the repeats
  }
  // tracestate belongs to the traceparent it came with.
  if (source != Source::kW3c && found.tracestate) head.headers.remove(kTracestate);
  if (b3_in) {
    rewriteB3(head.headers, config_.keep_b3, found.b3_count > 0, trace,
              source == Source::kB3 && incoming.b3_trace_id_64, sampling);
  }
  return http::FilterStatus::kContinue;
}

void TraceContextFilter::countMalformed(http::ListenerStats::TraceFormat format) {
  if (stats_ != nullptr) stats_->tracing_malformed[format]->inc();
}

}  // namespace skiff::filters
