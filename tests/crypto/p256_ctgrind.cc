// p256_ctgrind runs the emulated 8-lane P-256 kernel with its secret scalars marked undefined
// for valgrind memcheck (the "ctgrind" technique): any branch or memory index that depends on
// a scalar is then reported as a use of uninitialised memory. The outputs are marked defined
// again before anything reads them, because a public key and an ECDH result legitimately
// depend on the scalar. Without valgrind the client requests are no-ops.
//
// Usage: p256_ctgrind [keygen|ecdh|both] [--leaky]
//   --leaky runs the deliberately variable-time variant, which valgrind must flag (the ctest
//   test of that proves the harness can fail). Exit status 0 unless OpenSSL set-up fails.
#include <openssl/rand.h>
#include <valgrind/memcheck.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "crypto/internal/p256.h"
#include "crypto/internal/p256_x8.h"
#include "crypto/internal/p256_x8_table.h"

namespace webpush::crypto::internal {
namespace {

constexpr int kBatches = 2;

bool RandomScalars(uint8_t (*scalars)[32]) {
  for (size_t i = 0; i < 8; ++i) {
    if (!GenerateP256Scalar(std::span<uint8_t, 32>(scalars[i], 32))) {
      return false;
    }
  }
  // Lane 0 gets a small scalar: many zero digits, so the leaky variant's branch goes both ways.
  std::memset(scalars[0], 0, 32);
  scalars[0][31] = 0x35;
  return true;
}

// Sum folds an output into a value that is printed, so that its computation cannot be dropped
// and so that reading it after VALGRIND_MAKE_MEM_DEFINED is checked to be error-free.
unsigned Sum(const uint8_t* p, size_t n) {
  unsigned s = 0;
  for (size_t i = 0; i < n; ++i) {
    s = s * 31 + p[i];
  }
  return s;
}

int Run(bool keygen, bool ecdh, bool leaky) {
  // Public set-up outside the marked region: the fixed-base table and the peers.
  if (P256X8GetBaseTable() == nullptr) {
    std::fprintf(stderr, "p256_ctgrind: table set-up failed\n");
    return 2;
  }
  unsigned checksum = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    uint8_t scalars[8][32];
    uint8_t peer_scalars[8][32];
    uint8_t peers[8][65];
    if (!RandomScalars(scalars) || !RandomScalars(peer_scalars)) {
      std::fprintf(stderr, "p256_ctgrind: CSPRNG failed\n");
      return 2;
    }
    for (size_t i = 0; i < 8; ++i) {
      if (!P256PublicFromPrivate(std::span<uint8_t, 65>(peers[i], 65),
                                 std::span<const uint8_t, 32>(peer_scalars[i], 32))) {
        return 2;
      }
    }
    peers[3][0] = 0x05;  // one invalid peer: its rejection must not depend on the scalars
    VALGRIND_MAKE_MEM_UNDEFINED(scalars, sizeof(scalars));
    if (keygen) {
      uint8_t pubs[8][65];
      x8emu::KeygenX8(scalars, pubs, leaky);
      VALGRIND_MAKE_MEM_DEFINED(pubs, sizeof(pubs));
      checksum += Sum(&pubs[0][0], sizeof(pubs));
    }
    if (ecdh) {
      uint8_t xs[8][32];
      const uint32_t ok = x8emu::EcdhX8(scalars, peers, xs, leaky);
      // `ok` is not marked defined: it must depend on the peers alone.
      checksum += ok == 0xf7U ? 1 : 0;
      VALGRIND_MAKE_MEM_DEFINED(xs, sizeof(xs));
      checksum += Sum(&xs[0][0], sizeof(xs));
    }
  }
  std::printf("p256_ctgrind: %d batches (keygen %d, ecdh %d, leaky %d), checksum %u\n", kBatches,
              keygen, ecdh, leaky, checksum);
  return 0;
}

}  // namespace
}  // namespace webpush::crypto::internal

int main(int argc, char** argv) {
  bool keygen = true;
  bool ecdh = true;
  bool leaky = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "keygen") {
      ecdh = false;
    } else if (arg == "ecdh") {
      keygen = false;
    } else if (arg == "--leaky") {
      leaky = true;
    } else if (arg != "both") {
      std::fprintf(stderr, "usage: p256_ctgrind [keygen|ecdh|both] [--leaky]\n");
      return 2;
    }
  }
  return webpush::crypto::internal::Run(keygen, ecdh, leaky);
}
