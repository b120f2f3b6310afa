// http_framing_test.cpp - the admin API's request framing: normalized output for
// cpp-httplib, every limit refused as soon as the bytes read prove it exceeded, and the
// same answer however the input is split.
#include "admin/http_framing.hpp"

#include <gtest/gtest.h>

#include <string>

namespace secmx::admin {
namespace {

using namespace std::string_literals;

FrameResult frame(const std::string& in) { return frame_request(in); }

void expect_refused(const std::string& in, int status, const std::string& code) {
  auto r = frame(in);
  ASSERT_EQ(r.state, FrameState::Error) << in.substr(0, 200);
  EXPECT_EQ(r.error.status, status) << r.error.text;
  EXPECT_EQ(r.error.code, code);
}

std::string chunked(const std::string& head_path, const std::string& body, std::size_t chunk) {
  std::string out = "POST " + head_path + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t i = 0; i < body.size(); i += chunk) {
    auto piece = body.substr(i, chunk);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    out += size + piece + "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(HttpFraming, GetIsPassedOnWithAZeroLength) {
  auto r = frame("GET /api/v1/queue?limit=5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\nGET /next");
  ASSERT_EQ(r.state, FrameState::Done);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/api/v1/queue?limit=5");
  EXPECT_EQ(r.request,
            "GET /api/v1/queue?limit=5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(r.consumed, r.request.size() - "Content-Length: 0\r\n"s.size());  // the next request stays
}

TEST(HttpFraming, ContentLengthBodyIsCopiedAndTheNextRequestLeftAlone) {
  std::string first = "POST /api/v1/policy/test HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}  ";
  auto r = frame(first + "GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.state, FrameState::Done);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(r.request, "POST /api/v1/policy/test HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}  ");
  EXPECT_EQ(frame(first.substr(0, first.size() - 1)).state, FrameState::NeedMore);
}

TEST(HttpFraming, ChunkedBodyIsDecodedAndReframedWithALength) {
  std::string body = "{\"sender\": \"a@b.example\", \"recipient\": \"r@d.example\"}";
  auto in = chunked("/api/v1/policy/test", body, 7);
  auto r = frame(in + "trailing");
  ASSERT_EQ(r.state, FrameState::Done);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(r.body_size, body.size());
  EXPECT_EQ(r.request, "POST /api/v1/policy/test HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body);
  // Extensions and trailers are accepted and dropped.
  auto ext = frame("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
  ASSERT_EQ(ext.state, FrameState::Done);
  EXPECT_EQ(ext.request, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
}

TEST(HttpFraming, EverySplitOfARequestAnswersTheSame) {
  std::string in = chunked("/x", std::string(300, 'a'), 64);
  for (std::size_t n = 0; n < in.size(); ++n) {
    auto r = frame(in.substr(0, n));
    ASSERT_EQ(r.state, FrameState::NeedMore) << "prefix " << n;
  }
  EXPECT_EQ(frame(in).state, FrameState::Done);
}

TEST(HttpFraming, ChunkedBodyOverTheLimitIsRefusedAtTheChunkThatCrossesIt) {
  HttpLimits lim;
  // One chunk header announcing more than the limit: refused before any data arrived.
  expect_refused("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413, "payload_too_large");
  expect_refused("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n", 413,
                 "payload_too_large");
  // Many chunks within it one by one, over it together.
  std::string in = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t sent = 0; sent <= lim.max_body; sent += 0x4000) in += "4000\r\n" + std::string(0x4000, 'a') + "\r\n";
  expect_refused(in, 413, "payload_too_large");
}

TEST(HttpFraming, ChunkFramingOverheadIsBounded) {
  // 1-byte chunks: 6 bytes of wire per body byte; the wire limit comes first.
  std::string in = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  while (in.size() < 300 * 1024) in += "1\r\na\r\n";
  expect_refused(in, 413, "payload_too_large");
  expect_refused("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1" + std::string(2000, '0'), 400,
                 "bad_request");
}

TEST(HttpFraming, ContentLengthOverTheLimitIsRefusedBeforeTheBody) {
  expect_refused("POST /x HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413, "payload_too_large");
  expect_refused("POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413,
                 "payload_too_large");
  EXPECT_EQ(frame("POST /x HTTP/1.1\r\nContent-Length: 65536\r\n\r\n").state, FrameState::NeedMore);
}

TEST(HttpFraming, LongRequestLineIs414EvenBeforeItEnds) {
  expect_refused("GET /" + std::string(5000, 'a'), 414, "uri_too_long");
  expect_refused("GET /" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n", 414, "uri_too_long");
  EXPECT_EQ(frame("GET /" + std::string(4000, 'a')).state, FrameState::NeedMore);
}

TEST(HttpFraming, TooManyOrTooLongHeadersAre431) {
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  expect_refused(many, 431, "header_too_large");
  expect_refused("GET / HTTP/1.1\r\nX-Long: " + std::string(9000, 'v'), 431, "header_too_large");
  std::string big = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 3; ++i) big += "X-H" + std::to_string(i) + ": " + std::string(6000, 'v') + "\r\n";
  expect_refused(big, 431, "header_too_large");
}

TEST(HttpFraming, MalformedOrAmbiguousFramingIsRefused) {
  expect_refused("POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_request");
  expect_refused("POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "bad_request");
  expect_refused("POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request");
  expect_refused("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not_implemented");
  expect_refused("POST /x HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n\r\n", 415,
                 "unsupported_media_type");
  expect_refused("POST /x HTTP/1.1\r\nExpect: magic\r\n\r\n", 417, "expectation_failed");
  expect_refused("GET / HTTP/1.1\nHost: x\n\n", 400, "bad_request");
  expect_refused("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "bad_request");
  expect_refused("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s, 400, "bad_request");
  expect_refused("GET /a\xff HTTP/1.1\r\n\r\n", 400, "bad_request");
  expect_refused("GET http://x/ HTTP/1.1\r\n\r\n", 400, "bad_request");
  expect_refused("GET / HTTP/2.0\r\n\r\n", 400, "bad_request");
  expect_refused("PROPFIND / HTTP/1.1\r\n\r\n", 501, "not_implemented");
  expect_refused("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400, "bad_request");
}

TEST(HttpFraming, ExpectContinueIsReportedOnceTheHeadIsIn) {
  std::string head = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  EXPECT_FALSE(frame(head.substr(0, 20)).expect_continue);
  auto r = frame(head);
  EXPECT_EQ(r.state, FrameState::NeedMore);
  EXPECT_TRUE(r.expect_continue);
  auto done = frame(head + "{}");
  ASSERT_EQ(done.state, FrameState::Done);
  EXPECT_EQ(done.request, "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");  // no second 100
}

}  // namespace
}  // namespace secmx::admin
