#include "crypto/keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "crypto/base64url.h"
#include "crypto/internal/openssl_ptr.h"
#include "crypto/internal/p256.h"
#include "crypto/internal/strings.h"

namespace webpush::crypto {
namespace {

absl::Status KeyError(std::string_view field, std::string_view what) {
  ERR_clear_error();
  return absl::InvalidArgumentError(internal::StrCat(field, ": ", what));
}

}  // namespace

absl::Status ValidateP256PublicKey(std::span<const uint8_t> key, std::string_view field) {
  return internal::CheckP256Point(key, field);
}

absl::StatusOr<P256PublicKey> ParseP256PublicKey(std::string_view encoded, std::string_view field) {
  absl::StatusOr<std::vector<uint8_t>> bytes = Base64UrlDecode(encoded, field);
  if (!bytes.ok()) {
    return bytes.status();
  }
  if (absl::Status s = ValidateP256PublicKey(*bytes, field); !s.ok()) {
    return s;
  }
  P256PublicKey key;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

absl::StatusOr<AuthSecret> ParseAuthSecret(std::string_view encoded, std::string_view field) {
  absl::StatusOr<std::vector<uint8_t>> bytes = Base64UrlDecode(encoded, field);
  if (!bytes.ok()) {
    return bytes.status();
  }
  if (bytes->size() != kAuthSecretSize) {
    // RFC 8291 §3.2 fixes 16 bytes; Node web-push accepts longer ones, we do not.
    return KeyError(field,
                    internal::StrCat("must decode to exactly 16 bytes, got ", bytes->size()));
  }
  AuthSecret auth;
  std::copy(bytes->begin(), bytes->end(), auth.begin());
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return auth;
}

absl::StatusOr<SubscriptionKeys> ParseSubscriptionKeys(std::string_view p256dh,
                                                       std::string_view auth) {
  SubscriptionKeys keys;
  absl::StatusOr<P256PublicKey> ua_public = ParseP256PublicKey(p256dh, "p256dh");
  if (!ua_public.ok()) {
    return ua_public.status();
  }
  absl::StatusOr<AuthSecret> secret = ParseAuthSecret(auth, "auth");
  if (!secret.ok()) {
    return secret.status();
  }
  keys.p256dh = *ua_public;
  keys.auth = *secret;
  return keys;
}

absl::StatusOr<AuthSecret> GenerateAuthSecret() {
  AuthSecret auth;
  if (RAND_bytes(auth.data(), static_cast<int>(auth.size())) != 1) {
    ERR_clear_error();
    return absl::InternalError("CSPRNG failure while generating an auth secret");
  }
  return auth;
}

absl::StatusOr<P256KeyPair> P256KeyPair::Generate() {
  P256KeyPair pair;
  if (!internal::GenerateP256Scalar(pair.private_key_) ||
      !internal::P256PublicFromPrivate(pair.public_key_, pair.private_key_)) {
    return absl::InternalError("P-256 key generation failed");
  }
  return pair;
}

absl::StatusOr<P256KeyPair> P256KeyPair::FromPrivateKey(std::span<const uint8_t> scalar,
                                                        std::string_view field) {
  if (scalar.empty() || scalar.size() > kP256PrivateKeySize) {
    return KeyError(field,
                    internal::StrCat("a P-256 private key is 32 bytes, got ", scalar.size()));
  }
  P256KeyPair pair;
  // Left-pad: some tools drop leading zero bytes of the scalar (webpush-protocol.md §5.3).
  std::copy(
      scalar.begin(), scalar.end(),
      pair.private_key_.begin() + static_cast<ptrdiff_t>(kP256PrivateKeySize - scalar.size()));
  if (!internal::IsValidP256Scalar(pair.private_key_)) {
    return KeyError(field, "not a valid P-256 private key (must be in [1, n-1])");
  }
  if (!internal::P256PublicFromPrivate(pair.public_key_, pair.private_key_)) {
    return absl::InternalError("P-256 public key derivation failed");
  }
  return pair;
}

absl::StatusOr<P256KeyPair> P256KeyPair::FromBase64Url(std::string_view encoded,
                                                       std::string_view field) {
  absl::StatusOr<std::vector<uint8_t>> bytes = Base64UrlDecode(encoded, field);
  if (!bytes.ok()) {
    return bytes.status();
  }
  absl::StatusOr<P256KeyPair> pair = FromPrivateKey(*bytes, field);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return pair;
}

absl::StatusOr<P256KeyPair> P256KeyPair::FromPem(std::string_view pem, std::string_view field) {
  internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return absl::InternalError("BIO_new_mem_buf failed");
  }
  internal::EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return KeyError(field, "not a PEM private key (expected EC PRIVATE KEY or PRIVATE KEY)");
  }
  std::array<char, 64> group{};
  size_t group_len = 0;
  if (EVP_PKEY_is_a(pkey.get(), "EC") != 1 ||
      EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                     group.size(), &group_len) != 1 ||
      std::string_view(group.data(), group_len) != "prime256v1") {
    return KeyError(field, "PEM key is not an EC key on P-256 (prime256v1)");
  }
  BIGNUM* priv = nullptr;
  if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1) {
    return KeyError(field, "PEM key has no private scalar");
  }
  std::array<uint8_t, kP256PrivateKeySize> scalar{};
  const int written = BN_bn2binpad(priv, scalar.data(), static_cast<int>(scalar.size()));
  BN_clear_free(priv);
  if (written != static_cast<int>(scalar.size())) {
    return KeyError(field, "PEM private scalar is longer than 32 bytes");
  }
  absl::StatusOr<P256KeyPair> pair = FromPrivateKey(scalar, field);
  OPENSSL_cleanse(scalar.data(), scalar.size());
  return pair;
}

absl::StatusOr<P256KeyPair> P256KeyPair::Load(std::string_view text, std::string_view field) {
  const std::string_view trimmed = internal::StripAsciiWhitespace(text);
  if (trimmed.find("-----BEGIN") != std::string_view::npos) {
    return FromPem(trimmed, field);
  }
  return FromBase64Url(trimmed, field);
}

P256KeyPair::P256KeyPair(P256KeyPair&& other) noexcept
    : private_key_(other.private_key_), public_key_(other.public_key_) {
  OPENSSL_cleanse(other.private_key_.data(), other.private_key_.size());
}

P256KeyPair& P256KeyPair::operator=(P256KeyPair&& other) noexcept {
  if (this != &other) {
    private_key_ = other.private_key_;
    public_key_ = other.public_key_;
    OPENSSL_cleanse(other.private_key_.data(), other.private_key_.size());
  }
  return *this;
}

P256KeyPair::~P256KeyPair() { OPENSSL_cleanse(private_key_.data(), private_key_.size()); }

std::string P256KeyPair::PrivateKeyBase64Url() const { return Base64UrlEncode(private_key_); }

std::string P256KeyPair::PublicKeyBase64Url() const { return Base64UrlEncode(public_key_); }

absl::StatusOr<std::string> P256KeyPair::ToPem() const {
  absl::StatusOr<internal::EvpPkeyPtr> pkey = internal::MakeP256Pkey(private_key_, public_key_);
  if (!pkey.ok()) {
    return pkey.status();
  }
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey->get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    ERR_clear_error();
    return absl::InternalError("PEM encoding failed");
  }
  char* data = nullptr;
  const auto len = BIO_get_mem_data(bio.get(), &data);  // OpenSSL returns long
  std::string pem(data, static_cast<size_t>(len));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return pem;
}

}  // namespace webpush::crypto
