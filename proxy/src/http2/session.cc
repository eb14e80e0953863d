#include "http2/session.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace skiff::http2::internal {
namespace {

constexpr size_t kFrameHeaderLength = 9;
// See the end of Session::dispatch().
constexpr size_t kMaxPendingOutput = 64 * 1024;

absl::string_view view(const uint8_t* data, size_t length) {
  return absl::string_view(reinterpret_cast<const char*>(data), length);
}

nghttp2_nv makeNv(absl::string_view name, absl::string_view value) {
  nghttp2_nv nv;
  nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
  nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
  nv.namelen = name.size();
  nv.valuelen = value.size();
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

// RFC 9113 8.2.2: fields that only make sense on one HTTP/1 connection.
bool isConnectionSpecific(absl::string_view name, absl::string_view value) {
  switch (name.size()) {
    case 2:
      return name == "te" && value != "trailers";
    case 7:
      return name == "upgrade";
    case 10:
      return name == "connection" || name == "keep-alive";
    case 16:
      return name == "proxy-connection";
    case 17:
      return name == "transfer-encoding";
    default:
      return false;
  }
}

// The library's error for a failed nghttp2_session_mem_recv, as a GOAWAY code.
uint32_t goAwayCodeFor(int lib_error) {
  switch (lib_error) {
    case NGHTTP2_ERR_FLOODED:
    case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
      return NGHTTP2_ENHANCE_YOUR_CALM;
    case NGHTTP2_ERR_HEADER_COMP:
      return NGHTTP2_COMPRESSION_ERROR;
    case NGHTTP2_ERR_FRAME_SIZE_ERROR:
      return NGHTTP2_FRAME_SIZE_ERROR;
    case NGHTTP2_ERR_FLOW_CONTROL:
      return NGHTTP2_FLOW_CONTROL_ERROR;
    case NGHTTP2_ERR_NOMEM:
    case NGHTTP2_ERR_CALLBACK_FAILURE:
      return NGHTTP2_INTERNAL_ERROR;
    default:
      return NGHTTP2_PROTOCOL_ERROR;
  }
}

}  // namespace

TokenBucket::TokenBucket(uint64_t burst, uint64_t rate_per_second, MonotonicClock clock)
    : tokens_(static_cast<double>(burst)),
      burst_(static_cast<double>(burst)),
      rate_(static_cast<double>(rate_per_second)),
      clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }),
      last_(clock_()) {}

bool TokenBucket::take() {
  auto now = clock_();
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    last_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void HeaderBlock::addPseudo(absl::string_view name, std::string value) {
  std::string& stored = pseudo_values_[pseudo_count_++];
  stored = std::move(value);
  nva_.push_back(makeNv(name, stored));
}

void HeaderBlock::addFields(const http::HeaderMap& headers, bool request) {
  nva_.reserve(nva_.size() + headers.size());
  for (const auto& [name, value] : headers.entries()) {
    if (name.empty() || name[0] == ':' || isConnectionSpecific(name, value)) continue;
    // :authority carries the host of a request (RFC 9113 8.3.1).
    if (request && name == "host") continue;
    nva_.push_back(makeNv(name, value));
  }
}

Session::Session(const Http2Settings& settings, bool server, MonotonicClock clock)
    : settings_(settings),
      server_(server),
      reset_bucket_(settings.stream_reset_burst, settings.stream_reset_rate, std::move(clock)) {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_send_callback(callbacks, &Session::onSend);
  nghttp2_session_callbacks_set_send_data_callback(callbacks, &Session::onSendData);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Session::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Session::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Session::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Session::onDataChunkRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Session::onStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &Session::onFrameSend);

  nghttp2_option* option;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);
  // Closed streams only serve the RFC 7540 priority tree, which we switch off below.
  nghttp2_option_set_no_closed_streams(option, 1);
  nghttp2_option_set_max_outbound_ack(option, settings.max_outbound_control_frames);
  nghttp2_option_set_max_settings(option, settings.max_settings_per_frame);
  nghttp2_option_set_max_continuations(option, settings.max_continuations);
  // nghttp2's own reset limiter is switched off (a bucket that never empties): ours
  // (chargeReset) sees the same RST_STREAM frames first, also counts streams nghttp2 reset as
  // malformed, answers ENHANCE_YOUR_CALM rather than INTERNAL_ERROR, and runs on the injected
  // clock, so its behaviour can be tested.
  nghttp2_option_set_stream_reset_rate_limit(option, UINT64_MAX / 2, 0);
  if (server) {
    nghttp2_session_server_new2(&session_, callbacks, this, option);
  } else {
    // Until the server's SETTINGS arrive nghttp2 assumes 100 (its default); newStream() checks
    // remoteMaxConcurrentStreams() itself.
    nghttp2_session_client_new2(&session_, callbacks, this, option);
  }
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);

  std::vector<nghttp2_settings_entry> entries = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings.initial_stream_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings.max_header_list_size},
      // The RFC 7540 priority tree costs memory and CPU per stream and has been a DoS vector
      // (CVE-2019-9513); RFC 9113 deprecates it.
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  if (server) {
    entries.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings.max_concurrent_streams});
  } else {
    entries.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  }
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size());
  // Without auto window updates this is how the connection window grows past 65535.
  nghttp2_session_set_local_window_size(
      session_, NGHTTP2_FLAG_NONE, 0,
      static_cast<int32_t>(settings.initial_connection_window_size));
}

Session::~Session() {
  // nghttp2_session_del calls no callbacks that reach us except stream closes, which must not
  // reach the application any more.
  streams_.clear();
  nghttp2_session_del(session_);
}

StreamState* Session::findStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

const StreamState* Session::findStream(int32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

StreamState& Session::createStream(int32_t stream_id) {
  auto& slot = streams_[stream_id];
  slot = std::make_unique<StreamState>();
  slot->id = stream_id;
  return *slot;
}

nghttp2_data_provider Session::dataProvider() {
  nghttp2_data_provider provider;
  provider.source.ptr = nullptr;
  provider.read_callback = &Session::onReadData;
  return provider;
}

absl::Status Session::connectionError(uint32_t error_code, absl::string_view detail) {
  std::string message =
      absl::StrCat("HTTP/2 connection error ", nghttp2_http2_strerror(error_code), ": ", detail);
  return error_code == NGHTTP2_ENHANCE_YOUR_CALM ? absl::ResourceExhaustedError(message)
                                                 : absl::InvalidArgumentError(message);
}

void Session::failConnection(uint32_t error_code, const char* reason) {
  if (fatal_code_) return;
  fatal_code_ = error_code;
  fatal_reason_ = reason;
  nghttp2_session_terminate_session(session_, error_code);
}

absl::Status Session::dispatch(Buffer& input) {
  if (!checkTerminated().ok()) {
    input.clear();
    return error_;
  }
  while (!input.empty()) {
    absl::string_view chunk = input.frontSlice();
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(chunk.data()),
                                          chunk.size());
    if (rv < 0) {
      input.clear();
      uint32_t code = fatal_code_ ? *fatal_code_ : goAwayCodeFor(static_cast<int>(rv));
      // A no-op when nghttp2 or we already queued a GOAWAY.
      nghttp2_session_terminate_session(session_, code);
      send(pending_out_);
      error_ =
          connectionError(goaway_sent_code_.value_or(code),
                          fatal_code_ ? fatal_reason_ : nghttp2_strerror(static_cast<int>(rv)));
      return error_;
    }
    input.drain(static_cast<size_t>(rv));
  }
  // Serialize what became ready (ACKs, WINDOW_UPDATEs, responses submitted from callbacks, a
  // GOAWAY). Many connection errors (bad frame sizes, HPACK errors, bad SETTINGS...) are handled
  // inside nghttp2, which queues a GOAWAY, swallows the rest of the input and tells nobody; the
  // GOAWAY's code shows only when it is sent. Skipped while the caller is not draining, so that
  // nghttp2's own outbound-queue flood limits still apply to a peer that does not read.
  if (pending_out_.length() < kMaxPendingOutput) send(pending_out_);
  return checkTerminated();
}

absl::Status Session::checkTerminated() {
  if (error_.ok() && !app_goaway_ && goaway_sent_code_ && *goaway_sent_code_ != NGHTTP2_NO_ERROR &&
      nghttp2_session_want_read(session_) == 0) {
    error_ = connectionError(*goaway_sent_code_,
                             fatal_code_ ? fatal_reason_ : "protocol violation by the peer");
  }
  return error_;
}

void Session::drainOutput(Buffer& out) {
  out.move(pending_out_);
  send(out);
}

void Session::send(Buffer& out) {
  out_ = &out;
  nghttp2_session_send(session_);
  out_ = nullptr;
  // Outside nghttp2_session_send, so the application may queue more data from the callback.
  std::vector<int32_t> writable;
  writable.swap(writable_);
  for (int32_t stream_id : writable) {
    if (findStream(stream_id) != nullptr) onStreamWritable(stream_id);
  }
}

bool Session::wantsWrite() const {
  return !pending_out_.empty() || nghttp2_session_want_write(session_) != 0;
}

bool Session::shouldClose() const {
  return pending_out_.empty() && nghttp2_session_want_read(session_) == 0 &&
         nghttp2_session_want_write(session_) == 0;
}

void Session::resumeData(StreamState& stream) {
  if (stream.data_deferred) {
    stream.data_deferred = false;
    nghttp2_session_resume_data(session_, stream.id);
  }
}

void Session::encodeData(int32_t stream_id, Buffer& data, bool end_stream) {
  StreamState* stream = findStream(stream_id);
  if (stream == nullptr || !stream->has_data_provider || stream->local_end) {
    // The stream is gone (reset) or already ended: the bytes have nowhere to go.
    data.clear();
    return;
  }
  stream->send_data.move(data);
  stream->local_end = end_stream;
  if (stream->send_data.length() > settings_.stream_buffer_limit) stream->above_limit = true;
  resumeData(*stream);
}

void Session::encodeTrailers(int32_t stream_id, const http::HeaderMap& trailers) {
  StreamState* stream = findStream(stream_id);
  if (stream == nullptr || !stream->has_data_provider || stream->local_end) return;
  if (!trailers.empty()) stream->trailers = std::make_unique<http::HeaderMap>(trailers);
  stream->local_end = true;
  resumeData(*stream);
}

void Session::resetStream(int32_t stream_id, uint32_t error_code) {
  StreamState* stream = findStream(stream_id);
  if (stream == nullptr) return;
  stream->local_reset = true;
  // What the peer sends until it sees the RST_STREAM is dropped, not delivered.
  stream->ignored = true;
  stream->send_data.clear();
  stream->trailers.reset();
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code);
}

void Session::consumed(int32_t stream_id, size_t bytes) {
  StreamState* stream = findStream(stream_id);
  // After the stream closed, its unconsumed bytes were already returned to the connection.
  if (stream == nullptr) return;
  bytes = std::min<uint64_t>(bytes, stream->unconsumed);
  if (bytes == 0) return;
  stream->unconsumed -= bytes;
  nghttp2_session_consume(session_, stream_id, bytes);
}

size_t Session::bufferedBytes(int32_t stream_id) const {
  const StreamState* stream = findStream(stream_id);
  return stream == nullptr ? 0 : stream->send_data.length();
}

bool Session::chargeReset() {
  if (!server_ || fatal_code_) return !fatal_code_;
  if (reset_bucket_.take()) return true;
  failConnection(NGHTTP2_ENHANCE_YOUR_CALM, "stream reset rate exceeded");
  return false;
}

// --- nghttp2 callbacks -------------------------------------------------------------------------

ssize_t Session::onSend(nghttp2_session*, const uint8_t* data, size_t length, int, void* ud) {
  static_cast<Session*>(ud)->out_->add(data, length);
  return static_cast<ssize_t>(length);
}

int Session::onSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source*, void* ud) {
  auto* self = static_cast<Session*>(ud);
  StreamState* stream = self->findStream(frame->hd.stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_CALLBACK_FAILURE;
  self->out_->add(framehd, kFrameHeaderLength);
  // No padding is ever selected (no select_padding_callback), so the payload is just the
  // bytes, moved slice by slice rather than copied.
  self->out_->move(stream->send_data, length);
  if (stream->above_limit &&
      stream->send_data.length() <= self->settings_.stream_buffer_limit / 2) {
    stream->above_limit = false;
    self->writable_.push_back(stream->id);
  }
  return 0;
}

ssize_t Session::onReadData(nghttp2_session* session, int32_t stream_id, uint8_t*, size_t length,
                            uint32_t* data_flags, nghttp2_data_source*, void* ud) {
  auto* self = static_cast<Session*>(ud);
  StreamState* stream = self->findStream(stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t available = stream->send_data.length();
  size_t n = std::min(length, available);
  if (n == 0 && !stream->local_end) {
    stream->data_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (stream->local_end && n == available) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (stream->trailers) {
      // nghttp2 documents submitting trailers from here: the HEADERS with END_STREAM goes right
      // after this last DATA frame.
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      HeaderBlock block;
      block.addFields(*stream->trailers, false);
      nghttp2_submit_trailer(session, stream_id, block.data(), block.size());
      stream->trailers.reset();
    }
  }
  return static_cast<ssize_t>(n);
}

int Session::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  auto* self = static_cast<Session*>(ud);
  if (self->server_ && frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    StreamState& stream = self->createStream(frame->hd.stream_id);
    if (!self->acceptStream(stream.id)) {
      stream.ignored = true;
      stream.local_reset = true;
      nghttp2_submit_rst_stream(self->session_, NGHTTP2_FLAG_NONE, stream.id,
                                NGHTTP2_REFUSED_STREAM);
    }
  }
  return 0;
}

int Session::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name_data,
                      size_t namelen, const uint8_t* value_data, size_t valuelen, uint8_t,
                      void* ud) {
  auto* self = static_cast<Session*>(ud);
  StreamState* stream = self->findStream(frame->hd.stream_id);
  if (stream == nullptr || stream->ignored || stream->header_list_too_large) return 0;
  // nghttp2 has validated the field (RFC 9113 8.2.1, 8.3) before this callback.
  stream->header_list_bytes += namelen + valuelen + 32;
  if (stream->header_list_bytes > self->settings_.max_header_list_size) {
    // Stop storing (bounded memory) but keep decoding: HPACK state must stay in sync.
    stream->header_list_too_large = true;
    stream->headers.clear();
    stream->cookie.clear();
    return 0;
  }
  absl::string_view name = view(name_data, namelen);
  absl::string_view value = view(value_data, valuelen);
  if (name[0] == ':') {
    if (name == ":method") {
      stream->method.assign(value.data(), value.size());
    } else if (name == ":path") {
      stream->path.assign(value.data(), value.size());
    } else if (name == ":scheme") {
      stream->scheme.assign(value.data(), value.size());
    } else if (name == ":authority") {
      stream->authority.assign(value.data(), value.size());
    } else if (name == ":status") {
      int status = 0;
      for (char c : value) status = status * 10 + (c - '0');  // nghttp2 checked 3 digits
      stream->status = status;
    }
    return 0;
  }
  if (name == "cookie") {
    if (!stream->cookie.empty()) stream->cookie.append("; ");
    stream->cookie.append(value.data(), value.size());
    return 0;
  }
  stream->headers.add(std::string(name), std::string(value));
  return 0;
}

int Session::onDataChunkRecv(nghttp2_session* session, uint8_t, int32_t stream_id,
                             const uint8_t* data, size_t len, void* ud) {
  auto* self = static_cast<Session*>(ud);
  StreamState* stream = self->findStream(stream_id);
  if (stream == nullptr || stream->ignored) {
    // Nobody will consume these bytes: return the window at once.
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
  stream->recv_data.add(data, len);
  stream->frame_payload_bytes += len;
  stream->unconsumed += len;
  return 0;
}

int Session::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  return static_cast<Session*>(ud)->frameReceived(*frame);
}

int Session::frameReceived(const nghttp2_frame& frame) {
  switch (frame.hd.type) {
    case NGHTTP2_HEADERS: {
      StreamState* stream = findStream(frame.hd.stream_id);
      if (stream == nullptr || stream->ignored) return 0;
      bool end_stream = (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      if (end_stream) stream->remote_end = true;
      if (!stream->cookie.empty()) {
        stream->headers.add("cookie", std::move(stream->cookie));
        stream->cookie.clear();
      }
      onHeaderBlock(*stream, end_stream);
      return 0;
    }
    case NGHTTP2_DATA: {
      StreamState* stream = findStream(frame.hd.stream_id);
      if (stream == nullptr) return 0;
      // Padding is flow-controlled too but never reaches the application: consume it here.
      size_t padding = frame.hd.length - stream->frame_payload_bytes;
      stream->frame_payload_bytes = 0;
      if (padding > 0) nghttp2_session_consume(session_, stream->id, padding);
      if (stream->ignored) return 0;
      bool end_stream = (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      if (end_stream) stream->remote_end = true;
      if (!stream->recv_data.empty() || end_stream) {
        onData(*stream, stream->recv_data, end_stream);
        // Whatever the application left in the buffer it has seen; it is not delivered twice.
        stream->recv_data.clear();
      }
      return 0;
    }
    case NGHTTP2_RST_STREAM:
      // Charged before nghttp2's own limiter, which runs after this callback.
      if (!chargeReset()) return NGHTTP2_ERR_CALLBACK_FAILURE;
      return 0;
    case NGHTTP2_GOAWAY:
      onGoAwayReceived(frame.goaway);
      return 0;
    case NGHTTP2_PING:
      if (frame.hd.flags & NGHTTP2_FLAG_ACK) onPingAck(frame.ping.opaque_data);
      return 0;
    default:
      return 0;
  }
}

int Session::onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* ud) {
  return static_cast<Session*>(ud)->streamClosed(stream_id, error_code);
}

int Session::streamClosed(int32_t stream_id, uint32_t error_code) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return 0;
  std::unique_ptr<StreamState> stream = std::move(it->second);
  streams_.erase(it);
  // Bytes the application will no longer consume must not shrink the connection window.
  if (stream->unconsumed > 0) {
    nghttp2_session_consume_connection(session_, stream->unconsumed);
  }
  if (!stream->local_reset && !stream->ignored && streamUnfinished(*stream)) {
    onStreamReset(stream_id,
                  error_code == NGHTTP2_NO_ERROR ? uint32_t{NGHTTP2_CANCEL} : error_code);
  }
  return 0;
}

void Session::refuseUnsentStreams(int32_t last_stream_id) {
  // nghttp2 opens a stream only when its HEADERS go out; until then (the server's
  // MAX_CONCURRENT_STREAMS holds it back, or output has not been drained) it is only queued, and
  // the GOAWAY closes nothing for it. In id order, so callbacks come in a stable order.
  std::vector<int32_t> unsent;
  for (const auto& [id, stream] : streams_) {
    if (id > last_stream_id && nghttp2_session_find_stream(session_, id) == nullptr) {
      unsent.push_back(id);
    }
  }
  std::sort(unsent.begin(), unsent.end());
  for (int32_t id : unsent) streamClosed(id, NGHTTP2_REFUSED_STREAM);
}

int Session::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  static_cast<Session*>(ud)->frameSent(*frame);
  return 0;
}

void Session::frameSent(const nghttp2_frame& frame) {
  switch (frame.hd.type) {
    case NGHTTP2_DATA:
    case NGHTTP2_HEADERS:
      if (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) {
        StreamState* stream = findStream(frame.hd.stream_id);
        if (stream == nullptr) break;
        stream->local_end_sent = true;
        if (stream->reset_after_response && !stream->remote_end) {
          // Submitted only now: nghttp2 drops a response queued behind a RST_STREAM.
          nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_NO_ERROR);
        }
      }
      break;
    case NGHTTP2_RST_STREAM: {
      StreamState* stream = findStream(frame.hd.stream_id);
      // nghttp2 reset a malformed stream by itself: that is work the peer made us do.
      bool ours = stream != nullptr && stream->local_reset;
      if (!ours) chargeReset();
      break;
    }
    case NGHTTP2_GOAWAY:
      // The graceful shutdown notice carries NO_ERROR and 2^31-1; the last GOAWAY counts.
      goaway_sent_code_ = frame.goaway.error_code;
      break;
    default:
      break;
  }
}

}  // namespace skiff::http2::internal
