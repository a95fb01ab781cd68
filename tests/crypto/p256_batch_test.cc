// Differential tests of the 8-lane P-256 kernels (crypto/internal/p256_batch.h) against the
// OpenSSL reference lanes: random scalars and peers, edge scalars, small multiples of G as peers,
// and invalid peers. Every kernel path runs the same cases (TEST_P); the kIfma path is skipped
// on CPUs without AVX-512 IFMA.
//
// The random-case count is 100,000 for keygen and 100,000 for ECDH per path (issue 5), each
// split into four shards. The sanitizer build compiles this file
// with WEBPUSH_P256_BATCH_RANDOM_CASES=4000 (tests/crypto/CMakeLists.txt), and the environment
// variable WEBPUSH_P256_BATCH_CASES overrides either. The seed is printed; set
// WEBPUSH_P256_BATCH_SEED to replay a failure.
#include "crypto/internal/p256_batch.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "crypto/internal/p256.h"
#include "crypto/internal/p256_x8.h"
#include "gtest/gtest.h"

#ifndef WEBPUSH_P256_BATCH_RANDOM_CASES
#define WEBPUSH_P256_BATCH_RANDOM_CASES 100000
#endif

namespace webpush::crypto::internal {
namespace {

using Scalar = std::array<uint8_t, 32>;
using PointBytes = std::array<uint8_t, 65>;

constexpr Scalar kOrder = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                           0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
constexpr Scalar kPrime = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

size_t RandomCases() {
  if (const char* env = std::getenv("WEBPUSH_P256_BATCH_CASES")) {
    return std::strtoul(env, nullptr, 10);
  }
  return WEBPUSH_P256_BATCH_RANDOM_CASES;
}

uint64_t Seed() {
  static const uint64_t kSeed = [] {
    if (const char* env = std::getenv("WEBPUSH_P256_BATCH_SEED")) {
      return static_cast<uint64_t>(std::strtoull(env, nullptr, 10));
    }
    return (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  }();
  return kSeed;
}

// SmallScalar returns the scalar k (k < 2^64).
Scalar SmallScalar(uint64_t k) {
  Scalar s{};
  for (int i = 0; i < 8; ++i) {
    s[31 - i] = static_cast<uint8_t>(k >> (8 * i));
  }
  return s;
}

// OrderMinus returns n - k.
Scalar OrderMinus(uint64_t k) {
  Scalar s = kOrder;
  uint64_t borrow = k;
  for (int i = 31; i >= 0 && borrow != 0; --i) {
    const uint64_t digit = borrow & 0xff;
    const int v = s[i] - static_cast<int>(digit);
    s[i] = static_cast<uint8_t>(v);
    borrow = (borrow >> 8) + (v < 0 ? 1 : 0);
  }
  return s;
}

// Pub computes k·G with the reference lanes.
PointBytes Pub(const Scalar& k) {
  PointBytes p{};
  EXPECT_TRUE(P256PublicFromPrivate(p, k));
  return p;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  // ValidScalar draws uniformly from [1, n-1].
  Scalar ValidScalar() {
    Scalar s;
    do {
      for (auto& b : s) {
        b = static_cast<uint8_t>(gen_());
      }
    } while (!IsValidP256Scalar(s));
    return s;
  }
  uint64_t Next() { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

// The edge scalars of issue 5: 1, 2, n-1, n-2, small scalars, long runs of zero or one bits,
// and patterns that exercise every carry of the signed-digit recoding.
std::vector<Scalar> EdgeScalars() {
  std::vector<Scalar> v;
  for (uint64_t k = 1; k <= 20; ++k) {
    v.push_back(SmallScalar(k));
  }
  for (uint64_t k = 1; k <= 20; ++k) {
    v.push_back(OrderMinus(k));
  }
  for (uint64_t k : {0x7fULL, 0x80ULL, 0x88ULL, 0xffULL, 0x888888ULL, 0xffffffffULL,
                     0x8000000000000000ULL, 0xffffffffffffffffULL}) {
    v.push_back(SmallScalar(k));
  }
  Scalar s{};
  s[0] = 0x80;  // 2^255: one bit, then zeros
  v.push_back(s);
  s.fill(0);
  s[0] = 0x7f;  // bits 248..254 set
  v.push_back(s);
  s.fill(0x88);  // every digit 8: a carry out of every nibble
  v.push_back(s);
  s.fill(0x77);
  v.push_back(s);
  s.fill(0x55);
  v.push_back(s);
  s.fill(0xaa);
  v.push_back(s);
  s.fill(0xff);  // 2^255 - 1: a run of 255 one bits
  s[0] = 0x7f;
  v.push_back(s);
  s.fill(0xff);  // ffffffff 00000000 ffff...: n's top half followed by ones, just below n - 1
  s[4] = s[5] = s[6] = s[7] = 0x00;
  s[16] = 0x00;
  v.push_back(s);
  for (int run : {64, 128, 200, 255}) {  // 2^run - 1
    Scalar r{};
    for (int bit = 0; bit < run; ++bit) {
      r[31 - bit / 8] = static_cast<uint8_t>(r[31 - bit / 8] | (1U << (bit % 8)));
    }
    v.push_back(r);
  }
  for (int shift : {4, 64, 128, 252}) {  // 2^shift: one set bit after a long run of zeros
    Scalar r{};
    r[31 - shift / 8] = static_cast<uint8_t>(1U << (shift % 8));
    v.push_back(r);
  }
  for (const Scalar& e : v) {
    EXPECT_TRUE(IsValidP256Scalar(e));
  }
  return v;
}

// CheckKeygen runs one batch on `path` and compares each lane with OpenSSL.
void CheckKeygen(P256BatchPath path, const std::array<Scalar, 8>& scalars) {
  uint8_t in[8][32];
  uint8_t out[8][65];
  for (size_t i = 0; i < 8; ++i) {
    std::memcpy(in[i], scalars[i].data(), 32);
  }
  P256KeygenX8(path, in, out);
  for (size_t i = 0; i < 8; ++i) {
    const PointBytes want = Pub(scalars[i]);
    ASSERT_EQ(0, std::memcmp(out[i], want.data(), 65)) << "lane " << i << " seed " << Seed();
  }
}

// CheckEcdh runs one batch on `path` and compares each lane with the OpenSSL reference lanes,
// including the success mask and the zeroed output of invalid peers.
void CheckEcdh(P256BatchPath path, const std::array<Scalar, 8>& scalars,
               const std::array<PointBytes, 8>& peers) {
  uint8_t in[8][32];
  uint8_t pts[8][65];
  uint8_t out[8][32];
  uint8_t want[8][32];
  for (size_t i = 0; i < 8; ++i) {
    std::memcpy(in[i], scalars[i].data(), 32);
    std::memcpy(pts[i], peers[i].data(), 65);
  }
  std::memset(out, 0xa5, sizeof(out));
  const uint32_t ok = P256EcdhX8(path, in, pts, out);
  const uint32_t want_ok = P256EcdhX8(P256BatchPath::kReference, in, pts, want);
  ASSERT_EQ(ok, want_ok) << "seed " << Seed();
  for (size_t i = 0; i < 8; ++i) {
    ASSERT_EQ(0, std::memcmp(out[i], want[i], 32)) << "lane " << i << " seed " << Seed();
  }
}

void SkipWithoutIfma(P256BatchPath path) {
  if (path == P256BatchPath::kIfma && !CpuHasAvx512Ifma()) {
    GTEST_SKIP() << "this CPU has no AVX-512 IFMA (or the OS does not save ZMM state); the "
                    "kIfma kernel is compiled but cannot run here";
  }
}

std::string PathName(P256BatchPath path) {
  return path == P256BatchPath::kIfma ? "Ifma" : "Emulated";
}

class P256BatchTest : public testing::TestWithParam<P256BatchPath> {
 protected:
  void SetUp() override { SkipWithoutIfma(GetParam()); }
  void CheckKeygen(const std::array<Scalar, 8>& scalars) {
    ::webpush::crypto::internal::CheckKeygen(GetParam(), scalars);
  }
  void CheckEcdh(const std::array<Scalar, 8>& scalars, const std::array<PointBytes, 8>& peers) {
    ::webpush::crypto::internal::CheckEcdh(GetParam(), scalars, peers);
  }
};

// The random cases are split into four shards (separate ctest tests, so `ctest -j` spreads
// them over the cores): the emulated kernel takes ~1 ms per ECDH lane.
constexpr int kShards = 4;

class P256BatchRandomTest : public testing::TestWithParam<std::tuple<P256BatchPath, int>> {
 protected:
  void SetUp() override { SkipWithoutIfma(std::get<0>(GetParam())); }
  P256BatchPath path() const { return std::get<0>(GetParam()); }
  int shard() const { return std::get<1>(GetParam()); }
  size_t cases() const { return (RandomCases() + kShards - 1) / kShards; }
};

TEST_P(P256BatchRandomTest, KeygenMatchesOpenSslOnRandomScalars) {
  Rng rng(Seed() + 100 * static_cast<uint64_t>(shard()));
  std::cout << "random keygen cases: " << cases() << " (shard " << shard() << " of " << kShards
            << "), seed " << Seed() << "\n";
  std::array<Scalar, 8> scalars;
  for (size_t done = 0; done < cases(); done += 8) {
    for (Scalar& s : scalars) {
      s = rng.ValidScalar();
    }
    ASSERT_NO_FATAL_FAILURE(CheckKeygen(path(), scalars));
  }
}

TEST_P(P256BatchRandomTest, EcdhMatchesOpenSslOnRandomScalarsAndPeers) {
  Rng rng(Seed() + 100 * static_cast<uint64_t>(shard()) + 1);
  std::cout << "random ECDH cases: " << cases() << " (shard " << shard() << " of " << kShards
            << "), seed " << Seed() << "\n";
  std::array<Scalar, 8> scalars;
  std::array<PointBytes, 8> peers;
  for (size_t done = 0; done < cases(); done += 8) {
    for (size_t i = 0; i < 8; ++i) {
      scalars[i] = rng.ValidScalar();
      peers[i] = Pub(rng.ValidScalar());
    }
    ASSERT_NO_FATAL_FAILURE(CheckEcdh(path(), scalars, peers));
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, P256BatchRandomTest,
                         testing::Combine(testing::Values(P256BatchPath::kEmulated,
                                                          P256BatchPath::kIfma),
                                          testing::Range(0, kShards)),
                         [](const testing::TestParamInfo<std::tuple<P256BatchPath, int>>& param) {
                           return PathName(std::get<0>(param.param)) + "Shard" +
                                  std::to_string(std::get<1>(param.param));
                         });

// Each edge scalar goes into every lane in turn, the other lanes random.
TEST_P(P256BatchTest, KeygenMatchesOpenSslOnEdgeScalarsMixedWithRandomLanes) {
  Rng rng(Seed() + 2);
  for (const Scalar& edge : EdgeScalars()) {
    for (size_t lane = 0; lane < 8; ++lane) {
      std::array<Scalar, 8> scalars;
      for (Scalar& s : scalars) {
        s = rng.ValidScalar();
      }
      scalars[lane] = edge;
      ASSERT_NO_FATAL_FAILURE(CheckKeygen(scalars));
    }
  }
  // And all lanes on edge scalars at once.
  const std::vector<Scalar> edges = EdgeScalars();
  for (size_t first = 0; first + 8 <= edges.size(); first += 8) {
    std::array<Scalar, 8> scalars;
    std::copy(edges.begin() + static_cast<ptrdiff_t>(first),
              edges.begin() + static_cast<ptrdiff_t>(first + 8), scalars.begin());
    ASSERT_NO_FATAL_FAILURE(CheckKeygen(scalars));
  }
}

TEST_P(P256BatchTest, EcdhMatchesOpenSslOnEdgeScalarsMixedWithRandomLanes) {
  Rng rng(Seed() + 3);
  const PointBytes peer = Pub(rng.ValidScalar());
  for (const Scalar& edge : EdgeScalars()) {
    for (size_t lane = 0; lane < 8; ++lane) {
      std::array<Scalar, 8> scalars;
      std::array<PointBytes, 8> peers;
      for (size_t i = 0; i < 8; ++i) {
        scalars[i] = rng.ValidScalar();
        peers[i] = Pub(rng.ValidScalar());
      }
      scalars[lane] = edge;
      peers[lane] = peer;
      ASSERT_NO_FATAL_FAILURE(CheckEcdh(scalars, peers));
    }
  }
}

// The generator, its small multiples and -G, -2G as peers, with edge and random scalars: the
// per-lane table then holds multiples of G that the scalar's digits also reach, so the
// complete formulas see doublings, P + (-P) and the identity.
TEST_P(P256BatchTest, EcdhMatchesOpenSslOnSmallMultiplesOfGeneratorAsPeers) {
  Rng rng(Seed() + 4);
  std::vector<PointBytes> peers;
  for (uint64_t k = 1; k <= 17; ++k) {
    peers.push_back(Pub(SmallScalar(k)));
  }
  peers.push_back(Pub(OrderMinus(1)));
  peers.push_back(Pub(OrderMinus(2)));
  peers.push_back(Pub(OrderMinus(8)));
  std::vector<Scalar> scalars = EdgeScalars();
  for (int i = 0; i < 8; ++i) {
    scalars.push_back(rng.ValidScalar());
  }
  for (size_t p = 0; p < peers.size(); ++p) {
    for (size_t first = 0; first < scalars.size(); first += 8) {
      std::array<Scalar, 8> batch;
      std::array<PointBytes, 8> batch_peers;
      for (size_t i = 0; i < 8; ++i) {
        batch[i] = scalars[(first + i) % scalars.size()];
        batch_peers[i] = peers[(p + i) % peers.size()];
      }
      ASSERT_NO_FATAL_FAILURE(CheckEcdh(batch, batch_peers));
    }
  }
}

// Invalid peers in some lanes: their bit is clear and their output is zero, while valid lanes
// in the same batch are still right.
TEST_P(P256BatchTest, EcdhRejectsInvalidPeersLaneByLane) {
  Rng rng(Seed() + 5);
  const PointBytes good = Pub(rng.ValidScalar());
  std::vector<PointBytes> bad;
  PointBytes b = good;
  for (uint8_t prefix : {0x00, 0x02, 0x03, 0x05, 0x06, 0x07, 0xff}) {
    b[0] = prefix;
    bad.push_back(b);
  }
  b = good;
  b[64] ^= 1;  // off the curve
  bad.push_back(b);
  b = good;
  b[10] ^= 0x40;  // x changed: off the curve
  bad.push_back(b);
  b.fill(0);
  b[0] = 0x04;  // (0, 0)
  bad.push_back(b);
  b = good;
  std::memcpy(b.data() + 1, kPrime.data(), 32);  // x = p
  bad.push_back(b);
  b = good;
  std::memcpy(b.data() + 33, kPrime.data(), 32);  // y = p
  bad.push_back(b);
  b.fill(0xff);
  b[0] = 0x04;  // x, y = 2^256 - 1
  bad.push_back(b);
  // (x, y + p) with y + p < 2^256: the same point modulo p, but an invalid encoding.
  for (int tries = 0; tries < 1000; ++tries) {
    const PointBytes q = Pub(rng.ValidScalar());
    Scalar y{};
    std::memcpy(y.data(), q.data() + 33, 32);
    int carry = 0;
    for (int i = 31; i >= 0; --i) {
      const int v = y[i] + kPrime[i] + carry;
      y[i] = static_cast<uint8_t>(v);
      carry = v >> 8;
    }
    if (carry == 0) {
      b = q;
      std::memcpy(b.data() + 33, y.data(), 32);
      bad.push_back(b);
      break;
    }
  }
  for (size_t k = 0; k < bad.size(); ++k) {
    for (size_t lane = 0; lane < 8; ++lane) {
      std::array<Scalar, 8> scalars;
      std::array<PointBytes, 8> peers;
      for (size_t i = 0; i < 8; ++i) {
        scalars[i] = rng.ValidScalar();
        peers[i] = good;
      }
      peers[lane] = bad[k];
      peers[(lane + 3) % 8] = bad[(k + 1) % bad.size()];
      ASSERT_NO_FATAL_FAILURE(CheckEcdh(scalars, peers)) << "bad peer " << k;
      uint8_t in[8][32];
      uint8_t pts[8][65];
      uint8_t out[8][32];
      for (size_t i = 0; i < 8; ++i) {
        std::memcpy(in[i], scalars[i].data(), 32);
        std::memcpy(pts[i], peers[i].data(), 65);
      }
      const uint32_t ok = P256EcdhX8(GetParam(), in, pts, out);
      const uint32_t bad_lanes = (1U << lane) | (1U << ((lane + 3) % 8));
      EXPECT_EQ(ok, 0xffU & ~bad_lanes) << "bad peer " << k;
      const uint8_t zero[32] = {};
      EXPECT_EQ(0, std::memcmp(out[lane], zero, 32));
    }
  }
  // All eight lanes invalid.
  std::array<Scalar, 8> scalars;
  std::array<PointBytes, 8> peers;
  for (size_t i = 0; i < 8; ++i) {
    scalars[i] = rng.ValidScalar();
    peers[i] = bad[i % bad.size()];
  }
  ASSERT_NO_FATAL_FAILURE(CheckEcdh(scalars, peers));
}

// ECDH is symmetric: a·(bG) = b·(aG), with both public keys from the batch keygen.
TEST_P(P256BatchTest, KeygenAndEcdhAgree) {
  Rng rng(Seed() + 6);
  uint8_t a[8][32];
  uint8_t b[8][32];
  for (size_t i = 0; i < 8; ++i) {
    const Scalar sa = rng.ValidScalar();
    const Scalar sb = rng.ValidScalar();
    std::memcpy(a[i], sa.data(), 32);
    std::memcpy(b[i], sb.data(), 32);
  }
  uint8_t pa[8][65];
  uint8_t pb[8][65];
  P256KeygenX8(GetParam(), a, pa);
  P256KeygenX8(GetParam(), b, pb);
  uint8_t ab[8][32];
  uint8_t ba[8][32];
  EXPECT_EQ(P256EcdhX8(GetParam(), a, pb, ab), 0xffU);
  EXPECT_EQ(P256EcdhX8(GetParam(), b, pa, ba), 0xffU);
  EXPECT_EQ(0, std::memcmp(ab, ba, sizeof(ab)));
}

INSTANTIATE_TEST_SUITE_P(Paths, P256BatchTest,
                         testing::Values(P256BatchPath::kEmulated, P256BatchPath::kIfma),
                         [](const testing::TestParamInfo<P256BatchPath>& param) {
                           return PathName(param.param);
                         });

// CpuHasAvx512Ifma agrees with the compiler's own CPU detection (which does not check that the
// OS saves ZMM state, so it may only say yes more often).
TEST(P256BatchDispatchTest, CpuDetectionAgreesWithCompilerBuiltins) {
  __builtin_cpu_init();
  const bool builtin = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512ifma");
  if (CpuHasAvx512Ifma()) {
    EXPECT_TRUE(builtin);
  }
  std::cout << "CpuHasAvx512Ifma() = " << CpuHasAvx512Ifma() << ", builtins say " << builtin
            << "\n";
}

// Without IFMA, a kIfma request must not fault: it runs the emulated kernel.
TEST(P256BatchDispatchTest, IfmaRequestWithoutIfmaFallsBackToEmulation) {
  uint8_t k[8][32] = {};
  for (size_t i = 0; i < 8; ++i) {
    k[i][31] = static_cast<uint8_t>(i + 1);
  }
  uint8_t ifma[8][65];
  uint8_t emu[8][65];
  P256KeygenX8(P256BatchPath::kIfma, k, ifma);
  P256KeygenX8(P256BatchPath::kEmulated, k, emu);
  EXPECT_EQ(0, std::memcmp(ifma, emu, sizeof(ifma)));
}

// Each native SIMD primitive equals its emulated twin bit for bit (IFMA CPUs only), and the
// emulated primitives match a plain definition of the AVX-512 instructions (everywhere).
class P256X8SimdTest : public testing::TestWithParam<P256X8SimdOp> {};

void Reference(P256X8SimdOp op, const uint64_t (&a)[8], const uint64_t (&b)[8],
               const uint64_t (&c)[8], uint64_t (&out)[8]) {
  __extension__ using U128 = unsigned __int128;
  const uint64_t m52 = (uint64_t{1} << 52) - 1;
  uint64_t eq = 0;
  for (int i = 0; i < 8; ++i) {
    eq |= static_cast<uint64_t>(a[i] == b[i]) << i;
  }
  for (int i = 0; i < 8; ++i) {
    const U128 prod = static_cast<U128>(b[i] & m52) * (c[i] & m52);
    switch (op) {
      case P256X8SimdOp::kAdd:
        out[i] = a[i] + b[i];
        break;
      case P256X8SimdOp::kSub:
        out[i] = a[i] - b[i];
        break;
      case P256X8SimdOp::kAnd:
        out[i] = a[i] & b[i];
        break;
      case P256X8SimdOp::kOr:
        out[i] = a[i] | b[i];
        break;
      case P256X8SimdOp::kXor:
        out[i] = a[i] ^ b[i];
        break;
      case P256X8SimdOp::kShiftRight52:
        out[i] = a[i] >> 52;
        break;
      case P256X8SimdOp::kShiftRightArith52:
        out[i] = (a[i] >> 52) | ((a[i] >> 63) != 0 ? ~uint64_t{0} << 12 : 0);
        break;
      case P256X8SimdOp::kShiftRightArith63:
        out[i] = (a[i] >> 63) != 0 ? ~uint64_t{0} : 0;
        break;
      case P256X8SimdOp::kShiftLeft12:
        out[i] = a[i] << 12;
        break;
      case P256X8SimdOp::kMulAdd52Lo:
        out[i] = a[i] + static_cast<uint64_t>(prod & m52);
        break;
      case P256X8SimdOp::kMulAdd52Hi:
        out[i] = a[i] + static_cast<uint64_t>(prod >> 52);
        break;
      case P256X8SimdOp::kEqual:
        out[i] = eq;
        break;
      case P256X8SimdOp::kSelect:
        out[i] = ((c[0] >> i) & 1) != 0 ? a[i] : b[i];
        break;
      case P256X8SimdOp::kBroadcast:
        out[i] = a[0];
        break;
    }
  }
}

TEST_P(P256X8SimdTest, EmulatedAndNativeMatchTheInstructionDefinition) {
  std::mt19937_64 gen(Seed() + 7);
  const bool native = CpuHasAvx512Ifma();
  for (int round = 0; round < 20000; ++round) {
    uint64_t a[8];
    uint64_t b[8];
    uint64_t c[8];
    for (int i = 0; i < 8; ++i) {
      // Mix full-width values with 52-bit limbs and with extremes.
      const uint64_t kind = gen() % 4;
      a[i] = kind == 0 ? gen() : kind == 1 ? gen() >> 12 : kind == 2 ? ~uint64_t{0} : 0;
      b[i] = gen() % 3 == 0 ? a[i] : gen();
      c[i] = gen() % 5 == 0 ? (uint64_t{1} << 52) - 1 : gen();
    }
    uint64_t want[8];
    uint64_t emu[8];
    Reference(GetParam(), a, b, c, want);
    x8emu::SimdOpForTest(GetParam(), a, b, c, emu);
    ASSERT_EQ(0, std::memcmp(want, emu, sizeof(want))) << "emulated, round " << round;
    if (native) {
      uint64_t ifma[8];
      x8ifma::SimdOpForTest(GetParam(), a, b, c, ifma);
      ASSERT_EQ(0, std::memcmp(want, ifma, sizeof(want))) << "native, round " << round;
    }
  }
  if (!native) {
    std::cout << "no AVX-512 IFMA here: only the emulated primitives were checked\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, P256X8SimdTest,
                         testing::Values(P256X8SimdOp::kAdd, P256X8SimdOp::kSub, P256X8SimdOp::kAnd,
                                         P256X8SimdOp::kOr, P256X8SimdOp::kXor,
                                         P256X8SimdOp::kShiftRight52,
                                         P256X8SimdOp::kShiftRightArith52,
                                         P256X8SimdOp::kShiftRightArith63,
                                         P256X8SimdOp::kShiftLeft12, P256X8SimdOp::kMulAdd52Lo,
                                         P256X8SimdOp::kMulAdd52Hi, P256X8SimdOp::kEqual,
                                         P256X8SimdOp::kSelect, P256X8SimdOp::kBroadcast));

}  // namespace
}  // namespace webpush::crypto::internal
