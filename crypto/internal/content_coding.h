#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

// The RFC 8188 `aes128gcm` content coding itself, independent of how the input keying material
// was agreed: key and nonce derivation, single-record sealing, and a general decoder that also
// handles multiple records and any key id (needed for the RFC 8188 §3 examples).
namespace webpush::crypto::internal {

struct ContentKeys {
  std::array<uint8_t, 16> cek{};
  std::array<uint8_t, 12> nonce{};
  ContentKeys() = default;
  ContentKeys(const ContentKeys&) = delete;
  ContentKeys& operator=(const ContentKeys&) = delete;
  ContentKeys(ContentKeys&&) = delete;
  ContentKeys& operator=(ContentKeys&&) = delete;
  ~ContentKeys();  // wipes both
};

// DeriveContentKeys runs RFC 8188 §2.2-2.3: PRK = HMAC(salt, ikm), CEK and NONCE from PRK.
[[nodiscard]] bool DeriveContentKeys(ContentKeys& out, std::span<const uint8_t> salt,
                                     std::span<const uint8_t> ikm);

// DeriveWebPushIkm runs RFC 8291 §3.3-3.4: IKM = HKDF(auth, ecdh_secret, key_info, 32) where
// key_info = "WebPush: info" || 0x00 || ua_public || as_public.
[[nodiscard]] bool DeriveWebPushIkm(std::span<uint8_t, 32> ikm, std::span<const uint8_t, 32> ecdh,
                                    std::span<const uint8_t, 16> auth,
                                    std::span<const uint8_t, 65> ua_public,
                                    std::span<const uint8_t, 65> as_public);

// SealSingleRecord writes the header (salt, rs, keyid) and one record holding
// `plaintext || 0x02 || 0x00 * padding` to `out`, which must be exactly
// 21 + keyid.size() + plaintext.size() + 1 + padding + 16 bytes.
[[nodiscard]] bool SealSingleRecord(std::span<uint8_t> out, std::span<const uint8_t> ikm,
                                    std::span<const uint8_t, 16> salt, uint32_t rs,
                                    std::span<const uint8_t> keyid,
                                    std::span<const uint8_t> plaintext, size_t padding);

// ParsedHeader is the RFC 8188 §2.1 header of a body.
struct ParsedHeader {
  std::span<const uint8_t> salt;
  uint32_t rs = 0;
  std::span<const uint8_t> keyid;
  std::span<const uint8_t> records;
};

// ParseHeader splits `body` into header fields and records; errors name the field.
[[nodiscard]] absl::StatusOr<ParsedHeader> ParseHeader(std::span<const uint8_t> body);

// OpenRecords decrypts every record of `header` with `ikm`, checks delimiters (0x01 on all but
// the last record, 0x02 on the last) and returns the concatenated data. `max_records` bounds the
// number of records accepted (Web Push: 1).
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> OpenRecords(const ParsedHeader& header,
                                                               std::span<const uint8_t> ikm,
                                                               size_t max_records);

}  // namespace webpush::crypto::internal
