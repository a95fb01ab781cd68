#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace webpush::crypto {

// Base64UrlEncode encodes `in` as unpadded base64url (RFC 4648 §5), the form JWS, VAPID and
// `PushSubscription.toJSON()` use.
std::string Base64UrlEncode(std::span<const uint8_t> in);

// Base64UrlDecode decodes base64url with or without `=` padding. It also accepts the standard
// alphabet (`+`, `/`), because some applications store subscription keys that way
// (webpush-protocol.md §1.1), but not a mix of both alphabets. Anything else (whitespace, stray
// characters, a wrong amount of padding, an impossible length, non-zero trailing bits) is an
// InvalidArgument error whose message starts with `field`.
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> Base64UrlDecode(std::string_view in,
                                                                   std::string_view field);

}  // namespace webpush::crypto
