#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"

// RAII owners for the few OpenSSL objects the reference path builds outside the hot loop (PEM,
// ECDSA), and the one place that turns raw P-256 key bytes into an EVP_PKEY.
namespace webpush::crypto::internal {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
};
struct EvpPkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree>;

// MakeP256Pkey builds an EVP_PKEY from a private scalar and its public point (private key
// present), or from a public point alone when `private_key` is empty.
[[nodiscard]] absl::StatusOr<EvpPkeyPtr> MakeP256Pkey(std::span<const uint8_t> private_key,
                                                      std::span<const uint8_t, 65> public_key);

}  // namespace webpush::crypto::internal
