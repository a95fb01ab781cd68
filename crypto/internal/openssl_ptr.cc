#include "crypto/internal/openssl_ptr.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

namespace webpush::crypto::internal {
namespace {

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct BnClearFree {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};

}  // namespace

absl::StatusOr<EvpPkeyPtr> MakeP256Pkey(std::span<const uint8_t> private_key,
                                        std::span<const uint8_t, 65> public_key) {
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  std::unique_ptr<BIGNUM, BnClearFree> priv;
  if (!private_key.empty()) {
    priv.reset(BN_secure_new());
    if (!priv || BN_bin2bn(private_key.data(), static_cast<int>(private_key.size()), priv.get()) ==
                     nullptr) {
      ERR_clear_error();
      return absl::InternalError("BIGNUM allocation failed");
    }
  }
  const bool built =
      bld &&
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ==
          1 &&
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, public_key.data(),
                                       public_key.size()) == 1 &&
      (!priv || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) == 1);
  std::unique_ptr<OSSL_PARAM, ParamFree> params(built ? OSSL_PARAM_BLD_to_param(bld.get())
                                                      : nullptr);
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  const int selection = priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) != 1) {
    ERR_clear_error();
    return absl::InternalError("building an EVP_PKEY from P-256 key bytes failed");
  }
  return EvpPkeyPtr(pkey);
}

}  // namespace webpush::crypto::internal
