#include "crypto/ece.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "absl/status/status.h"
#include "crypto/internal/content_coding.h"
#include "crypto/internal/p256.h"
#include "crypto/internal/strings.h"

namespace webpush::crypto {
namespace {

absl::Status CheckSizes(size_t plaintext_size, size_t padding) {
  if (plaintext_size > kMaxPlaintextSize) {
    return absl::InvalidArgumentError(
        internal::StrCat("payload: ", plaintext_size, " bytes exceeds the ", kMaxPlaintextSize,
                         "-byte limit of a 4096-byte aes128gcm body (RFC 8291 §4)"));
  }
  if (padding > kMaxPlaintextSize - plaintext_size) {
    return absl::InvalidArgumentError(internal::StrCat("padding: ", padding, " bytes with a ",
                                                       plaintext_size, "-byte payload exceeds the ",
                                                       kMaxPlaintextSize, "-byte budget"));
  }
  return absl::OkStatus();
}

// Seal runs RFC 8291 §3 for one message with the given ephemeral key and salt.
absl::StatusOr<size_t> Seal(std::span<uint8_t> out, const SubscriptionKeys& to,
                            std::span<const uint8_t> plaintext,
                            std::span<const uint8_t, kP256PrivateKeySize> as_private,
                            std::span<const uint8_t, kP256PublicKeySize> as_public,
                            std::span<const uint8_t, kSaltSize> salt, size_t padding) {
  if (absl::Status s = CheckSizes(plaintext.size(), padding); !s.ok()) {
    return s;
  }
  const size_t size = EncryptedSize(plaintext.size(), padding);
  if (out.size() < size) {
    return absl::InvalidArgumentError(
        internal::StrCat("out: buffer of ", out.size(), " bytes, need ", size));
  }
  std::array<uint8_t, 32> ecdh{};
  std::array<uint8_t, 32> ikm{};
  absl::Status status = internal::P256Ecdh(ecdh, as_private, to.p256dh, "p256dh");
  if (status.ok() && !(internal::DeriveWebPushIkm(ikm, ecdh, to.auth, to.p256dh, as_public) &&
                       internal::SealSingleRecord(out.first(size), ikm, salt, kRecordSize,
                                                  as_public, plaintext, padding))) {
    status = absl::InternalError("aes128gcm encryption failed");
  }
  OPENSSL_cleanse(ecdh.data(), ecdh.size());
  OPENSSL_cleanse(ikm.data(), ikm.size());
  if (!status.ok()) {
    return status;
  }
  return size;
}

}  // namespace

absl::StatusOr<size_t> EncryptInto(std::span<uint8_t> out, const SubscriptionKeys& to,
                                   std::span<const uint8_t> plaintext, size_t padding) {
  // A fresh ephemeral key pair and salt for every (message, recipient): webpush-protocol.md §1.6.
  std::array<uint8_t, kP256PrivateKeySize> as_private{};
  P256PublicKey as_public{};
  Salt salt{};
  if (!internal::GenerateP256Scalar(as_private) ||
      !internal::P256PublicFromPrivate(as_public, as_private) ||
      RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    OPENSSL_cleanse(as_private.data(), as_private.size());
    ERR_clear_error();
    return absl::InternalError("ephemeral key or salt generation failed");
  }
  absl::StatusOr<size_t> written = Seal(out, to, plaintext, as_private, as_public, salt, padding);
  OPENSSL_cleanse(as_private.data(), as_private.size());
  return written;
}

absl::StatusOr<std::vector<uint8_t>> Encrypt(const SubscriptionKeys& to,
                                             std::span<const uint8_t> plaintext, size_t padding) {
  if (absl::Status s = CheckSizes(plaintext.size(), padding); !s.ok()) {
    return s;
  }
  std::vector<uint8_t> body(EncryptedSize(plaintext.size(), padding));
  absl::StatusOr<size_t> written = EncryptInto(body, to, plaintext, padding);
  if (!written.ok()) {
    return written.status();
  }
  return body;
}

absl::StatusOr<std::vector<uint8_t>> EncryptWithKeyAndSalt(const SubscriptionKeys& to,
                                                           std::span<const uint8_t> plaintext,
                                                           const P256KeyPair& as_key,
                                                           const Salt& salt, size_t padding) {
  if (absl::Status s = CheckSizes(plaintext.size(), padding); !s.ok()) {
    return s;
  }
  std::vector<uint8_t> body(EncryptedSize(plaintext.size(), padding));
  absl::StatusOr<size_t> written =
      Seal(body, to, plaintext, as_key.private_key(), as_key.public_key(), salt, padding);
  if (!written.ok()) {
    return written.status();
  }
  return body;
}

absl::StatusOr<std::vector<uint8_t>> Decrypt(std::span<const uint8_t> body,
                                             const P256KeyPair& ua_key, const AuthSecret& auth) {
  absl::StatusOr<internal::ParsedHeader> header = internal::ParseHeader(body);
  if (!header.ok()) {
    return header.status();
  }
  if (header->keyid.size() != kP256PublicKeySize) {
    return absl::InvalidArgumentError(internal::StrCat(
        "body.idlen: must be 65 (the sender's P-256 public key), got ", header->keyid.size()));
  }
  const std::span<const uint8_t, kP256PublicKeySize> as_public(header->keyid.data(),
                                                               kP256PublicKeySize);
  std::array<uint8_t, 32> ecdh{};
  std::array<uint8_t, 32> ikm{};
  absl::Status status = internal::P256Ecdh(ecdh, ua_key.private_key(), as_public, "body.keyid");
  if (status.ok() && !internal::DeriveWebPushIkm(ikm, ecdh, auth, ua_key.public_key(), as_public)) {
    status = absl::InternalError("key derivation failed");
  }
  OPENSSL_cleanse(ecdh.data(), ecdh.size());
  if (!status.ok()) {
    return status;
  }
  // RFC 8291 §4: a push message is a single record.
  absl::StatusOr<std::vector<uint8_t>> plaintext =
      internal::OpenRecords(*header, ikm, /*max_records=*/1);
  OPENSSL_cleanse(ikm.data(), ikm.size());
  return plaintext;
}

}  // namespace webpush::crypto
