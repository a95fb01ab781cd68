#include "tests/support/push_service/internal/http1_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>
#include <utility>

namespace webpush::testing::internal {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kEndOfHead = "\r\n\r\n";
// Header fields kept per request, as over HTTP/2; the framing fields are read from all of them.
constexpr size_t kMaxHeaderFields = 64;
// Consumed bytes are erased from the front of the buffer once there are this many.
constexpr size_t kCompactThreshold = 16384;

// IsTchar: RFC 9110 §5.6.2 token characters.
bool IsTchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

// IsFieldValue: VCHAR, SP, HTAB and obs-text; no other control character (RFC 9110 §5.5).
bool IsFieldValue(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// HasToken reports whether the comma-separated list `value` holds `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (Lower(TrimOws(value.substr(0, comma))) == token) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void Http1Parser::Append(std::span<const uint8_t> data) {
  buffer_.append(reinterpret_cast<const char*>(data.data()), data.size());
}

Http1Parser::Event Http1Parser::Fail(int status, std::string reason, Http1Error& error) {
  failed_ = true;
  error_.status = status;
  error_.reason = std::move(reason);
  error = error_;
  return Event::kError;
}

Http1Parser::Event Http1Parser::Next(Http1Request& request, Http1Error& error) {
  if (failed_) {
    error = error_;
    return Event::kError;
  }
  if (!in_body_) {
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    while (buffer_.compare(offset_, kCrlf.size(), kCrlf) == 0) {
      offset_ += kCrlf.size();
    }
    const size_t end = buffer_.find(kEndOfHead, offset_);
    const bool complete = end != std::string::npos;
    const size_t head_size = (complete ? end + kEndOfHead.size() : buffer_.size()) - offset_;
    if (head_size > kMaxHttp1HeaderBytes) {
      return Fail(431, "http1: request line and header fields larger than 8192 bytes", error);
    }
    if (!complete) {
      return Event::kNeedMore;
    }
    current_ = Http1Request();
    if (!ParseHead(std::string_view(buffer_).substr(offset_, end - offset_))) {
      failed_ = true;
      error = error_;
      return Event::kError;
    }
    offset_ = end + kEndOfHead.size();
    in_body_ = true;
    continue_reported_ = false;
  }
  const size_t take = std::min(buffer_.size() - offset_, body_remaining_);
  std::vector<uint8_t>& body = current_.request.body;
  const size_t keep =
      current_.request.body_too_large
          ? 0
          : std::min(take, kMaxRequestBody - std::min(kMaxRequestBody, body.size()));
  body.insert(body.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_),
              buffer_.begin() + static_cast<std::ptrdiff_t>(offset_ + keep));
  if (keep < take) {
    current_.request.body_too_large = true;
  }
  offset_ += take;
  body_remaining_ -= take;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ >= kCompactThreshold) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  if (body_remaining_ > 0) {
    // RFC 9110 §10.1.1: no 100 once some of the body has arrived.
    if (expect_continue_ && !continue_reported_ && body.empty() &&
        !current_.request.body_too_large) {
      continue_reported_ = true;
      return Event::kContinue;
    }
    return Event::kNeedMore;
  }
  in_body_ = false;
  request = std::move(current_);
  current_ = Http1Request();
  return Event::kRequest;
}

bool Http1Parser::ParseHead(std::string_view head) {
  auto fail = [this](int status, std::string reason) {
    error_.status = status;
    error_.reason = std::move(reason);
    return false;
  };
  const size_t line_end = head.find(kCrlf);
  const std::string_view request_line = head.substr(0, line_end);
  std::string_view fields =
      line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);

  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "http1: bad request line");
  }
  const std::string_view method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(method)) {
    return fail(400, "http1: bad method");
  }
  if (!target.starts_with('/') || !IsFieldValue(target) ||
      target.find_first_of(" \t") != std::string_view::npos) {
    return fail(400, "http1: request target not in origin-form");
  }
  const bool is_http10 = version == "HTTP/1.0";
  if (version != "HTTP/1.1" && !is_http10) {
    const bool well_formed = version.size() == 8 && version.starts_with("HTTP/") &&
                             std::isdigit(static_cast<unsigned char>(version[5])) != 0 &&
                             version[6] == '.' &&
                             std::isdigit(static_cast<unsigned char>(version[7])) != 0;
    return well_formed ? fail(505, "http1: version not HTTP/1.1 or HTTP/1.0")
                       : fail(400, "http1: bad HTTP version");
  }
  PushRequest& request = current_.request;
  request.method = std::string(method);
  request.path = std::string(target);

  bool keep_alive = !is_http10;
  int hosts = 0;
  bool has_length = false;
  size_t length = 0;
  expect_continue_ = false;
  while (!fields.empty()) {
    const size_t end = fields.find(kCrlf);
    const std::string_view line = fields.substr(0, end);
    fields = end == std::string_view::npos ? std::string_view() : fields.substr(end + 2);
    if (line.starts_with(' ') || line.starts_with('\t')) {
      return fail(400, "http1: obsolete line folding");
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return fail(400, "http1: bad header field");
    }
    const std::string name = Lower(line.substr(0, colon));
    const std::string_view value = TrimOws(line.substr(colon + 1));
    if (!IsFieldValue(value)) {
      return fail(400, "http1: control character in " + name);
    }
    if (name == "content-length") {
      size_t n = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ptr != value.data() + value.size() ||
          (ec != std::errc() && ec != std::errc::result_out_of_range)) {
        return fail(400, "http1: content-length not 1*DIGIT");
      }
      if (ec == std::errc::result_out_of_range) {
        n = kMaxHttp1Body + 1;
      }
      if (has_length && n != length) {
        return fail(400, "http1: conflicting content-length");
      }
      has_length = true;
      length = n;
    } else if (name == "transfer-encoding") {
      // RFC 9112 §6.1 requires chunked support of a server; this test service asks for a length
      // instead (senders of Web Push know their body size).
      return fail(411, "http1: transfer-encoding not supported, send content-length");
    } else if (name == "connection") {
      if (HasToken(value, "close")) {
        keep_alive = false;
      } else if (HasToken(value, "keep-alive")) {
        keep_alive = true;
      }
    } else if (name == "host") {
      ++hosts;
    } else if (name == "expect") {
      expect_continue_ = Lower(value) == "100-continue";
    }
    if (request.headers.size() < kMaxHeaderFields) {
      request.headers.emplace_back(name, std::string(value));
    }
  }
  // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request.
  if (!is_http10 && hosts != 1) {
    return fail(400, hosts == 0 ? "http1: host missing" : "http1: more than one host");
  }
  if (length > kMaxHttp1Body) {
    return fail(413, "http1: content-length above 65536");
  }
  current_.keep_alive = keep_alive;
  body_remaining_ = length;
  return true;
}

}  // namespace webpush::testing::internal
