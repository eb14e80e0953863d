// The filter chain's contract (http/filter.h) on FilterManager alone: order both ways, stop
// and continue with held events, watermarks on held bodies, local replies. Filters continue
// from simulated timers, so "later" is a time the test chooses, not a sleep.

#include "http/filter_manager.h"

#include <memory>
#include <string>
#include <vector>

#include "event/dispatcher.h"
#include "event/simulated_time_system.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace skiff::http {
namespace {

using std::chrono::milliseconds;

// Everything every filter saw, in order, as "name:event".
using Journal = std::vector<std::string>;

// A filter that records what it sees and, when told, holds an event and continues after a
// delay on a simulated timer.
class TestFilter : public StreamFilter {
 public:
  struct Plan {
    bool stop_on_headers = false;
    bool stop_on_data = false;  // on the first body piece
    bool stop_on_trailers = false;
    bool stop_on_response_headers = false;
    milliseconds continue_after{0};  // from the stop; 0: the test continues it by hand
    bool local_reply_on_headers = false;
  };

  TestFilter(std::string name, Journal& journal, event::Dispatcher& dispatcher, Plan plan)
      : name_(std::move(name)), journal_(journal), dispatcher_(dispatcher), plan_(plan) {}

  void setDecoderFilterCallbacks(DecoderFilterCallbacks& callbacks) override {
    decoder_ = &callbacks;
  }
  void setEncoderFilterCallbacks(EncoderFilterCallbacks& callbacks) override {
    encoder_ = &callbacks;
  }

  FilterStatus decodeHeaders(RequestHead& head, bool end_stream) override {
    note(end_stream ? "headers+end" : "headers");
    head.headers.add("x-seen-by", name_);
    if (plan_.local_reply_on_headers) {
      decoder_->sendLocalReply(403, "RBAC", "no");
      return FilterStatus::kStop;
    }
    return maybeStop(plan_.stop_on_headers, /*decoding=*/true);
  }
  FilterStatus decodeData(Buffer& data, bool end_stream) override {
    note("data(" + std::to_string(data.length()) + (end_stream ? ",end)" : ")"));
    bool first = !seen_data_;
    seen_data_ = true;
    return maybeStop(plan_.stop_on_data && first, true);
  }
  FilterStatus decodeTrailers(HeaderMap&) override {
    note("trailers");
    return maybeStop(plan_.stop_on_trailers, true);
  }
  FilterStatus encodeHeaders(ResponseHead& head, bool end_stream) override {
    note(absl::StrCat("response ", head.status, end_stream ? "+end" : ""));
    return maybeStop(plan_.stop_on_response_headers, /*decoding=*/false);
  }
  FilterStatus encodeData(Buffer& data, bool end_stream) override {
    note("response data(" + std::to_string(data.length()) + (end_stream ? ",end)" : ")"));
    return FilterStatus::kContinue;
  }
  void onDownstreamWriteBlocked(bool blocked) override {
    note(blocked ? "write blocked" : "write unblocked");
  }
  void onDestroy() override {
    note("destroy");
    timer_.reset();
  }

  DecoderFilterCallbacks& decoder() { return *decoder_; }
  EncoderFilterCallbacks& encoder() { return *encoder_; }

 private:
  void note(const std::string& event) { journal_.push_back(name_ + ":" + event); }
  FilterStatus maybeStop(bool stop, bool decoding) {
    if (!stop) return FilterStatus::kContinue;
    if (plan_.continue_after.count() > 0) {
      timer_ = dispatcher_.createTimer([this, decoding] {
        note("continue");
        if (decoding) {
          decoder_->continueDecoding();
        } else {
          encoder_->continueEncoding();
        }
      });
      timer_->enable(plan_.continue_after);
    }
    return FilterStatus::kStop;
  }

  std::string name_;
  Journal& journal_;
  event::Dispatcher& dispatcher_;
  Plan plan_;
  bool seen_data_ = false;
  DecoderFilterCallbacks* decoder_ = nullptr;
  EncoderFilterCallbacks* encoder_ = nullptr;
  std::unique_ptr<event::Timer> timer_;
};

// The stream around the chain, recording what leaves it. Its local reply does what
// ActiveStream does: stop decoding, then send a response through the encoder filters.
class FakeStream : public FilterManagerCallbacks {
 public:
  explicit FakeStream(Journal& journal) : journal_(journal) {}
  FilterManager* manager = nullptr;
  std::vector<bool> read_disables;
  size_t body_downstream = 0;

  void encodeHeadersDownstream(ResponseHead& head, bool end_stream) override {
    journal_.push_back(absl::StrCat("client:response ", head.status, end_stream ? "+end" : ""));
  }
  void encodeDataDownstream(Buffer& data, bool end_stream) override {
    body_downstream += data.length();
    journal_.push_back(absl::StrCat("client:data(", data.length(), end_stream ? ",end)" : ")"));
    data.clear();
  }
  void encodeTrailersDownstream(HeaderMap&) override { journal_.push_back("client:trailers"); }
  void readDisableDownstream(bool disable) override { read_disables.push_back(disable); }
  StreamInfo& streamInfo() override { return info_; }
  server::WorkerContext& worker() override { std::abort(); }
  const net::Connection& connection() override { std::abort(); }
  const router::RouteEntry* route() override { return nullptr; }
  void sendLocalReply(int status, absl::string_view flag, absl::string_view) override {
    info_.addResponseFlag(flag);
    manager->beginLocalReply();
    ResponseHead head;
    head.status = status;
    manager->encodeHeaders(std::move(head), true);
  }

 private:
  Journal& journal_;
  StreamInfo info_;
};

class FilterManagerTest : public ::testing::Test {
 protected:
  FilterManagerTest() : dispatcher_("test", time_), stream_(journal_), manager_(stream_) {
    stream_.manager = &manager_;
  }

  // Filters named a, b, c, ... in chain order.
  void build(std::vector<TestFilter::Plan> plans) {
    FilterChainFactory factory;
    for (size_t i = 0; i < plans.size(); ++i) {
      std::string name(1, static_cast<char>('a' + i));
      factory.add(name, [this, name, plan = plans[i]](FilterChainBuilder& chain) {
        auto filter = std::make_unique<TestFilter>(name, journal_, dispatcher_, plan);
        filters_.push_back(filter.get());
        chain.addFilter(std::move(filter));
      });
    }
    manager_.createFilters(factory);
  }

  void sendRequestHead(bool end_stream) {
    head_.method = "POST";
    head_.path = "/";
    manager_.decodeHeaders(head_, end_stream);
  }
  void sendBody(size_t bytes, bool end_stream) {
    Buffer data;
    data.add(std::string(bytes, 'x'));
    manager_.decodeData(data, end_stream);
  }
  Journal take() {
    Journal out;
    out.swap(journal_);
    return out;
  }

  event::SimulatedTimeSystem time_;
  event::Dispatcher dispatcher_;
  Journal journal_;
  FakeStream stream_;
  std::vector<TestFilter*> filters_;
  RequestHead head_;
  HeaderMap trailers_;
  FilterManager manager_;  // last: destroyed first, while its filters' journal is alive
};

TEST_F(FilterManagerTest, RequestGoesInChainOrderResponseInReverse) {
  build({{}, {}, {}});
  sendRequestHead(false);
  sendBody(10, true);
  EXPECT_EQ(take(), (Journal{"a:headers", "b:headers", "c:headers", "a:data(10,end)",
                             "b:data(10,end)", "c:data(10,end)"}));
  // Each filter sees the headers as earlier filters left them.
  EXPECT_EQ(head_.headers.count("x-seen-by"), 3u);

  // The response enters at the last filter: the first filter sees it last.
  filters_[2]->decoder().encodeHeaders(ResponseHead{}, false);
  Buffer body;
  body.add("hello");
  filters_[2]->decoder().encodeData(body, true);
  EXPECT_EQ(take(), (Journal{"c:response 200", "b:response 200", "a:response 200",
                             "client:response 200", "c:response data(5,end)",
                             "b:response data(5,end)", "a:response data(5,end)",
                             "client:data(5,end)"}));
}

TEST_F(FilterManagerTest, AHoldingFilterKeepsLaterEventsUntilItContinues) {
  TestFilter::Plan hold;
  hold.stop_on_headers = true;
  hold.continue_after = milliseconds(50);
  build({{}, hold, {}});
  sendRequestHead(false);
  sendBody(100, false);
  sendBody(200, true);
  // Filters before the holder see the body as it comes; the holder and those after it do not.
  EXPECT_EQ(take(), (Journal{"a:headers", "b:headers", "a:data(100)", "a:data(200,end)"}));
  EXPECT_EQ(manager_.heldBytes(), 300u);

  time_.advanceTimeAndRun(milliseconds(49));
  EXPECT_TRUE(take().empty());
  time_.advanceTimeAndRun(milliseconds(1));
  // The held events go on in arrival order, the body as one piece with its end of stream.
  EXPECT_EQ(take(), (Journal{"b:continue", "c:headers", "c:data(300,end)"}));
  EXPECT_EQ(manager_.heldBytes(), 0u);
}

TEST_F(FilterManagerTest, ContinuingIntoAnotherHoldingFilterPassesTheRestThroughFiltersBetween) {
  TestFilter::Plan first;
  first.stop_on_headers = true;
  first.continue_after = milliseconds(10);
  TestFilter::Plan second;
  second.stop_on_headers = true;
  second.continue_after = milliseconds(20);
  build({first, {}, second, {}});
  sendRequestHead(false);
  sendBody(5, false);
  trailers_.add("grpc-status", "0");
  manager_.decodeTrailers(trailers_);
  EXPECT_EQ(take(), (Journal{"a:headers"}));

  time_.advanceTimeAndRun(milliseconds(10));
  // b sees everything a held, in order; c takes the headers and holds; b's share of the body
  // and the trailers then wait at c.
  EXPECT_EQ(take(), (Journal{"a:continue", "b:headers", "c:headers", "b:data(5)", "b:trailers"}));

  time_.advanceTimeAndRun(milliseconds(20));
  EXPECT_EQ(take(), (Journal{"c:continue", "d:headers", "d:data(5)", "d:trailers"}));
}

TEST_F(FilterManagerTest, StopOnDataHoldsThatPieceAndTheRest) {
  TestFilter::Plan hold;
  hold.stop_on_data = true;
  hold.continue_after = milliseconds(5);
  build({hold, {}});
  sendRequestHead(false);
  sendBody(7, false);
  sendBody(8, false);
  sendBody(0, true);  // an empty end of stream (HTTP/2 DATA with END_STREAM) is an event too
  EXPECT_EQ(take(), (Journal{"a:headers", "b:headers", "a:data(7)"}));
  time_.advanceTimeAndRun(milliseconds(5));
  EXPECT_EQ(take(), (Journal{"a:continue", "b:data(15,end)"}));
}

TEST_F(FilterManagerTest, HeldRequestBodyPastTheWatermarkPausesTheClient) {
  TestFilter::Plan hold;
  hold.stop_on_headers = true;
  hold.continue_after = milliseconds(100);
  build({hold, {}});
  sendRequestHead(false);
  sendBody(FilterManager::kHeldBytesHighWatermark, false);
  EXPECT_TRUE(stream_.read_disables.empty());  // at the watermark, not past it
  sendBody(1, false);
  EXPECT_EQ(stream_.read_disables, std::vector<bool>{true});
  sendBody(1, false);  // still paused: no second call
  EXPECT_EQ(stream_.read_disables, std::vector<bool>{true});
  time_.advanceTimeAndRun(milliseconds(100));
  EXPECT_EQ(stream_.read_disables, (std::vector<bool>{true, false}));
}

TEST_F(FilterManagerTest, FilterAndChainPausesCombineIntoOneSignal) {
  TestFilter::Plan hold;
  hold.stop_on_headers = true;
  build({hold, {}});
  sendRequestHead(false);
  sendBody(FilterManager::kHeldBytesHighWatermark + 1, false);  // the chain pauses the client
  filters_[1]->decoder().readDisableDownstream(true);           // and so does the router
  filters_[0]->decoder().continueDecoding();                    // the chain's reason is gone
  EXPECT_EQ(stream_.read_disables, std::vector<bool>{true});    // the router's remains
  filters_[1]->decoder().readDisableDownstream(false);
  EXPECT_EQ(stream_.read_disables, (std::vector<bool>{true, false}));
}

TEST_F(FilterManagerTest, LocalReplyEndsDecodingAndPassesEveryEncoderFilter) {
  TestFilter::Plan deny;
  deny.local_reply_on_headers = true;
  build({{}, deny, {}});
  sendRequestHead(false);
  // c never sees the request; the reply meets c, b and a on its way out.
  EXPECT_EQ(take(), (Journal{"a:headers", "b:headers", "c:response 403+end", "b:response 403+end",
                             "a:response 403+end", "client:response 403+end"}));
  EXPECT_TRUE(stream_.streamInfo().hasResponseFlag("RBAC"));
  sendBody(10, true);  // the rest of the request goes nowhere
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(manager_.heldBytes(), 0u);
  // What the response's producer still sends is not the response any more.
  filters_[2]->decoder().encodeHeaders(ResponseHead{}, true);
  EXPECT_TRUE(take().empty());
}

TEST_F(FilterManagerTest, EncoderFilterHoldsTheResponseAndItsBodyPausesTheProducer) {
  TestFilter::Plan hold;
  hold.stop_on_response_headers = true;
  build({hold, {}});
  sendRequestHead(true);
  take();
  DecoderFilterCallbacks& producer = filters_[1]->decoder();
  producer.encodeHeaders(ResponseHead{}, false);
  const size_t body_size = FilterManager::kHeldBytesHighWatermark + 1;
  Buffer body;
  body.add(std::string(body_size, 'y'));
  producer.encodeData(body, true);
  // The response stops at a (the last encoder filter); its body waits there and, past the
  // watermark, every decoder filter is told to stop producing.
  EXPECT_EQ(take(), (Journal{"b:response 200", "a:response 200",
                             absl::StrCat("b:response data(", body_size, ",end)"),
                             "a:write blocked", "b:write blocked"}));
  filters_[0]->encoder().continueEncoding();
  Journal after = take();
  EXPECT_EQ(after.front(), "a:write unblocked");
  EXPECT_EQ(after[2], "client:response 200");
  EXPECT_EQ(stream_.body_downstream, body_size);
}

TEST_F(FilterManagerTest, ClientBackpressureReachesTheProducerOnChangesOnly) {
  build({{}, {}});
  manager_.onDownstreamWriteBlocked(true);
  manager_.onDownstreamWriteBlocked(true);
  manager_.onDownstreamWriteBlocked(false);
  EXPECT_EQ(take(), (Journal{"a:write blocked", "b:write blocked", "a:write unblocked",
                             "b:write unblocked"}));
}

TEST_F(FilterManagerTest, DestroyEndsEachFilterOnceAndStopsItsTimers) {
  TestFilter::Plan hold;
  hold.stop_on_headers = true;
  hold.continue_after = milliseconds(10);
  build({hold, {}});
  sendRequestHead(true);
  take();
  manager_.destroyFilters();
  manager_.destroyFilters();
  EXPECT_EQ(take(), (Journal{"a:destroy", "b:destroy"}));  // a StreamFilter ends once
  time_.advanceTimeAndRun(milliseconds(50));
  EXPECT_TRUE(take().empty());  // the held request never moves on
}

}  // namespace
}  // namespace skiff::http
