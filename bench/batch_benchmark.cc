// Batch encryption (issue 5) against the single-message reference path, in one run: messages per
// second for batch sizes 1, 8, 64 and 512 at 100 B, 1000 B and 3993 B on every P-256 path this
// machine can run (reference = OpenSSL lanes; ifma only on an AVX-512 IFMA CPU; emulated = the
// IFMA kernel's portable emulation, for comparison only), plus the P-256 key generation and ECDH
// rates per path. After the run a table prints the ratio of each batch configuration to the
// reference path (crypto::EncryptInto, one message at a time) at the same payload size.
// Results: bench/README.md.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "crypto/batch.h"
#include "crypto/ece.h"
#include "crypto/keys.h"

namespace webpush::crypto {
namespace {

constexpr int64_t kBatchSizes[] = {1, 8, 64, 512};
constexpr int64_t kPayloadSizes[] = {100, 1000, 3993};

// Recipients holds `n` subscriptions with their output buffers and batch items for one payload.
struct Recipients {
  std::vector<SubscriptionKeys> keys;
  std::vector<P256PublicKey> peers;
  std::vector<uint8_t> payload;
  std::vector<uint8_t> bodies;
  std::vector<BatchItem> items;
  std::vector<BatchResult> results;
};

bool MakeRecipients(Recipients& r, size_t n, size_t payload_size) {
  r.keys.resize(n);
  for (SubscriptionKeys& k : r.keys) {
    absl::StatusOr<P256KeyPair> key = P256KeyPair::Generate();
    absl::StatusOr<AuthSecret> auth = GenerateAuthSecret();
    if (!key.ok() || !auth.ok()) {
      return false;
    }
    k.p256dh = key->public_key();
    k.auth = *auth;
    r.peers.push_back(k.p256dh);
  }
  r.payload.assign(payload_size, 'p');
  r.bodies.assign(n * kMaxBodySize, 0);
  r.items.resize(n);
  r.results.resize(n);
  for (size_t i = 0; i < n; ++i) {
    r.items[i].to = &r.keys[i];
    r.items[i].plaintext = r.payload;
    r.items[i].out = std::span<uint8_t>(r.bodies).subspan(i * kMaxBodySize, kMaxBodySize);
  }
  return true;
}

absl::StatusOr<BatchEncryptor> Encryptor(PathOption option) {
  BatchOptions options;
  options.path = option;
  options.use_environment = false;  // the benchmark names its paths itself
  return BatchEncryptor::Create(options);
}

// BM_ReferenceEncrypt: crypto::EncryptInto, one message per iteration (the baseline).
void BM_ReferenceEncrypt(benchmark::State& state) {
  Recipients r;
  if (!MakeRecipients(r, 1, static_cast<size_t>(state.range(0)))) {
    state.SkipWithError("key generation failed");
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    absl::StatusOr<size_t> written = EncryptInto(r.items[0].out, r.keys[0], r.payload);
    if (!written.ok()) {
      state.SkipWithError("EncryptInto failed");
      return;
    }
    benchmark::DoNotOptimize(*written);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// BM_BatchEncrypt: one BatchEncryptor::Encrypt call of `batch` messages per iteration.
void BM_BatchEncrypt(benchmark::State& state, PathOption option) {
  const auto batch = static_cast<size_t>(state.range(0));
  absl::StatusOr<BatchEncryptor> encryptor = Encryptor(option);
  Recipients r;
  if (!encryptor.ok() || !MakeRecipients(r, batch, static_cast<size_t>(state.range(1)))) {
    state.SkipWithError("set-up failed");
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    if (!encryptor->Encrypt(r.items, r.results).ok() ||
        r.results.back().outcome != BatchOutcome::kOk) {
      state.SkipWithError("Encrypt failed");
      return;
    }
    benchmark::DoNotOptimize(r.bodies.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * state.range(1));
}

// BM_P256Keygen / BM_P256Ecdh: the two scalar multiplications of a message, 64 per iteration.
void BM_P256Keygen(benchmark::State& state, PathOption option) {
  absl::StatusOr<BatchEncryptor> encryptor = Encryptor(option);
  if (!encryptor.ok()) {
    state.SkipWithError("set-up failed");
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    if (!encryptor->GenerateKeysForSpeed(64).ok()) {
      state.SkipWithError("GenerateKeysForSpeed failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
}

void BM_P256Ecdh(benchmark::State& state, PathOption option) {
  absl::StatusOr<BatchEncryptor> encryptor = Encryptor(option);
  Recipients r;
  if (!encryptor.ok() || !MakeRecipients(r, 64, 0)) {
    state.SkipWithError("set-up failed");
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    if (!encryptor->AgreeForSpeed(r.peers).ok()) {
      state.SkipWithError("AgreeForSpeed failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
}

// RatioReporter prints what the console reporter prints and keeps items_per_second per
// benchmark name for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Colour only on a terminal, as the default reporter does, so logs (test.sh) stay plain text.
  RatioReporter() : ConsoleReporter(isatty(STDOUT_FILENO) != 0 ? OO_Color : OO_None) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      // With --benchmark_repetitions, the median stands for the name; otherwise the only run.
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type != Run::RT_Iteration && !median) {
        continue;
      }
      const auto it = run.counters.find("items_per_second");
      if (it == run.counters.end() || run.error_occurred) {
        continue;
      }
      std::string name = run.run_name.str();
      if (median || rates_.count(name) == 0) {
        rates_[std::move(name)] = it->second.value;
      }
    }
  }

  [[nodiscard]] double Rate(const std::string& name) const {
    const auto it = rates_.find(name);
    return it == rates_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> rates_;
};

std::vector<std::pair<std::string, PathOption>> Paths() {
  std::vector<std::pair<std::string, PathOption>> paths = {{"reference", PathOption::kReference}};
  if (CpuHasAvx512Ifma()) {
    paths.emplace_back("ifma", PathOption::kBatch);
  }
  paths.emplace_back("emulated", PathOption::kEmulated);
  return paths;
}

void PrintRatios(const RatioReporter& reporter) {
  std::printf(
      "\nmessages/s of BatchEncryptor / messages/s of the reference EncryptInto, same payload "
      "(same run):\n");
  std::printf("%-10s %7s %12s", "path", "bytes", "reference/s");
  for (int64_t batch : kBatchSizes) {
    std::printf("  batch %-4lld", static_cast<long long>(batch));
  }
  std::printf("\n");
  for (const auto& [path, option] : Paths()) {
    for (int64_t bytes : kPayloadSizes) {
      const double reference = reporter.Rate("BM_ReferenceEncrypt/bytes:" + std::to_string(bytes));
      std::printf("%-10s %7lld %12.0f", path.c_str(), static_cast<long long>(bytes), reference);
      for (int64_t batch : kBatchSizes) {
        const double rate =
            reporter.Rate("BM_BatchEncrypt/path:" + path + "/batch:" + std::to_string(batch) +
                          "/bytes:" + std::to_string(bytes));
        if (rate > 0 && reference > 0) {
          std::printf("  %9.2fx", rate / reference);
        } else {
          std::printf("  %10s", "-");
        }
      }
      std::printf("\n");
    }
  }
}

}  // namespace
}  // namespace webpush::crypto

int main(int argc, char** argv) {
  namespace c = webpush::crypto;
  benchmark::RegisterBenchmark("BM_ReferenceEncrypt", c::BM_ReferenceEncrypt)
      ->ArgNames({"bytes"})
      ->Arg(100)
      ->Arg(1000)
      ->Arg(3993);
  for (const auto& [path, option] : c::Paths()) {
    const c::PathOption o = option;
    benchmark::RegisterBenchmark(("BM_BatchEncrypt/path:" + path).c_str(),
                                 [o](benchmark::State& state) { c::BM_BatchEncrypt(state, o); })
        ->ArgNames({"batch", "bytes"})
        ->ArgsProduct({{std::begin(c::kBatchSizes), std::end(c::kBatchSizes)},
                       {std::begin(c::kPayloadSizes), std::end(c::kPayloadSizes)}});
    benchmark::RegisterBenchmark(("BM_P256Keygen/path:" + path).c_str(),
                                 [o](benchmark::State& state) { c::BM_P256Keygen(state, o); });
    benchmark::RegisterBenchmark(("BM_P256Ecdh/path:" + path).c_str(),
                                 [o](benchmark::State& state) { c::BM_P256Ecdh(state, o); });
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  c::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  c::PrintRatios(reporter);
  benchmark::Shutdown();
  return 0;
}
