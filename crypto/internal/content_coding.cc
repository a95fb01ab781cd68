#include "crypto/internal/content_coding.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <string_view>

#include "absl/status/status.h"
#include "crypto/internal/primitives.h"
#include "crypto/internal/strings.h"

namespace webpush::crypto::internal {
namespace {

// Info strings include their terminating zero byte (RFC 8188 §2.2-2.3, RFC 8291 §3.4); never
// derive these lengths with strlen.
constexpr std::array<uint8_t, 28> kCekInfo = {'C', 'o', 'n', 't', 'e', 'n', 't', '-', 'E', 'n',
                                              'c', 'o', 'd', 'i', 'n', 'g', ':', ' ', 'a', 'e',
                                              's', '1', '2', '8', 'g', 'c', 'm', 0};
constexpr std::array<uint8_t, 24> kNonceInfo = {'C', 'o', 'n', 't', 'e', 'n', 't', '-',
                                                'E', 'n', 'c', 'o', 'd', 'i', 'n', 'g',
                                                ':', ' ', 'n', 'o', 'n', 'c', 'e', 0};
constexpr std::array<uint8_t, 14> kWebPushInfo = {'W', 'e', 'b', 'P', 'u', 's', 'h',
                                                  ':', ' ', 'i', 'n', 'f', 'o', 0};
constexpr std::array<uint8_t, 1> kCounterOne = {0x01};  // HKDF-Expand T(1), L <= 32

constexpr size_t kFixedHeaderSize = 21;  // salt(16) || rs(4) || idlen(1)
constexpr size_t kTagSize = 16;
constexpr uint32_t kMinRecordSize = 18;

absl::Status BodyError(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(field, ": ", what));
}

}  // namespace

ContentKeys::~ContentKeys() {
  OPENSSL_cleanse(cek.data(), cek.size());
  OPENSSL_cleanse(nonce.data(), nonce.size());
}

bool DeriveContentKeys(ContentKeys& out, std::span<const uint8_t> salt,
                       std::span<const uint8_t> ikm) {
  std::array<uint8_t, kSha256Size> prk{};
  std::array<uint8_t, kSha256Size> block{};
  bool ok = HmacSha256(prk, salt, {ikm});
  ok = ok && HmacSha256(block, prk, {kCekInfo, kCounterOne});
  if (ok) {
    std::copy_n(block.begin(), out.cek.size(), out.cek.begin());
  }
  ok = ok && HmacSha256(block, prk, {kNonceInfo, kCounterOne});
  if (ok) {
    std::copy_n(block.begin(), out.nonce.size(), out.nonce.begin());
  }
  OPENSSL_cleanse(prk.data(), prk.size());
  OPENSSL_cleanse(block.data(), block.size());
  return ok;
}

bool DeriveWebPushIkm(std::span<uint8_t, 32> ikm, std::span<const uint8_t, 32> ecdh,
                      std::span<const uint8_t, 16> auth, std::span<const uint8_t, 65> ua_public,
                      std::span<const uint8_t, 65> as_public) {
  std::array<uint8_t, kSha256Size> prk_key{};
  const bool ok = HmacSha256(prk_key, auth, {ecdh}) &&
                  HmacSha256(ikm, prk_key, {kWebPushInfo, ua_public, as_public, kCounterOne});
  OPENSSL_cleanse(prk_key.data(), prk_key.size());
  return ok;
}

bool SealSingleRecord(std::span<uint8_t> out, std::span<const uint8_t> ikm,
                      std::span<const uint8_t, 16> salt, uint32_t rs,
                      std::span<const uint8_t> keyid, std::span<const uint8_t> plaintext,
                      size_t padding) {
  const size_t header_size = kFixedHeaderSize + keyid.size();
  const size_t record_plain = plaintext.size() + 1 + padding;
  if (keyid.size() > 255 || out.size() != header_size + record_plain + kTagSize) {
    return false;
  }
  std::copy(salt.begin(), salt.end(), out.begin());
  out[16] = static_cast<uint8_t>(rs >> 24);
  out[17] = static_cast<uint8_t>(rs >> 16);
  out[18] = static_cast<uint8_t>(rs >> 8);
  out[19] = static_cast<uint8_t>(rs);
  out[20] = static_cast<uint8_t>(keyid.size());
  std::copy(keyid.begin(), keyid.end(), out.begin() + kFixedHeaderSize);

  // Build the record plaintext in place, then encrypt it in place.
  const std::span<uint8_t> record = out.subspan(header_size);
  std::copy(plaintext.begin(), plaintext.end(), record.begin());
  record[plaintext.size()] = 0x02;  // last (and only) record delimiter
  std::fill_n(record.begin() + static_cast<ptrdiff_t>(plaintext.size() + 1), padding, 0);

  ContentKeys keys;
  return DeriveContentKeys(keys, salt, ikm) &&
         Aes128GcmSeal(record, keys.cek, keys.nonce, record.first(record_plain));
}

absl::StatusOr<ParsedHeader> ParseHeader(std::span<const uint8_t> body) {
  if (body.size() < kFixedHeaderSize) {
    return BodyError("body", StrCat("too short for an aes128gcm header (", body.size(),
                                    " bytes, need at least 21)"));
  }
  ParsedHeader h;
  h.salt = body.first(16);
  h.rs = (uint32_t{body[16]} << 24) | (uint32_t{body[17]} << 16) | (uint32_t{body[18]} << 8) |
         uint32_t{body[19]};
  const size_t idlen = body[20];
  if (h.rs < kMinRecordSize) {
    return BodyError("body.rs", StrCat(h.rs, " is below the minimum record size 18"));
  }
  if (body.size() < kFixedHeaderSize + idlen) {
    return BodyError("body.keyid", "truncated");
  }
  h.keyid = body.subspan(kFixedHeaderSize, idlen);
  h.records = body.subspan(kFixedHeaderSize + idlen);
  return h;
}

absl::StatusOr<std::vector<uint8_t>> OpenRecords(const ParsedHeader& header,
                                                 std::span<const uint8_t> ikm, size_t max_records) {
  if (header.records.empty()) {
    return BodyError("body", "has no record");
  }
  // Structure before cryptography: a Web Push body whose length implies several records is
  // malformed whatever its contents (RFC 8291 §4).
  const uint64_t record_count = (header.records.size() + header.rs - 1) / header.rs;
  if (record_count > max_records) {
    return BodyError("body", StrCat("holds ", record_count, " records of rs ", header.rs,
                                    ", more than ", max_records, " record(s) allowed"));
  }
  ContentKeys keys;
  if (!DeriveContentKeys(keys, header.salt, ikm)) {
    return absl::InternalError("content key derivation failed");
  }
  std::vector<uint8_t> data;
  data.reserve(header.records.size());
  std::vector<uint8_t> plain;
  size_t offset = 0;
  for (uint64_t seq = 0; offset < header.records.size(); ++seq) {
    const size_t len = std::min<size_t>(header.rs, header.records.size() - offset);
    const bool last = offset + len == header.records.size();
    if (len < kTagSize + 1) {
      return BodyError("body",
                       StrCat("record ", seq, " is truncated (", len, " bytes, need at least 17)"));
    }
    // RFC 8188 §2.3: the nonce of record `seq` is NONCE XOR seq (big-endian, 96 bits).
    std::array<uint8_t, 12> nonce = keys.nonce;
    for (int i = 0; i < 8; ++i) {
      nonce[11 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
    }
    plain.resize(len - kTagSize);
    if (!Aes128GcmOpen(plain, keys.cek, nonce, header.records.subspan(offset, len))) {
      return absl::DataLossError(
          StrCat("body: record ", seq,
                 " failed authentication (tampered body, wrong private key or wrong auth secret)"));
    }
    // The delimiter is the last non-zero byte; everything after it is padding.
    size_t end = plain.size();
    while (end > 0 && plain[end - 1] == 0) {
      --end;
    }
    if (end == 0) {
      OPENSSL_cleanse(plain.data(), plain.size());
      return BodyError("body", StrCat("record ", seq, " has no delimiter"));
    }
    const uint8_t expected = last ? 0x02 : 0x01;
    const uint8_t delimiter = plain[end - 1];
    if (delimiter != expected) {
      OPENSSL_cleanse(plain.data(), plain.size());
      return BodyError(
          "body",
          StrCat("record ", seq, " has delimiter ", static_cast<int>(delimiter), ", expected ",
                 static_cast<int>(expected), last ? " (truncated body?)" : ""));
    }
    data.insert(data.end(), plain.begin(), plain.begin() + static_cast<ptrdiff_t>(end - 1));
    offset += len;
  }
  OPENSSL_cleanse(plain.data(), plain.size());
  return data;
}

}  // namespace webpush::crypto::internal
