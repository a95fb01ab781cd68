#include "crypto/internal/primitives.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <climits>

namespace webpush::crypto::internal {
namespace {

constexpr size_t kSha256BlockSize = 64;
constexpr size_t kGcmTagSize = 16;

// Fetched once: implicit fetching by name on every EVP_*Init call is a measurable share of the
// cost of a small message. Never freed (process lifetime).
const EVP_MD* Sha256Md() {
  static const EVP_MD* const kMd = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return kMd;
}
const EVP_CIPHER* Aes128Gcm() {
  static const EVP_CIPHER* const kCipher = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  return kCipher;
}

struct ThreadContexts {
  ThreadContexts() : md(EVP_MD_CTX_new()), cipher(EVP_CIPHER_CTX_new()) {}
  ~ThreadContexts() {
    EVP_CIPHER_CTX_free(cipher);
    EVP_MD_CTX_free(md);
  }
  ThreadContexts(const ThreadContexts&) = delete;
  ThreadContexts& operator=(const ThreadContexts&) = delete;
  ThreadContexts(ThreadContexts&&) = delete;
  ThreadContexts& operator=(ThreadContexts&&) = delete;
  EVP_MD_CTX* md;
  EVP_CIPHER_CTX* cipher;
};

ThreadContexts& Contexts() {
  thread_local ThreadContexts contexts;
  return contexts;
}

bool Fail() {
  ERR_clear_error();
  return false;
}

int AsInt(size_t n) { return n > INT_MAX ? -1 : static_cast<int>(n); }

}  // namespace

bool Sha256(std::span<uint8_t, kSha256Size> out, std::span<const uint8_t> in) {
  EVP_MD_CTX* ctx = Contexts().md;
  unsigned int len = 0;
  if (ctx == nullptr || Sha256Md() == nullptr ||
      EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, in.data(), in.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != kSha256Size) {
    return Fail();
  }
  return true;
}

bool HmacSha256(std::span<uint8_t, kSha256Size> out, std::span<const uint8_t> key,
                std::initializer_list<std::span<const uint8_t>> message_parts) {
  // RFC 2104 directly over the digest: H((K ^ opad) || H((K ^ ipad) || m)). Cheaper than
  // EVP_MAC for the 16- and 32-byte keys used here, and the context is reused.
  EVP_MD_CTX* ctx = Contexts().md;
  if (ctx == nullptr || Sha256Md() == nullptr || key.size() > kSha256BlockSize) {
    return Fail();
  }
  std::array<uint8_t, kSha256BlockSize> pad{};
  std::array<uint8_t, kSha256Size> inner{};
  for (size_t i = 0; i < kSha256BlockSize; ++i) {
    pad[i] = static_cast<uint8_t>((i < key.size() ? key[i] : 0) ^ 0x36);
  }
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, pad.data(), pad.size()) == 1;
  for (const auto& part : message_parts) {
    ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx, inner.data(), &len) == 1;
  for (auto& b : pad) {
    b ^= 0x36 ^ 0x5c;  // turn the inner pad into the outer pad
  }
  ok = ok && EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) == 1 &&
       EVP_DigestUpdate(ctx, pad.data(), pad.size()) == 1 &&
       EVP_DigestUpdate(ctx, inner.data(), inner.size()) == 1 &&
       EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(inner.data(), inner.size());
  return ok ? true : Fail();
}

bool Aes128GcmSeal(std::span<uint8_t> out, std::span<const uint8_t, 16> key,
                   std::span<const uint8_t, 12> nonce, std::span<const uint8_t> in) {
  EVP_CIPHER_CTX* ctx = Contexts().cipher;
  const int in_len = AsInt(in.size());
  if (ctx == nullptr || Aes128Gcm() == nullptr || in_len < 0 ||
      out.size() != in.size() + kGcmTagSize) {
    return Fail();
  }
  // The default GCM IV length is 12 bytes, so no EVP_CTRL_GCM_SET_IVLEN call is needed.
  int len = 0;
  int final_len = 0;
  if (EVP_EncryptInit_ex2(ctx, Aes128Gcm(), key.data(), nonce.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), in_len) != 1 ||
      EVP_EncryptFinal_ex(ctx, out.data() + len, &final_len) != 1 ||
      static_cast<size_t>(len) + static_cast<size_t>(final_len) != in.size() ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagSize, out.data() + in.size()) != 1) {
    return Fail();
  }
  return true;
}

bool Aes128GcmOpen(std::span<uint8_t> out, std::span<const uint8_t, 16> key,
                   std::span<const uint8_t, 12> nonce, std::span<const uint8_t> in) {
  EVP_CIPHER_CTX* ctx = Contexts().cipher;
  if (ctx == nullptr || Aes128Gcm() == nullptr || in.size() < kGcmTagSize ||
      out.size() != in.size() - kGcmTagSize || AsInt(in.size()) < 0) {
    return Fail();
  }
  const size_t body_len = in.size() - kGcmTagSize;
  std::array<uint8_t, kGcmTagSize> tag{};
  std::copy(in.begin() + static_cast<ptrdiff_t>(body_len), in.end(), tag.begin());
  int len = 0;
  int final_len = 0;
  const bool ok =
      EVP_DecryptInit_ex2(ctx, Aes128Gcm(), key.data(), nonce.data(), nullptr) == 1 &&
      EVP_DecryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(body_len)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, out.data() + len, &final_len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return Fail();
  }
  return true;
}

}  // namespace webpush::crypto::internal
