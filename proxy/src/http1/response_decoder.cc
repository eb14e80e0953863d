// Client side: status line, interim responses and the response framing rules of RFC 9112 6.3
// (bodiless statuses, responses to HEAD, close-delimited bodies).

#include <deque>
#include <utility>

#include "http1/codec.h"
#include "http1/message_decoder.h"
#include "http1/parse_util.h"

namespace skiff::http1 {

using internal::Framing;

class ResponseDecoder::Impl : public internal::MessageDecoder {
 public:
  Impl(const CodecLimits& limits, ResponseDecoderCallbacks& callbacks)
      : MessageDecoder(limits, /*is_request=*/false), callbacks_(callbacks) {}

  void expect(absl::string_view method) {
    bool head = method == "HEAD";
    if ((idle() || complete()) && queued_head_.empty()) {
      begin(head);
    } else {
      // A pipelined request: its response follows the ones being decoded or queued.
      queued_head_.push_back(head);
    }
  }

  std::optional<CodecError> dispatchResponse(Buffer& input) {
    if (complete() && !queued_head_.empty()) {
      bool head = queued_head_.front();
      queued_head_.pop_front();
      begin(head);
    }
    return dispatch(input);
  }

  std::optional<CodecError> endOfInput() {
    if (failed()) return dispatchResponse(empty_);  // returns the stored error
    if (complete()) return std::nullopt;
    if (inCloseDelimitedBody()) {
      finishCloseDelimited();
      return std::nullopt;
    }
    keep_alive_ = false;
    if (idle()) return fail(502, "upstream closed the connection before responding");
    return fail(502, "upstream closed the connection mid-response");
  }

  bool keepAlive() const { return keep_alive_ && !failed(); }

 protected:
  std::optional<CodecError> onStartLine(absl::string_view line) override {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]. The SP after the code is
    // optional here: some servers omit it with an empty reason.
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[6] != '.' || line[8] != ' ') {
      return fail(502, "malformed status line");
    }
    char major = line[5];
    char minor = line[7];
    if (major < '0' || major > '9' || minor < '0' || minor > '9') {
      return fail(502, "malformed status line");
    }
    if (major != '1') return fail(502, "unsupported HTTP version");
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') return fail(502, "malformed status code");
      status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || status > 599) return fail(502, "invalid status code");
    absl::string_view reason;
    if (line.size() > 12) {
      if (line[12] != ' ') return fail(502, "malformed status line");
      reason = line.substr(13);
      for (char c : reason) {
        if (!internal::isFieldChar(c)) return fail(502, "invalid reason phrase");
      }
    }
    head_.status = status;
    head_.reason.assign(reason.data(), reason.size());
    head_.protocol = minor == '0' ? http::Protocol::kHttp10 : http::Protocol::kHttp11;
    return std::nullopt;
  }

  std::optional<CodecError> onHeadComplete() override {
    if (head_.status < 200 && head_.status != 101) {
      // Interim responses (100 Continue, 103 Early Hints) are not forwarded.
      head_ = http::ResponseHead();
      restartHead();
      return std::nullopt;
    }
    Framing framing;
    if (auto error = resolveFraming(head_.protocol, &framing)) return error;
    if (head_.status == 101) {
      // What follows is another protocol; the connection is not reusable for HTTP.
      framing = Framing::kNone;
      keep_alive_ = false;
    } else {
      if (head_request_ || head_.status == 204 || head_.status == 304) framing = Framing::kNone;
      keep_alive_ =
          framing != Framing::kClose && wantsKeepAlive(head_.protocol, headers_);
    }
    bool end_stream = framing == Framing::kNone ||
                      (framing == Framing::kLength && facts_.content_length == 0);
    head_.headers = std::move(headers_);
    headers_.clear();
    startBody(framing, facts_.content_length);
    callbacks_.onResponseHead(std::move(head_), end_stream);
    return std::nullopt;
  }

  void onBody(Buffer& data, bool end_stream) override {
    callbacks_.onResponseData(data, end_stream);
  }
  void onTrailers(http::HeaderMap&& trailers) override {
    callbacks_.onResponseTrailers(std::move(trailers));
  }

 private:
  void begin(bool head_request) {
    reset();
    head_ = http::ResponseHead();
    head_request_ = head_request;
    keep_alive_ = false;
  }

  ResponseDecoderCallbacks& callbacks_;
  http::ResponseHead head_;
  bool head_request_ = false;
  bool keep_alive_ = false;
  std::deque<bool> queued_head_;
  Buffer empty_;
};

ResponseDecoder::ResponseDecoder(const CodecLimits& limits, ResponseDecoderCallbacks& callbacks)
    : impl_(new Impl(limits, callbacks)) {}

ResponseDecoder::~ResponseDecoder() { delete impl_; }

void ResponseDecoder::expectResponseTo(absl::string_view request_method) {
  impl_->expect(request_method);
}

std::optional<CodecError> ResponseDecoder::dispatch(Buffer& input) {
  return impl_->dispatchResponse(input);
}

std::optional<CodecError> ResponseDecoder::onEndOfInput() { return impl_->endOfInput(); }

bool ResponseDecoder::messageComplete() const { return impl_->complete(); }

bool ResponseDecoder::keepAlive() const { return impl_->keepAlive(); }

}  // namespace skiff::http1
