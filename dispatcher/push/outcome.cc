#include "dispatcher/push/outcome.h"

#include <charconv>

namespace webpush::dispatcher::push {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// JsonStringField finds `"name": "value"` in a flat JSON object; enough for the error bodies of
// the push services, which are small flat objects. Escapes are kept as written.
std::optional<std::string_view> JsonField(std::string_view body, std::string_view name) {
  std::string key(1, '"');
  key.append(name).push_back('"');
  size_t pos = body.find(key);
  if (pos == std::string_view::npos) {
    return std::nullopt;
  }
  pos = body.find_first_not_of(" \t\r\n", pos + key.size());
  if (pos == std::string_view::npos || body[pos] != ':') {
    return std::nullopt;
  }
  pos = body.find_first_not_of(" \t\r\n", pos + 1);
  if (pos == std::string_view::npos) {
    return std::nullopt;
  }
  if (body[pos] == '"') {
    size_t end = pos + 1;
    while (end < body.size() && body[end] != '"') {
      end += body[end] == '\\' ? 2 : 1;
    }
    return body.substr(pos + 1, std::min(end, body.size()) - pos - 1);
  }
  const size_t end = body.find_first_of(",}", pos);
  return Trim(body.substr(pos, end == std::string_view::npos ? body.size() - pos : end - pos));
}

std::string Printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, kMaxReasonSize)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  }
  return out;
}

std::string ReasonFromBody(std::string_view body) {
  body = Trim(body);
  if (body.empty()) {
    return "";
  }
  if (body.front() == '{') {
    if (auto reason = JsonField(body, "reason")) {  // Apple
      return Printable(*reason);
    }
    auto err = JsonField(body, "errno");  // Mozilla autopush
    auto message = JsonField(body, "message");
    if (err || message) {
      std::string out;
      if (err) {
        out = "errno " + std::string(*err);
      }
      if (message) {
        out += (out.empty() ? "" : ": ") + std::string(*message);
      }
      return Printable(out);
    }
  }
  return Printable(body);
}

bool IsWnsHost(std::string_view host) { return host.ends_with(".notify.windows.com"); }

}  // namespace

std::string_view PushResultName(PushResult result) {
  switch (result) {
    case PushResult::kDelivered:
      return "delivered";
    case PushResult::kGone:
      return "gone";
    case PushResult::kTooLarge:
      return "too_large";
    case PushResult::kRejected:
      return "rejected";
    case PushResult::kRetry:
      return "retry";
  }
  return "unknown";
}

std::string_view TransportFailureName(TransportFailure failure) {
  switch (failure) {
    case TransportFailure::kConnect:
      return "connect";
    case TransportFailure::kRefused:
      return "refused";
    case TransportFailure::kConnectionLost:
      return "connection_lost";
    case TransportFailure::kTimeout:
      return "timeout";
    case TransportFailure::kProtocol:
      return "protocol";
  }
  return "unknown";
}

Classification ClassifyResponse(int status, std::string_view host, std::string_view retry_after,
                                std::string_view body, absl::Time now) {
  Classification c;
  if (status >= 200 && status < 300) {
    c.result = PushResult::kDelivered;  // the hot path: nothing to parse
    return c;
  }
  c.reason = ReasonFromBody(body);
  const bool throttled = status == 429 || (status == 406 && IsWnsHost(host));
  if (status == 404 || status == 410) {
    c.result = PushResult::kGone;
  } else if (status == 413) {
    c.result = PushResult::kTooLarge;
  } else if (throttled || status >= 500 || status == 408) {
    c.result = PushResult::kRetry;
    c.origin_throttled = throttled;
    c.retry_after = ParseRetryAfter(retry_after, now);
  } else {
    // 400, 401, 403 and the rest of 4xx (and 1xx/3xx, which a push service never sends for a
    // POST): permanent for this message, do not retry unchanged.
    c.result = PushResult::kRejected;
  }
  if (c.reason.empty()) {
    c.reason = "HTTP " + std::to_string(status);
  }
  return c;
}

std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now) {
  value = Trim(value);
  if (value.empty()) {
    return std::nullopt;
  }
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    uint64_t seconds = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) {
      return absl::Hours(24 * 365);  // absurdly large: the pool caps it anyway
    }
    if (ec != std::errc() || ptr != value.data() + value.size()) {
      return std::nullopt;
    }
    return absl::Seconds(static_cast<int64_t>(std::min<uint64_t>(seconds, 365ULL * 24 * 3600)));
  }
  // RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms.
  static constexpr const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT",
                                             "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"};
  const std::string text(value);
  for (const char* format : kFormats) {
    absl::Time when;
    std::string error;
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), &when, &error)) {
      return when > now ? when - now : absl::ZeroDuration();
    }
  }
  return std::nullopt;
}

}  // namespace webpush::dispatcher::push
