#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

// The SSRF guard of the push client (webpush-protocol.md §6.4): only https endpoints on an
// allowlisted push-service host are ever contacted, and a listed name that resolves to a
// loopback, private or link-local address is refused unless configured. Errors never echo the
// whole endpoint, which is a capability URL: they name the field and, at most, the host.
namespace webpush::dispatcher::push {

// Endpoint is a parsed push endpoint URL.
struct Endpoint {
  std::string host;  // lower-cased, no trailing dot
  uint16_t port = 443;
  std::string path;    // path and query, byte for byte as given (never re-encoded)
  std::string origin;  // https://host[:port] (port only when not 443): VAPID aud and pool key
  // The push service's name for metrics, set by EndpointPolicy::Check: "fcm", "mozilla",
  // "apple", "wns" for the well-known services, else the allowlist rule that matched
  // ("push.example.org:8443", "*.example.org"). Bounded by the allowlist, never the endpoint.
  std::string service;
};

// HostRule is one allowlist entry: an exact host ("fcm.googleapis.com"), or a suffix on a label
// boundary ("*.notify.windows.com"), with the port it allows (443 unless given as "host:port").
struct HostRule {
  std::string host;
  bool suffix = false;
  uint16_t port = 443;
};

// ParseHostRule parses "host", "*.suffix", "host:port" or "*.suffix:port".
[[nodiscard]] absl::StatusOr<HostRule> ParseHostRule(std::string_view text, std::string_view field);

// PushServiceName is the metrics name of a rule (see Endpoint::service).
[[nodiscard]] std::string PushServiceName(const HostRule& rule);

// DefaultPushServiceRules is the allowlist of webpush-protocol.md §6.4 (FCM and its staging host,
// Mozilla autopush, Apple, Microsoft WNS).
[[nodiscard]] std::vector<HostRule> DefaultPushServiceRules();

struct EndpointPolicyOptions {
  std::vector<HostRule> rules = DefaultPushServiceRules();
  // Hosts (exact names) allowed to resolve to loopback, private or link-local addresses; tests
  // and on-premises push services use this. Resolve overrides count as configured too.
  std::vector<std::string> private_address_hosts;
};

class EndpointPolicy {
 public:
  explicit EndpointPolicy(EndpointPolicyOptions options);

  // Check parses `url` and accepts it only if it is https, has no user info, no IP-literal
  // host, and its host and port match a rule. Errors are InvalidArgument starting with `field`.
  [[nodiscard]] absl::StatusOr<Endpoint> Check(std::string_view url, std::string_view field) const;

  // CheckAddress refuses a resolved address of `host` that is loopback, private (RFC 1918,
  // fc00::/7), link-local, unspecified, or IPv4-mapped/CGNAT equivalents, unless `host` is listed
  // in private_address_hosts. `address` is textual (as asio prints it).
  [[nodiscard]] absl::Status CheckAddress(std::string_view host, std::string_view address) const;

  void AllowPrivateAddresses(std::string_view host);

 private:
  EndpointPolicyOptions options_;
};

// ParseEndpoint parses an https URL without applying any rule (used by Check and by tests).
[[nodiscard]] absl::StatusOr<Endpoint> ParseEndpoint(std::string_view url, std::string_view field);

// RedactedEndpoint is how logs and errors name a subscription: its origin and a short hash of the
// whole URL ("https://fcm.googleapis.com #3f9a1c2e"), never the capability URL itself.
[[nodiscard]] std::string RedactedEndpoint(std::string_view url);

// IsPublicAddress tells whether a textual IPv4/IPv6 address is globally routable in the sense of
// the guard above. Unparseable text is not public.
[[nodiscard]] bool IsPublicAddress(std::string_view address);

}  // namespace webpush::dispatcher::push
