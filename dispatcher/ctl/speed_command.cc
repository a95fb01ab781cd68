#include "dispatcher/ctl/speed_command.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <ostream>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/batch.h"
#include "crypto/ece.h"
#include "crypto/keys.h"

namespace webpush::dispatcher::ctl {
namespace {

using Clock = std::chrono::steady_clock;

enum class Test { kEncrypt, kKeygen, kEcdh };
constexpr Test kTests[] = {Test::kEncrypt, Test::kKeygen, Test::kEcdh};

std::string_view TestName(Test test) {
  switch (test) {
    case Test::kEncrypt:
      return "encrypt";
    case Test::kKeygen:
      return "p256-keygen";
    case Test::kEcdh:
      return "p256-ecdh";
  }
  return "";
}

// Worker is one thread's state for one path: recipients, buffers and an encryptor, all built
// before the clock starts.
class Worker {
 public:
  // Create builds a worker; `single` runs the single-message reference path (crypto::EncryptInto)
  // for the encrypt test, otherwise the batch encryptor made from `option`.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(bool single, crypto::PathOption option,
                                                        const SpeedOptions& options) {
    crypto::BatchOptions batch_options;
    batch_options.path = single ? crypto::PathOption::kReference : option;
    // The reference row is the lean reference path whatever the environment says.
    batch_options.use_environment = !single;
    absl::StatusOr<crypto::BatchEncryptor> encryptor =
        crypto::BatchEncryptor::Create(batch_options);
    if (!encryptor.ok()) {
      return encryptor.status();
    }
    auto worker = std::unique_ptr<Worker>(new Worker(single, *std::move(encryptor)));
    worker->payload_.assign(options.payload_size, 'p');
    worker->subscriptions_.resize(options.batch);
    for (crypto::SubscriptionKeys& sub : worker->subscriptions_) {
      absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate();
      absl::StatusOr<crypto::AuthSecret> auth = crypto::GenerateAuthSecret();
      if (!key.ok() || !auth.ok()) {
        return absl::InternalError("key generation for the test subscriptions failed");
      }
      sub.p256dh = key->public_key();
      sub.auth = *auth;
      worker->peers_.push_back(key->public_key());
    }
    worker->bodies_.assign(options.batch * crypto::kMaxBodySize, 0);
    worker->items_.resize(options.batch);
    worker->results_.resize(options.batch);
    for (size_t i = 0; i < options.batch; ++i) {
      crypto::BatchItem& item = worker->items_[i];
      item.to = &worker->subscriptions_[i];
      item.plaintext = worker->payload_;
      item.out = std::span<uint8_t>(worker->bodies_)
                     .subspan(i * crypto::kMaxBodySize, crypto::kMaxBodySize);
    }
    return worker;
  }

  [[nodiscard]] crypto::P256Path path() const { return encryptor_.path(); }

  // Step runs one batch of `test` and returns the number of operations done.
  absl::StatusOr<size_t> Step(Test test) {
    switch (test) {
      case Test::kEncrypt:
        return single_ ? EncryptOneByOne() : EncryptBatch();
      case Test::kKeygen:
        if (absl::Status s = encryptor_.GenerateKeysForSpeed(items_.size()); !s.ok()) {
          return s;
        }
        return items_.size();
      case Test::kEcdh:
        if (absl::Status s = encryptor_.AgreeForSpeed(peers_); !s.ok()) {
          return s;
        }
        return peers_.size();
    }
    return 0;
  }

 private:
  Worker(bool single, crypto::BatchEncryptor encryptor) : single_(single), encryptor_(encryptor) {}

  absl::StatusOr<size_t> EncryptOneByOne() {
    for (size_t i = 0; i < items_.size(); ++i) {
      absl::StatusOr<size_t> written =
          crypto::EncryptInto(items_[i].out, subscriptions_[i], payload_);
      if (!written.ok()) {
        return written.status();
      }
    }
    return items_.size();
  }

  absl::StatusOr<size_t> EncryptBatch() {
    if (absl::Status s = encryptor_.Encrypt(items_, results_); !s.ok()) {
      return s;
    }
    for (size_t i = 0; i < results_.size(); ++i) {
      if (results_[i].outcome != crypto::BatchOutcome::kOk) {
        return crypto::BatchItemStatus(i, results_[i]);
      }
    }
    return items_.size();
  }

  bool single_;
  crypto::BatchEncryptor encryptor_;
  std::vector<uint8_t> payload_;
  std::vector<crypto::SubscriptionKeys> subscriptions_;
  std::vector<crypto::P256PublicKey> peers_;
  std::vector<uint8_t> bodies_;
  std::vector<crypto::BatchItem> items_;
  std::vector<crypto::BatchResult> results_;
};

struct Rate {
  double per_thread = 0;  // mean over threads of operations per second
  double total = 0;       // sum over threads
};

// RunTest runs `test` on every worker, one thread each, for `seconds`.
absl::StatusOr<Rate> RunTest(std::vector<std::unique_ptr<Worker>>& workers, Test test,
                             double seconds) {
  struct Outcome {
    absl::Status status;
    double ops_per_second = 0;
  };
  std::vector<Outcome> outcomes(workers.size());
  std::atomic<bool> go{false};
  const auto budget = std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (size_t t = 0; t < workers.size(); ++t) {
    threads.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) {
        std::this_thread::yield();
      }
      size_t ops = 0;
      const Clock::time_point start = Clock::now();
      Clock::time_point now = start;
      do {
        absl::StatusOr<size_t> done = workers[t]->Step(test);
        if (!done.ok()) {
          outcomes[t].status = done.status();
          return;
        }
        ops += *done;
        now = Clock::now();
      } while (now - start < budget);
      outcomes[t].ops_per_second =
          static_cast<double>(ops) / std::chrono::duration<double>(now - start).count();
    });
  }
  go.store(true, std::memory_order_release);
  for (std::thread& thread : threads) {
    thread.join();
  }
  Rate rate;
  for (const Outcome& o : outcomes) {
    if (!o.status.ok()) {
      std::string message(TestName(test));
      message += ": ";
      message.append(o.status.message().data(), o.status.message().size());
      return absl::InternalError(message);
    }
    rate.total += o.ops_per_second;
  }
  rate.per_thread = rate.total / static_cast<double>(workers.size());
  return rate;
}

absl::Status CheckOptions(const SpeedOptions& options) {
  if (!(options.seconds > 0 && options.seconds <= 3600)) {
    return absl::InvalidArgumentError("--seconds: must be more than 0 and at most 3600");
  }
  if (options.payload_size > crypto::kMaxPlaintextSize) {
    return absl::InvalidArgumentError("--payload-size: " + std::to_string(options.payload_size) +
                                      " exceeds the 3993-byte limit of a Web Push message");
  }
  if (options.batch < 1 || options.batch > 4096) {
    return absl::InvalidArgumentError("--batch: must be from 1 to 4096");
  }
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError("--threads: must be from 1 to 256");
  }
  return absl::OkStatus();
}

std::string Format(const char* format, double value) {
  std::array<char, 32> buf{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): no std::format in GCC 12
  std::snprintf(buf.data(), buf.size(), format, value);
  return buf.data();
}

std::string Pad(std::string_view text, size_t width, bool right) {
  const std::string fill(width > text.size() ? width - text.size() : 0, ' ');
  return right ? fill + std::string(text) : std::string(text) + fill;
}

struct Row {
  std::string path;
  std::string p256;
  Test test = Test::kEncrypt;
  Rate rate;
};

}  // namespace

absl::Status Speed(const SpeedOptions& options, std::ostream& out) {
  if (absl::Status s = CheckOptions(options); !s.ok()) {
    return s;
  }
  absl::StatusOr<crypto::PathOption> option = crypto::ParsePathOption(options.path, "--path");
  if (!option.ok()) {
    return option.status();
  }
  if (*option == crypto::PathOption::kEmulated) {
    return absl::InvalidArgumentError("--path: must be reference, batch or auto");
  }
  // Which rows: the reference path, the batch encryptor, or both (auto).
  std::vector<std::pair<std::string, bool>> paths;  // (row name, single-message reference)
  if (*option != crypto::PathOption::kBatch) {
    paths.emplace_back("reference", true);
  }
  if (*option != crypto::PathOption::kReference) {
    paths.emplace_back("batch", false);
  }

  // A bad WEBPUSH_CRYPTO_PATH fails here, before anything is printed.
  crypto::BatchOptions probe;
  probe.path = *option;
  if (absl::StatusOr<crypto::BatchEncryptor> e = crypto::BatchEncryptor::Create(probe); !e.ok()) {
    return e.status();
  }

  const unsigned cores = std::thread::hardware_concurrency();
  out << "webpushctl speed: " << Format("%g", options.seconds) << " s per test, " << options.threads
      << " thread(s) on " << cores << " hardware thread(s), payload " << options.payload_size
      << " B, batch " << options.batch << "\n";
  out << "cpu: avx512ifma " << (crypto::CpuHasAvx512Ifma() ? "yes" : "no") << "\n";
  if (static_cast<unsigned>(options.threads) > cores && cores > 0) {
    out << "note: more threads than hardware threads; per-core figures are per thread\n";
  }
  out << Pad("path", 10, false) << Pad("p256", 10, false) << Pad("test", 12, false)
      << Pad("ops/s/core", 14, true) << Pad("ops/s total", 14, true) << "\n";
  out.flush();

  std::vector<Row> rows;
  for (const auto& [name, single] : paths) {
    std::vector<std::unique_ptr<Worker>> workers;
    for (int t = 0; t < options.threads; ++t) {
      absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(single, *option, options);
      if (!worker.ok()) {
        return worker.status();
      }
      workers.push_back(*std::move(worker));
    }
    const std::string p256(crypto::P256PathName(workers.front()->path()));
    for (Test test : kTests) {
      absl::StatusOr<Rate> rate = RunTest(workers, test, options.seconds);
      if (!rate.ok()) {
        return rate.status();
      }
      out << Pad(name, 10, false) << Pad(p256, 10, false) << Pad(TestName(test), 12, false)
          << Pad(Format("%.1f", rate->per_thread), 14, true)
          << Pad(Format("%.1f", rate->total), 14, true) << "\n";
      out.flush();
      rows.push_back({name, p256, test, *rate});
    }
  }
  if (rows.size() == 2 * std::size(kTests)) {
    for (size_t i = 0; i < std::size(kTests); ++i) {
      const Row& reference = rows[i];
      const Row& batch = rows[i + std::size(kTests)];
      out << "ratio batch/reference " << TestName(reference.test) << ": "
          << Format("%.2f", batch.rate.total / reference.rate.total) << "x\n";
    }
  }
  return out ? absl::OkStatus() : absl::DataLossError("stdout: write error");
}

}  // namespace webpush::dispatcher::ctl
