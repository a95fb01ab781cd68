#include "dispatcher/push/endpoint_policy.h"

#include <arpa/inet.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace webpush::dispatcher::push {
namespace {

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(std::string(field) + ": " + std::string(what));
}

// ASCII only, on purpose: host names are compared as the allowlist spells them (no locale).
char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), LowerAscii);
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), s.begin(),
                                                 [](char p, char c) { return p == LowerAscii(c); });
}

bool ValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  size_t label_start = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      const size_t len = i - label_start;
      if (len == 0 || len > 63 || host[label_start] == '-' || host[i - 1] == '-') {
        return false;
      }
      label_start = i + 1;
      continue;
    }
    const char c = host[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

// A host whose last label is numeric (or hexadecimal) is an IP literal in some form ("127.1",
// "0x7f.0.0.1", "2130706433"): resolvers accept those, so they are refused like dotted quads.
bool LooksLikeIpLiteral(std::string_view host) {
  const size_t dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.starts_with("0x")) {
    return true;
  }
  return std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

absl::StatusOr<uint16_t> ParsePort(std::string_view text, std::string_view field) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return Invalid(field, "port must be a number from 1 to 65535");
  }
  return static_cast<uint16_t>(value);
}

bool RuleMatches(const HostRule& rule, const Endpoint& endpoint) {
  if (rule.port != endpoint.port) {
    return false;
  }
  if (!rule.suffix) {
    return endpoint.host == rule.host;
  }
  // "*.push.apple.com" matches "web.push.apple.com" but neither "push.apple.com" nor
  // "evilpush.apple.com": the suffix starts at a label boundary.
  const std::string& host = endpoint.host;
  return host.size() > rule.host.size() + 1 && host.ends_with(rule.host) &&
         host[host.size() - rule.host.size() - 1] == '.';
}

bool IsPublicV4(const std::array<uint8_t, 4>& a) {
  const uint32_t v = (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
  struct Block {
    uint32_t net;
    int bits;
  };
  static constexpr Block kBlocked[] = {
      {0x00000000, 8},   // "this network"
      {0x0A000000, 8},   // RFC 1918
      {0x64400000, 10},  // carrier-grade NAT
      {0x7F000000, 8},   // loopback
      {0xA9FE0000, 16},  // link-local (cloud metadata lives here)
      {0xAC100000, 12},  // RFC 1918
      {0xC0000000, 24},  // IETF protocol assignments
      {0xC0A80000, 16},  // RFC 1918
      {0xC6120000, 15},  // benchmarking
      {0xE0000000, 4},   // multicast
      {0xF0000000, 4},   // reserved and broadcast
  };
  return std::none_of(std::begin(kBlocked), std::end(kBlocked), [v](const Block& b) {
    const uint32_t mask = ~uint32_t{0} << (32 - b.bits);
    return (v & mask) == b.net;
  });
}

}  // namespace

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view url, std::string_view field) {
  if (!StartsWithNoCase(url, "https://")) {
    return Invalid(field, "must be an https URL");
  }
  std::string_view rest = url.substr(8);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (path.find('#') != std::string_view::npos) {
    return Invalid(field, "must not carry a fragment");
  }
  for (const char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Invalid(field, "path must not contain spaces or control characters");
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return Invalid(field, "must not contain user info");
  }
  if (authority.starts_with("[")) {
    return Invalid(field, "host must be a name, not an IP literal");
  }
  Endpoint endpoint;
  const size_t colon = authority.rfind(':');
  std::string_view host = authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    absl::StatusOr<uint16_t> port = ParsePort(authority.substr(colon + 1), field);
    if (!port.ok()) {
      return port.status();
    }
    endpoint.port = *port;
  }
  endpoint.host = Lower(host);
  if (endpoint.host.ends_with('.')) {
    endpoint.host.pop_back();
  }
  if (!ValidHostName(endpoint.host)) {
    return Invalid(field, "host is not a valid DNS name");
  }
  if (LooksLikeIpLiteral(endpoint.host)) {
    return Invalid(field, "host must be a name, not an IP literal");
  }
  endpoint.path = path.empty() ? std::string("/") : std::string(path);
  endpoint.origin = "https://" + endpoint.host;
  if (endpoint.port != 443) {
    endpoint.origin.append(":").append(std::to_string(endpoint.port));
  }
  return endpoint;
}

absl::StatusOr<HostRule> ParseHostRule(std::string_view text, std::string_view field) {
  HostRule rule;
  std::string_view host = text;
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos) {
    absl::StatusOr<uint16_t> port = ParsePort(text.substr(colon + 1), field);
    if (!port.ok()) {
      return port.status();
    }
    rule.port = *port;
    host = text.substr(0, colon);
  }
  if (host.starts_with("*.")) {
    rule.suffix = true;
    host.remove_prefix(2);
  }
  rule.host = Lower(host);
  if (rule.host.ends_with('.')) {
    rule.host.pop_back();
  }
  if (!ValidHostName(rule.host)) {
    std::string what(1, '\'');
    what.append(text).append("' is not a host name or *.suffix");
    return Invalid(field, what);
  }
  return rule;
}

std::string PushServiceName(const HostRule& rule) {
  if (rule.port == 443) {
    if (rule.host == "fcm.googleapis.com" || rule.host == "jmt17.google.com") {
      return "fcm";
    }
    if (rule.host == "updates.push.services.mozilla.com") {
      return "mozilla";
    }
    if (rule.host == "web.push.apple.com" || rule.host == "push.apple.com") {
      return "apple";
    }
    if (rule.host == "notify.windows.com") {
      return "wns";
    }
  }
  // Appended piece by piece: GCC 12's -Wrestrict misfires on `"*." + host` at -O3.
  std::string name;
  if (rule.suffix) {
    name.append("*.");
  }
  name.append(rule.host);
  if (rule.port != 443) {
    name.append(":").append(std::to_string(rule.port));
  }
  return name;
}

std::vector<HostRule> DefaultPushServiceRules() {
  std::vector<HostRule> rules;
  auto add = [&rules](std::string host, bool suffix) {
    HostRule rule;
    rule.host = std::move(host);
    rule.suffix = suffix;
    rules.push_back(std::move(rule));
  };
  add("fcm.googleapis.com", false);
  add("jmt17.google.com", false);
  add("updates.push.services.mozilla.com", false);
  add("web.push.apple.com", false);
  add("push.apple.com", true);
  add("notify.windows.com", true);
  return rules;
}

EndpointPolicy::EndpointPolicy(EndpointPolicyOptions options) : options_(std::move(options)) {
  for (std::string& host : options_.private_address_hosts) {
    host = Lower(host);
  }
}

void EndpointPolicy::AllowPrivateAddresses(std::string_view host) {
  options_.private_address_hosts.push_back(Lower(host));
}

absl::StatusOr<Endpoint> EndpointPolicy::Check(std::string_view url, std::string_view field) const {
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(url, field);
  if (!endpoint.ok()) {
    return endpoint.status();
  }
  const auto rule = std::find_if(options_.rules.begin(), options_.rules.end(),
                                 [&](const HostRule& r) { return RuleMatches(r, *endpoint); });
  const bool allowed = rule != options_.rules.end();
  if (!allowed) {
    // The host alone is not the capability (the token is in the path), so naming it is safe.
    return Invalid(field, "host " + endpoint->host + ":" + std::to_string(endpoint->port) +
                              " is not on the push-service allowlist");
  }
  endpoint->service = PushServiceName(*rule);
  return endpoint;
}

absl::Status EndpointPolicy::CheckAddress(std::string_view host, std::string_view address) const {
  const std::string lower = Lower(host);
  if (std::find(options_.private_address_hosts.begin(), options_.private_address_hosts.end(),
                lower) != options_.private_address_hosts.end()) {
    return absl::OkStatus();
  }
  if (!IsPublicAddress(address)) {
    return absl::PermissionDeniedError("endpoint: host " + lower +
                                       " resolves to a non-public address " + std::string(address) +
                                       "; refused");
  }
  return absl::OkStatus();
}

std::string RedactedEndpoint(std::string_view url) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const uint8_t*>(url.data()), url.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hash;
  for (size_t i = 0; i < 4; ++i) {
    hash.push_back(kHex[digest[i] >> 4]);
    hash.push_back(kHex[digest[i] & 0xf]);
  }
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(url, "endpoint");
  return (endpoint.ok() ? endpoint->origin : std::string("(unparsable endpoint)")) + " #" + hash;
}

bool IsPublicAddress(std::string_view address) {
  const std::string text(address);
  std::array<uint8_t, 4> v4{};
  if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) {
    return IsPublicV4(v4);
  }
  std::array<uint8_t, 16> v6{};
  if (inet_pton(AF_INET6, text.c_str(), v6.data()) != 1) {
    return false;
  }
  static constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0,    0,
                                                            0, 0, 0, 0, 0xff, 0xff};
  static constexpr std::array<uint8_t, 12> kNat64Prefix = {0, 0x64, 0xff, 0x9b, 0, 0,
                                                           0, 0,    0,    0,    0, 0};
  if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), v6.begin()) ||
      std::equal(kNat64Prefix.begin(), kNat64Prefix.end(), v6.begin())) {
    return IsPublicV4({v6[12], v6[13], v6[14], v6[15]});
  }
  const bool all_zero_but_last =
      std::all_of(v6.begin(), v6.end() - 1, [](uint8_t b) { return b == 0; });
  if (all_zero_but_last && (v6[15] == 0 || v6[15] == 1)) {
    return false;  // :: and ::1
  }
  if ((v6[0] & 0xfe) == 0xfc) {
    return false;  // unique local fc00::/7
  }
  if (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80) {
    return false;  // link-local fe80::/10
  }
  if (v6[0] == 0xff) {
    return false;  // multicast
  }
  if (v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x0d && v6[3] == 0xb8) {
    return false;  // documentation 2001:db8::/32
  }
  return true;
}

}  // namespace webpush::dispatcher::push
