// Benchmarks of the 8-lane P-256 kernels (issue 5) against OpenSSL, in items (scalar
// multiplications) per second:
//   BM_P256Keygen/<path>   8 public keys per iteration (k·G, uncompressed encoding)
//   BM_P256Ecdh/<path>     8 shared x-coordinates per iteration (peer validation included)
//   BM_OpenSslFixedBaseMul EC_POINT_mul(k, G) + EC_POINT_point2oct, one key per iteration
//   BM_OpenSslVariableMul  EC_POINT_mul(k, P) alone, one product per iteration
// The paths are `reference` (OpenSSL lanes), `emulated` (the kernel on the portable emulation)
// and `ifma` (registered only where CpuHasAvx512Ifma()). After the run the program prints each
// kernel's speed-up over OpenSSL from the same run's items_per_second. Issue 5's bars (on an
// IFMA CPU): ECDH >= 4x BM_OpenSslVariableMul, keygen >= 3x BM_OpenSslFixedBaseMul.
//
// This benchmark exercises crypto/internal/ on purpose (like the crypto tests), so
// scripts/lint.sh exempts this one file from the include-boundary check.
#include <benchmark/benchmark.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/internal/p256.h"
#include "crypto/internal/p256_batch.h"

namespace webpush::crypto::internal {
namespace {

// Inputs: eight random valid scalars and eight valid peers.
struct Inputs {
  uint8_t scalars[8][32];
  uint8_t peers[8][65];
  bool ok = true;
};

const Inputs& GetInputs() {
  static const Inputs kInputs = [] {
    Inputs in;
    for (size_t i = 0; i < 8; ++i) {
      uint8_t k[32];
      in.ok = in.ok && GenerateP256Scalar(std::span<uint8_t, 32>(in.scalars[i], 32)) &&
              GenerateP256Scalar(k) &&
              P256PublicFromPrivate(std::span<uint8_t, 65>(in.peers[i], 65), k);
    }
    return in;
  }();
  return kInputs;
}

void BM_P256Keygen(benchmark::State& state, P256BatchPath path) {
  const Inputs& in = GetInputs();
  if (!in.ok) {
    state.SkipWithError("input generation failed");
    return;
  }
  uint8_t pubs[8][65];
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    P256KeygenX8(path, in.scalars, pubs);
    benchmark::DoNotOptimize(pubs);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 8);
}

void BM_P256Ecdh(benchmark::State& state, P256BatchPath path) {
  const Inputs& in = GetInputs();
  if (!in.ok) {
    state.SkipWithError("input generation failed");
    return;
  }
  uint8_t xs[8][32];
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    if (P256EcdhX8(path, in.scalars, in.peers, xs) != 0xff) {
      state.SkipWithError("ECDH failed");
      return;
    }
    benchmark::DoNotOptimize(xs);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 8);
}

// OpenSsl holds the raw OpenSSL objects for the baselines.
struct OpenSsl {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM* k = BN_new();
  EC_POINT* peer = group != nullptr ? EC_POINT_new(group) : nullptr;
  EC_POINT* out = group != nullptr ? EC_POINT_new(group) : nullptr;
  OpenSsl() {
    const Inputs& in = GetInputs();
    if (ok()) {
      BN_bin2bn(in.scalars[0], 32, k);
      BN_set_flags(k, BN_FLG_CONSTTIME);
      EC_POINT_oct2point(group, peer, in.peers[0], 65, ctx);
    }
  }
  ~OpenSsl() {
    EC_POINT_free(out);
    EC_POINT_free(peer);
    BN_clear_free(k);
    BN_CTX_free(ctx);
    EC_GROUP_free(group);
  }
  OpenSsl(const OpenSsl&) = delete;
  OpenSsl& operator=(const OpenSsl&) = delete;
  OpenSsl(OpenSsl&&) = delete;
  OpenSsl& operator=(OpenSsl&&) = delete;
  [[nodiscard]] bool ok() const {
    return group != nullptr && ctx != nullptr && k != nullptr && peer != nullptr && out != nullptr;
  }
};

void BM_OpenSslFixedBaseMul(benchmark::State& state) {
  OpenSsl o;
  if (!o.ok()) {
    state.SkipWithError("OpenSSL set-up failed");
    return;
  }
  uint8_t pub[65];
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    if (EC_POINT_mul(o.group, o.out, o.k, nullptr, nullptr, o.ctx) != 1 ||
        EC_POINT_point2oct(o.group, o.out, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub),
                           o.ctx) != sizeof(pub)) {
      state.SkipWithError("EC_POINT_mul failed");
      return;
    }
    benchmark::DoNotOptimize(pub);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenSslFixedBaseMul);

void BM_OpenSslVariableMul(benchmark::State& state) {
  OpenSsl o;
  if (!o.ok()) {
    state.SkipWithError("OpenSSL set-up failed");
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    if (EC_POINT_mul(o.group, o.out, nullptr, o.peer, o.k, o.ctx) != 1) {
      state.SkipWithError("EC_POINT_mul failed");
      return;
    }
    benchmark::DoNotOptimize(o.out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenSslVariableMul);

// RateReporter prints the console output as usual and keeps each benchmark's items_per_second
// for the ratios printed at the end.
class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (!run.error_occurred && it != run.counters.end() && run.aggregate_name.empty()) {
        rates_[run.benchmark_name()] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // PrintRatios prints kernel rate / baseline rate for every kernel benchmark that ran.
  void PrintRatios() const {
    const auto fixed = rates_.find("BM_OpenSslFixedBaseMul");
    const auto variable = rates_.find("BM_OpenSslVariableMul");
    std::printf("\nSpeed-up over OpenSSL in this run (items/s ratio):\n");
    for (const auto& [name, rate] : rates_) {
      const bool keygen = name.rfind("BM_P256Keygen/", 0) == 0;
      const bool ecdh = name.rfind("BM_P256Ecdh/", 0) == 0;
      const auto& base = keygen ? fixed : variable;
      if ((!keygen && !ecdh) || base == rates_.end() || base->second <= 0) {
        continue;
      }
      std::printf("  %-28s %10.0f items/s  %6.2fx %s\n", name.c_str(), rate, rate / base->second,
                  keygen ? "BM_OpenSslFixedBaseMul (bar: 3x with ifma)"
                         : "BM_OpenSslVariableMul (bar: 4x with ifma)");
    }
    if (!CpuHasAvx512Ifma()) {
      std::printf("  (no AVX-512 IFMA on this CPU: the ifma path was not measured)\n");
    }
  }

 private:
  std::map<std::string, double> rates_;
};

void RegisterKernelBenchmarks() {
  struct Path {
    const char* name;
    P256BatchPath path;
  };
  std::vector<Path> paths = {{"reference", P256BatchPath::kReference},
                             {"emulated", P256BatchPath::kEmulated}};
  if (CpuHasAvx512Ifma()) {
    paths.push_back({"ifma", P256BatchPath::kIfma});
  }
  for (const Path& p : paths) {
    benchmark::RegisterBenchmark((std::string("BM_P256Keygen/") + p.name).c_str(), BM_P256Keygen,
                                 p.path);
    benchmark::RegisterBenchmark((std::string("BM_P256Ecdh/") + p.name).c_str(), BM_P256Ecdh,
                                 p.path);
  }
}

}  // namespace
}  // namespace webpush::crypto::internal

int main(int argc, char** argv) {
  webpush::crypto::internal::RegisterKernelBenchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  webpush::crypto::internal::RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
