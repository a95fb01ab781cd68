#include "crypto/vapid.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <vector>

#include "crypto/base64url.h"
#include "crypto/internal/openssl_ptr.h"
#include "crypto/internal/strings.h"

namespace webpush::crypto {
namespace {

// The JOSE header is fixed for VAPID: {"typ":"JWT","alg":"ES256"}.
constexpr std::string_view kJoseHeader = R"({"typ":"JWT","alg":"ES256"})";
constexpr size_t kSignatureSize = 64;

struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(internal::StrCat(field, ": ", what));
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// JsonString quotes `s` for JSON; `aud` and `sub` are validated, but escaping keeps any odd
// character in a `mailto:` address from breaking the claims.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[(c >> 4) & 0xf]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
}

// SignEs256 returns the raw R || S signature (RFC 7518 §3.4) of SHA-256(`input`).
absl::StatusOr<std::array<uint8_t, kSignatureSize>> SignEs256(const P256KeyPair& key,
                                                              std::string_view input) {
  absl::StatusOr<internal::EvpPkeyPtr> pkey =
      internal::MakeP256Pkey(key.private_key(), key.public_key());
  if (!pkey.ok()) {
    return pkey.status();
  }
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t der_len = 0;
  std::array<uint8_t, 80> der{};  // a P-256 DER signature is at most 72 bytes
  der_len = der.size();
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey->get(), nullptr) !=
          1 ||
      EVP_DigestSign(ctx.get(), der.data(), &der_len, Bytes(input).data(), input.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("ES256 signing failed");
  }
  const unsigned char* p = der.data();
  const auto der_size = static_cast<long>(der_len);  // NOLINT(google-runtime-int): OpenSSL's type
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, der_size));
  std::array<uint8_t, kSignatureSize> raw{};
  // Fixed-width halves: dropping a leading zero byte gives 63-byte signatures about once in 128
  // tokens, an intermittent 403 (webpush-protocol.md §5.3).
  if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32) {
    ERR_clear_error();
    return absl::InternalError("ES256 signature conversion failed");
  }
  return raw;
}

bool VerifyEs256(std::span<const uint8_t, 65> public_key, std::string_view input,
                 std::span<const uint8_t> raw) {
  absl::StatusOr<internal::EvpPkeyPtr> pkey = internal::MakeP256Pkey({}, public_key);
  if (!pkey.ok() || raw.size() != kSignatureSize) {
    return false;
  }
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ERR_clear_error();
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = der_len > 0 && ctx &&
                  EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr,
                                          pkey->get(), nullptr) == 1 &&
                  EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len),
                                   Bytes(input).data(), input.size()) == 1;
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

}  // namespace

absl::StatusOr<std::string> AudienceFromEndpoint(std::string_view endpoint,
                                                 std::string_view field) {
  constexpr std::string_view kScheme = "https://";
  if (endpoint.size() < kScheme.size() || !internal::StartsWithIgnoreCase(endpoint, kScheme)) {
    return Invalid(field, "must be an https:// URL");
  }
  std::string_view rest = endpoint.substr(kScheme.size());
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return Invalid(field, "must not contain user information");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {  // IPv6 literal
    const size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return Invalid(field, "unterminated IPv6 address");
    }
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port.front() != ':') {
      return Invalid(field, "malformed host");
    }
    port = port.empty() ? port : port.substr(1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) {
    return Invalid(field, "has no host");
  }
  if (host.front() != '[' && !std::all_of(host.begin(), host.end(), IsHostChar)) {
    return Invalid(field, "host contains characters not allowed in a host name");
  }
  std::string origin = "https://";
  for (const char c : host) {
    origin.push_back(internal::AsciiLower(c));
  }
  if (!port.empty()) {
    uint32_t number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) {
      return Invalid(field, "port must be a number from 1 to 65535");
    }
    if (number != 443) {
      internal::StrAppend(origin, ":", number);
    }
  }
  return origin;
}

absl::Status ValidateSubject(std::string_view subject, std::string_view field) {
  for (const char c : subject) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Invalid(field, "must not contain spaces or control characters");
    }
  }
  if (internal::StartsWithIgnoreCase(subject, "mailto:")) {
    const std::string_view address = subject.substr(7);
    const size_t at = address.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= address.size()) {
      return Invalid(field, "mailto: subject needs an address like mailto:ops@example.com");
    }
    return absl::OkStatus();
  }
  if (internal::StartsWithIgnoreCase(subject, "https://")) {
    if (subject.size() == 8 || subject[8] == '/') {
      return Invalid(field, "https: subject needs a host");
    }
    return absl::OkStatus();
  }
  return Invalid(field, "must be a mailto: or https: URL (RFC 8292 §2.1; Apple rejects others)");
}

absl::StatusOr<std::string> SignVapidToken(const P256KeyPair& key, const VapidClaims& claims,
                                           absl::Time now) {
  absl::StatusOr<std::string> origin = AudienceFromEndpoint(claims.audience, "aud");
  if (!origin.ok()) {
    return origin.status();
  }
  if (*origin != claims.audience) {
    return Invalid("aud", internal::StrCat("must be an origin such as ", *origin,
                                           " (no path, lower-case host, no default port)"));
  }
  if (absl::Status s = ValidateSubject(claims.subject, "sub"); !s.ok()) {
    return s;
  }
  const int64_t exp = absl::ToUnixSeconds(claims.expiry);
  if (exp <= absl::ToUnixSeconds(now)) {
    return Invalid("exp", "is not in the future");
  }
  if (claims.expiry - now > kMaxVapidTokenLifetime) {
    return Invalid("exp", "must be at most 24 hours ahead (RFC 8292 §2)");
  }
  // `exp` is a JSON number: autopush rejects a string.
  const std::string payload =
      internal::StrCat(R"({"aud":)", JsonString(claims.audience), R"(,"exp":)", exp, R"(,"sub":)",
                       JsonString(claims.subject), "}");
  std::string jwt =
      internal::StrCat(Base64UrlEncode(Bytes(kJoseHeader)), ".", Base64UrlEncode(Bytes(payload)));
  absl::StatusOr<std::array<uint8_t, kSignatureSize>> sig = SignEs256(key, jwt);
  if (!sig.ok()) {
    return sig.status();
  }
  internal::StrAppend(jwt, ".", Base64UrlEncode(*sig));
  return jwt;
}

std::string VapidAuthorizationValue(std::string_view jwt, const P256PublicKey& public_key) {
  return internal::StrCat("vapid t=", jwt, ", k=", Base64UrlEncode(public_key));
}

absl::StatusOr<std::string> VerifyVapidToken(std::string_view jwt,
                                             std::span<const uint8_t> public_key) {
  if (absl::Status s = ValidateP256PublicKey(public_key, "k"); !s.ok()) {
    return s;
  }
  const size_t dot1 = jwt.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return Invalid("t", "a JWT has three dot-separated parts");
  }
  const std::array<std::string_view, 3> parts = {
      jwt.substr(0, dot1), jwt.substr(dot1 + 1, dot2 - dot1 - 1), jwt.substr(dot2 + 1)};
  absl::StatusOr<std::vector<uint8_t>> header = Base64UrlDecode(parts[0], "t.header");
  absl::StatusOr<std::vector<uint8_t>> claims = Base64UrlDecode(parts[1], "t.claims");
  absl::StatusOr<std::vector<uint8_t>> sig = Base64UrlDecode(parts[2], "t.signature");
  for (const auto* part : {&header, &claims, &sig}) {
    if (!part->ok()) {
      return part->status();
    }
  }
  const std::string header_json(header->begin(), header->end());
  if (header_json.find(R"("alg":"ES256")") == std::string::npos) {
    return Invalid("t.header", "alg must be ES256");
  }
  if (sig->size() != kSignatureSize) {
    return Invalid("t.signature",
                   internal::StrCat("must be 64 bytes (raw R || S), got ", sig->size()));
  }
  const std::string_view signing_input = jwt.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!VerifyEs256(std::span<const uint8_t, 65>(public_key.data(), 65), signing_input, *sig)) {
    return absl::UnauthenticatedError("t.signature: does not verify with k");
  }
  return std::string(claims->begin(), claims->end());
}

VapidTokenCache::VapidTokenCache(Options options, NowFunction now)
    : options_(options), now_(std::move(now)) {
  options_.lifetime = std::min(options_.lifetime, kMaxVapidTokenLifetime);
  options_.refresh_margin = std::min(options_.refresh_margin, options_.lifetime / 2);
  options_.max_entries = std::max<size_t>(options_.max_entries, 1);
}

absl::StatusOr<std::string> VapidTokenCache::Authorization(std::string_view key_id,
                                                           const P256KeyPair& key,
                                                           std::string_view audience,
                                                           std::string_view subject) {
  // The public key is part of the cache key, so a key id that is re-pointed at a new key (a
  // rotation) never serves a token signed by the old one. Key ids, origins and subjects contain
  // no NUL, so the joined key is unambiguous.
  const std::string cache_key =
      internal::StrCat(key_id, std::string_view("\0", 1), audience, std::string_view("\0", 1),
                       subject, std::string_view("\0", 1),
                       std::string_view(reinterpret_cast<const char*>(key.public_key().data()),
                                        key.public_key().size()));
  const absl::Time now = now_();
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = entries_.find(cache_key);
        it != entries_.end() && it->second.expiry - now > options_.refresh_margin) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second.header;
    }
  }
  absl::MutexLock lock(&mu_);
  // Another thread may have signed while this one waited for the exclusive lock.
  if (auto it = entries_.find(cache_key);
      it != entries_.end() && it->second.expiry - now > options_.refresh_margin) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second.header;
  }
  // Whole seconds, because `exp` is serialised in seconds.
  const absl::Time expiry = absl::FromUnixSeconds(absl::ToUnixSeconds(now + options_.lifetime));
  absl::StatusOr<std::string> jwt =
      SignVapidToken(key, VapidClaims{std::string(audience), expiry, std::string(subject)}, now);
  if (!jwt.ok()) {
    return jwt.status();
  }
  signs_.fetch_add(1, std::memory_order_relaxed);
  if (entries_.size() >= options_.max_entries && !entries_.contains(cache_key)) {
    absl::erase_if(entries_, [now](const auto& kv) { return kv.second.expiry <= now; });
    if (entries_.size() >= options_.max_entries) {
      entries_.clear();
    }
  }
  Entry& entry = entries_[cache_key];
  entry.header = VapidAuthorizationValue(*jwt, key.public_key());
  entry.expiry = expiry;
  return entry.header;
}

VapidTokenCache::Stats VapidTokenCache::stats() const {
  return Stats{hits_.load(std::memory_order_relaxed), signs_.load(std::memory_order_relaxed)};
}

}  // namespace webpush::crypto
