#include "http/filter_manager.h"

#include <algorithm>

namespace skiff::http {

// What the two kinds of slot share: the filter, whether the slot owns it, its place in its
// direction, the events it holds, and the stream-wide callbacks every filter may use.
template <class Callbacks, class Filter>
class FilterManager::Slot : public Callbacks {
 public:
  // `owned`: the filter object when this slot owns it (every decoder filter; a StreamFilter is
  // owned by its decoder slot and only pointed to by its encoder slot).
  Slot(FilterManager& manager, Filter& filter, std::unique_ptr<StreamFilterBase> owned)
      : manager_(&manager), filter_(&filter), owned_(std::move(owned)) {}

  Filter& filter() { return *filter_; }
  StreamFilterBase* owned() { return owned_.get(); }
  size_t index() const { return index_; }
  void setIndex(size_t index) { index_ = index; }
  Held& held() {
    if (!held_) held_ = std::make_unique<Held>();
    return *held_;
  }
  std::unique_ptr<Held> takeHeld() { return std::move(held_); }
  bool stopped = false;

  StreamInfo& streamInfo() override { return manager_->callbacks_.streamInfo(); }
  server::WorkerContext& worker() override { return manager_->callbacks_.worker(); }
  const net::Connection& connection() override { return manager_->callbacks_.connection(); }
  const router::RouteEntry* route() override { return manager_->callbacks_.route(); }
  void sendLocalReply(int status, absl::string_view flag, absl::string_view detail) override {
    manager_->callbacks_.sendLocalReply(status, flag, detail);
  }

 protected:
  FilterManager* manager_;

 private:
  Filter* filter_;
  std::unique_ptr<StreamFilterBase> owned_;
  size_t index_ = 0;
  std::unique_ptr<Held> held_;
};

// What one decoder filter sees of its stream; also where the events it holds wait.
class FilterManager::DecoderSlot : public Slot<DecoderFilterCallbacks, StreamDecoderFilter> {
 public:
  using Slot::Slot;
  void continueDecoding() override { manager_->continueDecoding(*this); }
  // After a local reply, what the producer still sends is not the response any more.
  void encodeHeaders(ResponseHead&& head, bool end_stream) override {
    if (!manager_->local_reply_) manager_->encodeHeaders(std::move(head), end_stream);
  }
  void encodeData(Buffer& data, bool end_stream) override {
    if (manager_->local_reply_) {
      data.clear();
      return;
    }
    manager_->encodeData(data, end_stream);
  }
  void encodeTrailers(HeaderMap&& trailers) override {
    if (!manager_->local_reply_) manager_->encodeTrailers(std::move(trailers));
  }
  void readDisableDownstream(bool disable) override { manager_->readDisableFromFilter(disable); }
};

class FilterManager::EncoderSlot : public Slot<EncoderFilterCallbacks, StreamEncoderFilter> {
 public:
  using Slot::Slot;
  void continueEncoding() override { manager_->continueEncoding(*this); }
};

FilterManager::FilterManager(FilterManagerCallbacks& callbacks) : callbacks_(callbacks) {}

FilterManager::~FilterManager() { destroyFilters(); }

void FilterManager::addDecoderFilter(std::unique_ptr<StreamDecoderFilter> filter) {
  StreamDecoderFilter& ref = *filter;
  decoders_.emplace_back(*this, ref, std::move(filter));
}

void FilterManager::addEncoderFilter(std::unique_ptr<StreamEncoderFilter> filter) {
  StreamEncoderFilter& ref = *filter;
  encoders_.emplace_back(*this, ref, std::move(filter));
}

void FilterManager::addFilter(std::unique_ptr<StreamFilter> filter) {
  StreamFilter& ref = *filter;
  decoders_.emplace_back(*this, ref, std::move(filter));
  encoders_.emplace_back(*this, ref, nullptr);
}

void FilterManager::createFilters(const FilterChainFactory& factory) {
  // One filter per factory is the rule; more only costs a reallocation. Callbacks are handed
  // out once every slot is in place, since they point into these vectors.
  decoders_.reserve(factory.size());
  factory.createFilters(*this);
  // The response meets the filters in reverse: the first filter sees it last.
  std::reverse(encoders_.begin(), encoders_.end());
  for (size_t i = 0; i < decoders_.size(); ++i) decoders_[i].setIndex(i);
  for (size_t i = 0; i < encoders_.size(); ++i) encoders_[i].setIndex(i);
  for (DecoderSlot& slot : decoders_) slot.filter().setDecoderFilterCallbacks(slot);
  for (EncoderSlot& slot : encoders_) slot.filter().setEncoderFilterCallbacks(slot);
}

void FilterManager::destroyFilters() {
  if (destroyed_) return;
  destroyed_ = true;
  decoding_stopped_ = true;
  for (DecoderSlot& slot : decoders_) {
    if (slot.owned() != nullptr) slot.owned()->onDestroy();
  }
  for (EncoderSlot& slot : encoders_) {
    if (slot.owned() != nullptr) slot.owned()->onDestroy();
  }
}

// ---- The request ----

void FilterManager::decodeHeaders(RequestHead& head, bool end_stream) {
  request_head_ = &head;
  request_end_in_headers_ = end_stream;
  decodeHeadersFrom(0);
}

void FilterManager::decodeData(Buffer& data, bool end_stream) {
  decodeDataFrom(0, data, end_stream);
}

void FilterManager::decodeTrailers(HeaderMap& trailers) {
  request_trailers_ = &trailers;
  decodeTrailersFrom(0);
}

void FilterManager::beginLocalReply() {
  decoding_stopped_ = true;
  local_reply_ = true;
}

void FilterManager::decodeHeadersFrom(size_t index) {
  for (; index < decoders_.size() && !decoding_stopped_; ++index) {
    DecoderSlot& slot = decoders_[index];
    FilterStatus status = slot.filter().decodeHeaders(*request_head_, request_end_in_headers_);
    if (status == FilterStatus::kStop && !decoding_stopped_) {
      slot.stopped = true;
      slot.held().headers = true;
      return;
    }
  }
}

void FilterManager::decodeDataFrom(size_t index, Buffer& data, bool end_stream) {
  for (; index < decoders_.size() && !decoding_stopped_; ++index) {
    DecoderSlot& slot = decoders_[index];
    if (slot.stopped) {
      holdRequestData(slot, data, end_stream);
      return;
    }
    FilterStatus status = slot.filter().decodeData(data, end_stream);
    if (status == FilterStatus::kStop && !decoding_stopped_) {
      slot.stopped = true;
      holdRequestData(slot, data, end_stream);
      return;
    }
  }
  data.clear();  // past the last filter (or after a local reply): nobody takes these bytes
}

void FilterManager::decodeTrailersFrom(size_t index) {
  for (; index < decoders_.size() && !decoding_stopped_; ++index) {
    DecoderSlot& slot = decoders_[index];
    if (slot.stopped) {
      slot.held().trailers = true;
      return;
    }
    FilterStatus status = slot.filter().decodeTrailers(*request_trailers_);
    if (status == FilterStatus::kStop && !decoding_stopped_) {
      slot.stopped = true;
      slot.held().trailers = true;
      return;
    }
  }
}

void FilterManager::holdRequestData(DecoderSlot& slot, Buffer& data, bool end_stream) {
  held_request_.bytes += data.length();
  slot.held().addData(data, end_stream);
  held_request_.update();
  updateDownstreamReadDisabled();
}

void FilterManager::continueDecoding(DecoderSlot& slot) {
  if (!slot.stopped || decoding_stopped_) return;
  slot.stopped = false;
  std::unique_ptr<Held> held = slot.takeHeld();
  if (!held) return;
  held_request_.bytes -= held->body.length();
  held_request_.update();
  updateDownstreamReadDisabled();
  // In arrival order; a filter further on may stop again, and then holds the rest in turn.
  size_t next = slot.index() + 1;
  if (held->headers) decodeHeadersFrom(next);
  if (held->data) decodeDataFrom(next, held->body, held->end_stream);
  if (held->trailers) decodeTrailersFrom(next);
}

void FilterManager::readDisableFromFilter(bool disable) {
  filter_read_disabled_ = disable;
  updateDownstreamReadDisabled();
}

void FilterManager::updateDownstreamReadDisabled() {
  bool disable = filter_read_disabled_ || held_request_.over_watermark;
  if (disable == downstream_read_disabled_) return;
  downstream_read_disabled_ = disable;
  callbacks_.readDisableDownstream(disable);
}

// ---- The response ----

void FilterManager::encodeHeaders(ResponseHead&& head, bool end_stream) {
  response_started_ = true;
  response_head_ = std::move(head);
  response_end_in_headers_ = end_stream;
  encodeHeadersFrom(0);
}

void FilterManager::encodeData(Buffer& data, bool end_stream) {
  encodeDataFrom(0, data, end_stream);
}

void FilterManager::encodeTrailers(HeaderMap&& trailers) {
  response_trailers_ = std::move(trailers);
  encodeTrailersFrom(0);
}

void FilterManager::encodeHeadersFrom(size_t index) {
  for (; index < encoders_.size(); ++index) {
    if (destroyed_) return;
    EncoderSlot& slot = encoders_[index];
    if (slot.filter().encodeHeaders(response_head_, response_end_in_headers_) ==
        FilterStatus::kStop) {
      slot.stopped = true;
      slot.held().headers = true;
      return;
    }
  }
  if (!destroyed_) callbacks_.encodeHeadersDownstream(response_head_, response_end_in_headers_);
}

void FilterManager::encodeDataFrom(size_t index, Buffer& data, bool end_stream) {
  for (; index < encoders_.size(); ++index) {
    if (destroyed_) break;
    EncoderSlot& slot = encoders_[index];
    if (slot.stopped) {
      holdResponseData(slot, data, end_stream);
      return;
    }
    if (slot.filter().encodeData(data, end_stream) == FilterStatus::kStop) {
      slot.stopped = true;
      holdResponseData(slot, data, end_stream);
      return;
    }
  }
  if (destroyed_) {
    data.clear();
    return;
  }
  callbacks_.encodeDataDownstream(data, end_stream);
}

void FilterManager::encodeTrailersFrom(size_t index) {
  for (; index < encoders_.size(); ++index) {
    if (destroyed_) return;
    EncoderSlot& slot = encoders_[index];
    if (slot.stopped || slot.filter().encodeTrailers(response_trailers_) == FilterStatus::kStop) {
      slot.stopped = true;
      slot.held().trailers = true;
      return;
    }
  }
  if (!destroyed_) callbacks_.encodeTrailersDownstream(response_trailers_);
}

void FilterManager::holdResponseData(EncoderSlot& slot, Buffer& data, bool end_stream) {
  held_response_.bytes += data.length();
  slot.held().addData(data, end_stream);
  held_response_.update();
  updateDecoderWriteBlocked();
}

void FilterManager::continueEncoding(EncoderSlot& slot) {
  if (!slot.stopped || destroyed_) return;
  slot.stopped = false;
  std::unique_ptr<Held> held = slot.takeHeld();
  if (!held) return;
  held_response_.bytes -= held->body.length();
  held_response_.update();
  updateDecoderWriteBlocked();
  size_t next = slot.index() + 1;
  if (held->headers) encodeHeadersFrom(next);
  if (held->data) encodeDataFrom(next, held->body, held->end_stream);
  if (held->trailers) encodeTrailersFrom(next);
}

void FilterManager::onDownstreamWriteBlocked(bool blocked) {
  downstream_write_blocked_ = blocked;
  updateDecoderWriteBlocked();
}

void FilterManager::updateDecoderWriteBlocked() {
  // The response's producer pauses while either the client or the chain's held bytes push back.
  bool blocked = downstream_write_blocked_ || held_response_.over_watermark;
  if (blocked == decoders_write_blocked_ || destroyed_) return;
  decoders_write_blocked_ = blocked;
  for (DecoderSlot& slot : decoders_) slot.filter().onDownstreamWriteBlocked(blocked);
}

}  // namespace skiff::http
