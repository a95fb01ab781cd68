#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "tests/support/push_service/internal/request_validator.h"

// Http1Parser splits the bytes of one HTTP/1.1 connection (RFC 9112) into requests, one after
// the other, so that pipelined requests come out in order. A small strict hand parser for the
// test push service: CRLF line ends only, Content-Length bodies only, no obs-fold. Pure: no I/O.
namespace webpush::testing::internal {

// The request line and header fields together may not exceed this (431 beyond).
inline constexpr size_t kMaxHttp1HeaderBytes = 8192;
// Content-Length above this is refused (413) without reading the body. A body up to this is read;
// beyond kMaxRequestBody bytes it is dropped and `PushRequest::body_too_large` set, so that the
// request gets the same 413 (after the same earlier checks) as over HTTP/2.
inline constexpr size_t kMaxHttp1Body = size_t{64} * 1024;

// Http1Request is one complete request.
struct Http1Request {
  PushRequest request;  // method, path (the request target), lower-case header names, body
  // False after "Connection: close" (or HTTP/1.0 without "Connection: keep-alive"): answer this
  // request, then close.
  bool keep_alive = true;
};

// Http1Error is input the parser cannot frame: answer `status` (400, 411, 413, 431, 505) with
// `reason`, then close the connection; nothing after it can be read.
struct Http1Error {
  int status = 400;
  std::string reason;  // starts with the offending part, e.g. "http1: bad request line"
};

class Http1Parser {
 public:
  enum class Event {
    kNeedMore,  // no complete request buffered
    kContinue,  // a request's header carries "Expect: 100-continue" and its body has not
                // arrived: send "100 Continue" (reported once per request)
    kRequest,   // `request` is filled and its bytes consumed
    kError,     // `error` is filled; the parser stays in error
  };

  // Append buffers `data` (bytes read from the connection).
  void Append(std::span<const uint8_t> data);
  // Next parses the buffered bytes as far as one event: see Event.
  [[nodiscard]] Event Next(Http1Request& request, Http1Error& error);

 private:
  // ParseHead parses the request line and header fields in `head` (without the blank line) into
  // `current_`. Returns false with `error_` set when they are malformed.
  [[nodiscard]] bool ParseHead(std::string_view head);
  [[nodiscard]] Event Fail(int status, std::string reason, Http1Error& error);

  std::string buffer_;
  size_t offset_ = 0;  // bytes of `buffer_` already consumed
  bool in_body_ = false;
  bool continue_reported_ = false;
  bool expect_continue_ = false;
  size_t body_remaining_ = 0;
  Http1Request current_;
  Http1Error error_;
  bool failed_ = false;
};

}  // namespace webpush::testing::internal
