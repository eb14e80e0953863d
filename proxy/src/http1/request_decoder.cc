// Server side: request line, Host, and the request-only framing rules of RFC 9112.

#include <utility>

#include "http1/codec.h"
#include "http1/message_decoder.h"
#include "http1/parse_util.h"

namespace skiff::http1 {

using internal::Framing;

namespace {

// HTTP-version = "HTTP/" DIGIT "." DIGIT
bool parseVersion(absl::string_view version, int* major, int* minor) {
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.') return false;
  char a = version[5];
  char b = version[7];
  if (a < '0' || a > '9' || b < '0' || b > '9') return false;
  *major = a - '0';
  *minor = b - '0';
  return true;
}

// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool isScheme(absl::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (i == 0 ? !alpha : !(alpha || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

class RequestDecoder::Impl : public internal::MessageDecoder {
 public:
  Impl(const CodecLimits& limits, RequestDecoderCallbacks& callbacks)
      : MessageDecoder(limits, /*is_request=*/true), callbacks_(callbacks) {}

  bool upgrade() const { return upgrade_; }
  void next() {
    if (!complete()) return;  // never reinterpret the rest of a message as a new one
    reset();
    head_ = http::RequestHead();
    absolute_form_ = false;
    upgrade_ = false;
  }

 protected:
  std::optional<CodecError> onStartLine(absl::string_view line) override {
    // request-line = method SP request-target SP HTTP-version, single spaces only.
    size_t sp1 = line.find(' ');
    if (sp1 == absl::string_view::npos) return fail(400, "malformed request line");
    size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == absl::string_view::npos) return fail(400, "malformed request line");
    absl::string_view method = line.substr(0, sp1);
    absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    absl::string_view version = line.substr(sp2 + 1);
    if (!internal::isToken(method)) return fail(400, "invalid method");
    int major;
    int minor;
    if (!parseVersion(version, &major, &minor)) return fail(400, "malformed HTTP version");
    if (major != 1) return fail(505, "unsupported HTTP version");
    head_.protocol = minor == 0 ? http::Protocol::kHttp10 : http::Protocol::kHttp11;
    if (target.empty()) return fail(400, "empty request-target");
    for (char c : target) {
      if (!internal::isTargetChar(c)) return fail(400, "invalid request-target");
    }
    if (method == "CONNECT") return fail(501, "CONNECT is not supported");
    head_.method.assign(method.data(), method.size());

    if (target[0] == '/') {
      head_.path.assign(target.data(), target.size());
      return std::nullopt;
    }
    if (target == "*") {
      if (method != "OPTIONS") return fail(400, "asterisk-form is only for OPTIONS");
      head_.path = "*";
      return std::nullopt;
    }
    return parseAbsoluteForm(target);
  }

  std::optional<CodecError> onHeadComplete() override {
    if (facts_.host_count > 1) return fail(400, "multiple Host headers");
    if (facts_.host_count == 0 && head_.protocol == http::Protocol::kHttp11) {
      return fail(400, "missing Host header");
    }
    if (!internal::isValidAuthority(facts_.host)) return fail(400, "invalid Host header");
    // RFC 9112 3.2.2: the absolute-form authority wins over Host.
    if (!absolute_form_) head_.authority = std::move(facts_.host);

    Framing framing;
    if (auto error = resolveFraming(head_.protocol, &framing)) return error;
    uint64_t length = facts_.content_length;
    if (framing == Framing::kLength && limits_.max_body_bytes != 0 &&
        length > limits_.max_body_bytes) {
      return fail(413, "request body too large");
    }
    bool end_stream = framing == Framing::kNone || (framing == Framing::kLength && length == 0);
    upgrade_ = end_stream && head_.protocol == http::Protocol::kHttp11 &&
               headers_.has("upgrade") && internal::hasConnectionToken(headers_, "upgrade");
    head_.headers = std::move(headers_);
    headers_.clear();
    startBody(framing, length);
    callbacks_.onRequestHead(std::move(head_), end_stream);
    return std::nullopt;
  }

  void onBody(Buffer& data, bool end_stream) override {
    callbacks_.onRequestData(data, end_stream);
  }
  void onTrailers(http::HeaderMap&& trailers) override {
    callbacks_.onRequestTrailers(std::move(trailers));
  }

 private:
  // absolute-form: scheme "://" authority [ path-abempty ] [ "?" query ]
  std::optional<CodecError> parseAbsoluteForm(absl::string_view target) {
    size_t sep = target.find("://");
    if (sep == absl::string_view::npos || !isScheme(target.substr(0, sep))) {
      return fail(400, "invalid request-target");
    }
    std::string scheme = internal::lowerToken(target.substr(0, sep));
    if (scheme != "http" && scheme != "https") return fail(400, "unsupported URI scheme");
    absl::string_view rest = target.substr(sep + 3);
    size_t authority_end = rest.find_first_of("/?");
    absl::string_view authority = rest.substr(0, authority_end);
    if (authority.empty() || !internal::isValidAuthority(authority)) {
      return fail(400, "invalid authority in request-target");
    }
    absl::string_view path =
        authority_end == absl::string_view::npos ? absl::string_view() : rest.substr(authority_end);
    head_.scheme = std::move(scheme);
    head_.authority.assign(authority.data(), authority.size());
    if (path.empty() || path[0] == '?') head_.path = "/";
    head_.path.append(path.data(), path.size());
    absolute_form_ = true;
    return std::nullopt;
  }

  RequestDecoderCallbacks& callbacks_;
  http::RequestHead head_;
  bool absolute_form_ = false;
  bool upgrade_ = false;
};

RequestDecoder::RequestDecoder(const CodecLimits& limits, RequestDecoderCallbacks& callbacks)
    : impl_(new Impl(limits, callbacks)) {}

RequestDecoder::~RequestDecoder() { delete impl_; }

std::optional<CodecError> RequestDecoder::dispatch(Buffer& input) {
  return impl_->dispatch(input);
}

bool RequestDecoder::messageComplete() const { return impl_->complete(); }

void RequestDecoder::startNextMessage() { impl_->next(); }

bool RequestDecoder::upgradeRequested() const { return impl_->upgrade(); }

uint64_t RequestDecoder::bytesConsumed() const { return impl_->bytesConsumed(); }

}  // namespace skiff::http1
