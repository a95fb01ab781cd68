#include "tests/support/push_service/internal/request_validator.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "absl/status/statusor.h"
#include "crypto/base64url.h"
#include "crypto/ece.h"
#include "crypto/vapid.h"

namespace webpush::testing::internal {
namespace {

constexpr size_t kMaxTopicLength = 32;  // RFC 8030 §5.4

Rejection Reject(int status, int error_number, std::string reason) {
  Rejection r;
  r.status = status;
  r.error_number = error_number;
  r.reason = std::move(reason);
  return r;
}

std::string Message(std::string_view field, std::string_view what) {
  std::string out(field);
  out.append(": ");
  out.append(what);
  return out;
}

std::string ToString(absl::string_view s) { return std::string(s.data(), s.size()); }

bool IsAsciiDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsBase64UrlChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// JsonValue is a top-level member of the claims object: a string (unescaped) or the raw text of
// any other value.
struct JsonValue {
  bool is_string = false;
  std::string text;
};

// JsonReader reads the flat JWT claims object. Nested objects and arrays are skipped whole; VAPID
// claims are strings and numbers.
class JsonReader {
 public:
  explicit JsonReader(std::string_view in) : in_(in) {}

  std::optional<std::map<std::string, JsonValue>> ReadObject() {
    std::map<std::string, JsonValue> out;
    SkipSpace();
    if (!Consume('{')) {
      return std::nullopt;
    }
    SkipSpace();
    if (Consume('}')) {
      return AtEnd() ? std::optional(out) : std::nullopt;
    }
    while (true) {
      SkipSpace();
      std::optional<std::string> key = ReadString();
      SkipSpace();
      if (!key || !Consume(':')) {
        return std::nullopt;
      }
      SkipSpace();
      std::optional<JsonValue> value = ReadValue();
      if (!value) {
        return std::nullopt;
      }
      out[*key] = std::move(*value);
      SkipSpace();
      if (Consume('}')) {
        return AtEnd() ? std::optional(out) : std::nullopt;
      }
      if (!Consume(',')) {
        return std::nullopt;
      }
    }
  }

 private:
  bool AtEnd() {
    SkipSpace();
    return pos_ == in_.size();
  }
  void SkipSpace() {
    while (pos_ < in_.size() && std::isspace(static_cast<unsigned char>(in_[pos_])) != 0) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::optional<std::string> ReadString() {
    if (!Consume('"')) {
      return std::nullopt;
    }
    std::string out;
    while (pos_ < in_.size()) {
      const char c = in_[pos_++];
      if (c == '"') {
        return out;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) {
        return std::nullopt;
      }
      const char e = in_[pos_++];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u':
          // Kept escaped: no VAPID claim we check needs non-ASCII characters.
          if (pos_ + 4 > in_.size()) {
            return std::nullopt;
          }
          out.append("\\u");
          out.append(in_.substr(pos_, 4));
          pos_ += 4;
          break;
        default:
          out.push_back(e);
      }
    }
    return std::nullopt;
  }
  std::optional<JsonValue> ReadValue() {
    JsonValue value;
    if (pos_ < in_.size() && in_[pos_] == '"') {
      std::optional<std::string> s = ReadString();
      if (!s) {
        return std::nullopt;
      }
      value.is_string = true;
      value.text = std::move(*s);
      return value;
    }
    const size_t start = pos_;
    int depth = 0;
    bool in_string = false;
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (in_string) {
        if (c == '\\') {
          ++pos_;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) {
          break;
        }
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
      ++pos_;
    }
    value.text = std::string(Trim(in_.substr(start, pos_ - start)));
    if (value.text.empty() || depth != 0) {
      return std::nullopt;
    }
    return value;
  }

  std::string_view in_;
  size_t pos_ = 0;
};

std::optional<Rejection> CheckHeaders(const PushRequest& request, Delivery& delivery) {
  int count = 0;
  std::optional<std::string> ttl = FindHeader(request, "ttl", count);
  if (count == 0) {
    return Reject(400, kErrnoTtlMissing, "ttl: missing");
  }
  if (count > 1) {
    return Reject(400, kErrnoTtlInvalid, "ttl: more than one value");
  }
  if (!IsAsciiDigits(*ttl)) {
    return Reject(400, kErrnoTtlInvalid, "ttl: not 1*DIGIT");
  }
  delivery.ttl = *ttl;

  std::optional<std::string> urgency = FindHeader(request, "urgency", count);
  if (count > 1) {
    return Reject(400, kErrnoUrgency, "urgency: more than one value");
  }
  if (urgency) {
    if (*urgency != "very-low" && *urgency != "low" && *urgency != "normal" && *urgency != "high") {
      return Reject(400, kErrnoUrgency, "urgency: not very-low, low, normal or high");
    }
    delivery.urgency = *urgency;
  }

  std::optional<std::string> topic = FindHeader(request, "topic", count);
  if (count > 1) {
    return Reject(400, kErrnoTopic, "topic: more than one value");
  }
  if (topic) {
    if (topic->empty() || topic->size() > kMaxTopicLength ||
        !std::all_of(topic->begin(), topic->end(), IsBase64UrlChar)) {
      return Reject(400, kErrnoTopic, "topic: not 1 to 32 base64url characters");
    }
    delivery.topic = *topic;
  }

  if (request.body.empty()) {
    return std::nullopt;  // RFC 8030 §5: a push message without payload needs no coding headers
  }
  std::optional<std::string> encoding = FindHeader(request, "content-encoding", count);
  if (count == 0) {
    return Reject(400, kErrnoCrypto, "content-encoding: missing with a body");
  }
  if (count > 1 || !EqualsIgnoreCase(*encoding, "aes128gcm")) {
    return Reject(400, kErrnoCrypto, "content-encoding: must be exactly aes128gcm");
  }
  std::optional<std::string> type = FindHeader(request, "content-type", count);
  if (count != 1 || type->empty()) {
    return Reject(400, kErrnoCrypto, "content-type: missing");
  }
  return std::nullopt;
}

struct VapidParams {
  std::string t;
  std::string k;
};

std::optional<VapidParams> ParseVapidAuthorization(std::string_view value) {
  value = Trim(value);
  constexpr std::string_view kScheme = "vapid";
  if (value.size() <= kScheme.size() || !EqualsIgnoreCase(value.substr(0, 5), kScheme) ||
      (value[5] != ' ' && value[5] != '\t')) {
    return std::nullopt;
  }
  VapidParams params;
  std::string_view rest = value.substr(kScheme.size());
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view name = Trim(item.substr(0, eq));
    const std::string_view param = Trim(item.substr(eq + 1));
    if (EqualsIgnoreCase(name, "t")) {
      params.t = std::string(param);
    } else if (EqualsIgnoreCase(name, "k")) {
      params.k = std::string(param);
    }
  }
  if (params.t.empty() || params.k.empty()) {
    return std::nullopt;
  }
  return params;
}

std::optional<Rejection> CheckClaims(std::string_view claims_json, const ValidationContext& context,
                                     Delivery& delivery) {
  std::optional<std::map<std::string, JsonValue>> claims = JsonReader(claims_json).ReadObject();
  if (!claims) {
    return Reject(401, kErrnoVapid, "authorization: JWT claims are not a JSON object");
  }
  auto aud = claims->find("aud");
  if (aud == claims->end() || !aud->second.is_string) {
    return Reject(401, kErrnoVapid, "authorization: aud missing");
  }
  if (aud->second.text != context.audience) {
    return Reject(401, kErrnoVapid,
                  "authorization: aud " + aud->second.text + " is not " + context.audience);
  }
  auto exp = claims->find("exp");
  int64_t exp_seconds = 0;
  if (exp == claims->end() || exp->second.is_string) {
    return Reject(401, kErrnoVapid, "authorization: exp missing or not a number");
  }
  const std::string& exp_text = exp->second.text;
  const auto [end, ec] =
      std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp_seconds);
  if (ec != std::errc() || end != exp_text.data() + exp_text.size()) {
    return Reject(401, kErrnoVapid, "authorization: exp is not an integer");
  }
  const absl::Time expiry = absl::FromUnixSeconds(exp_seconds);
  if (expiry <= context.now) {
    return Reject(401, kErrnoVapid, "authorization: token expired");
  }
  if (expiry - context.now > crypto::kMaxVapidTokenLifetime) {
    return Reject(401, kErrnoVapid, "authorization: exp more than 24 hours ahead");
  }
  auto sub = claims->find("sub");
  if (sub == claims->end() || !sub->second.is_string) {
    return Reject(401, kErrnoVapid, "authorization: sub missing");
  }
  if (absl::Status s = crypto::ValidateSubject(sub->second.text, "sub"); !s.ok()) {
    return Reject(401, kErrnoVapid, Message("authorization", ToString(s.message())));
  }
  delivery.vapid_subject = sub->second.text;
  return std::nullopt;
}

std::optional<Rejection> CheckVapid(const PushRequest& request, const ValidationContext& context,
                                    Delivery& delivery) {
  int count = 0;
  std::optional<std::string> header = FindHeader(request, "authorization", count);
  if (count == 0) {
    return Reject(401, kErrnoVapid, "authorization: missing");
  }
  std::optional<VapidParams> params = count == 1 ? ParseVapidAuthorization(*header) : std::nullopt;
  if (!params) {
    return Reject(401, kErrnoVapid, "authorization: not `vapid t=<jwt>, k=<key>`");
  }
  absl::StatusOr<crypto::P256PublicKey> key = crypto::ParseP256PublicKey(params->k, "k");
  if (!key.ok()) {
    return Reject(401, kErrnoVapid, Message("authorization", ToString(key.status().message())));
  }
  std::optional<std::string> cached;
  if (context.signature_cache != nullptr) {
    cached = context.signature_cache->Lookup(params->t, params->k);
  }
  absl::StatusOr<std::string> claims =
      cached ? absl::StatusOr<std::string>(*cached) : crypto::VerifyVapidToken(params->t, *key);
  if (!claims.ok()) {
    return Reject(401, kErrnoVapid, Message("authorization", ToString(claims.status().message())));
  }
  if (!cached && context.signature_cache != nullptr) {
    context.signature_cache->Insert(params->t, params->k, *claims);
  }
  if (std::optional<Rejection> r = CheckClaims(*claims, context, delivery)) {
    return r;
  }
  if (!context.expected_vapid_public_key.empty()) {
    absl::StatusOr<std::vector<uint8_t>> expected =
        crypto::Base64UrlDecode(context.expected_vapid_public_key, "expected_vapid_public_key");
    if (!expected.ok() ||
        !std::equal(expected->begin(), expected->end(), key->begin(), key->end())) {
      return Reject(403, kErrnoVapid, "authorization: k is not the expected VAPID public key");
    }
  }
  return std::nullopt;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// CacheKey joins token and key with a space, which neither a JWT nor base64url contains.
std::string CacheKey(std::string_view jwt, std::string_view key) {
  std::string out(jwt);
  out.push_back(' ');
  out.append(key);
  return out;
}

}  // namespace

std::optional<std::string> VapidSignatureCache::Lookup(std::string_view jwt, std::string_view key) {
  const std::string cache_key = CacheKey(jwt, key);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(cache_key);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void VapidSignatureCache::Insert(std::string_view jwt, std::string_view key, std::string claims) {
  std::string cache_key = CacheKey(jwt, key);
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= kMaxEntries) {
    entries_.clear();
  }
  entries_[std::move(cache_key)] = std::move(claims);
}

std::optional<std::string> TokenFromPath(std::string_view path) {
  constexpr std::string_view kPrefix = "/push/";
  path = path.substr(0, path.find('?'));
  if (!path.starts_with(kPrefix) || path.size() == kPrefix.size()) {
    return std::nullopt;
  }
  const std::string_view token = path.substr(kPrefix.size());
  if (!std::all_of(token.begin(), token.end(), IsBase64UrlChar)) {
    return std::nullopt;
  }
  return std::string(token);
}

std::optional<std::string> FindHeader(const PushRequest& request, std::string_view name,
                                      int& count) {
  count = 0;
  std::optional<std::string> value;
  for (const auto& [n, v] : request.headers) {
    if (n == name) {
      ++count;
      value = v;
    }
  }
  return value;
}

std::optional<Rejection> ValidatePushRequest(const PushRequest& request,
                                             const crypto::P256KeyPair& ua_key,
                                             const crypto::AuthSecret& auth,
                                             const ValidationContext& context, Delivery& delivery) {
  if (request.body_too_large) {
    return Reject(413, kErrnoTooLarge, "body: larger than 4096 bytes");
  }
  if (std::optional<Rejection> r = CheckHeaders(request, delivery)) {
    return r;
  }
  if (std::optional<Rejection> r = CheckVapid(request, context, delivery)) {
    return r;
  }
  delivery.plaintext.clear();
  if (request.body.empty()) {
    return std::nullopt;
  }
  if (!context.decrypt_body) {
    delivery.body_decrypted = false;
    return std::nullopt;
  }
  absl::StatusOr<std::vector<uint8_t>> plaintext = crypto::Decrypt(request.body, ua_key, auth);
  if (!plaintext.ok()) {
    return Reject(400, kErrnoCrypto, Message("body", ToString(plaintext.status().message())));
  }
  delivery.plaintext = std::move(*plaintext);
  return std::nullopt;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

PushResponse ErrorResponse(int status, int error_number, std::string_view message) {
  PushResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "application/json");
  response.body = "{\"code\":" + std::to_string(status) +
                  ",\"errno\":" + std::to_string(error_number) + ",\"error\":\"" +
                  std::string(ReasonPhrase(status)) + "\",\"message\":\"" + JsonEscape(message) +
                  "\"}";
  return response;
}

}  // namespace webpush::testing::internal
