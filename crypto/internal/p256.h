#pragma once

#include <cstdint>
#include <span>

#include "absl/status/status.h"

// P-256 operations of the reference path, on OpenSSL's EC_POINT level: one shared EC_GROUP and
// per-thread scratch objects, so that no EVP_PKEY is built per message (an EVP_PKEY per message
// costs ~160 heap allocations and a redundant full public-key check; see issue 2).
namespace webpush::crypto::internal {

// CheckP256Point validates a 65-byte uncompressed point (prefix, range, curve equation).
[[nodiscard]] absl::Status CheckP256Point(std::span<const uint8_t> point, std::string_view field);

// IsValidP256Scalar tells whether the big-endian 32-byte `scalar` lies in [1, n-1].
[[nodiscard]] bool IsValidP256Scalar(std::span<const uint8_t, 32> scalar);

// GenerateP256Scalar fills `out` with a uniformly random scalar in [1, n-1] (rejection sampling
// over OpenSSL's private CSPRNG). Returns false only if the CSPRNG fails.
[[nodiscard]] bool GenerateP256Scalar(std::span<uint8_t, 32> out);

// P256PublicFromPrivate computes `scalar`·G in uncompressed form. `scalar` must be valid.
[[nodiscard]] bool P256PublicFromPrivate(std::span<uint8_t, 65> out,
                                         std::span<const uint8_t, 32> scalar);

// P256Ecdh writes the x-coordinate of `scalar`·`peer` (32 bytes, big-endian, fixed width) to
// `out`. `peer` is validated first; an invalid peer is an InvalidArgument naming `field`.
[[nodiscard]] absl::Status P256Ecdh(std::span<uint8_t, 32> out, std::span<const uint8_t, 32> scalar,
                                    std::span<const uint8_t, 65> peer, std::string_view field);

}  // namespace webpush::crypto::internal
