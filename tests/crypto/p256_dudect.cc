// p256_dudect: a dudect-style timing test of the 8-lane P-256 kernel (issue 5, check (b);
// Reparaz, Balasch and Verbauwhede, "Dude, is my code constant time?", DATE 2017). One
// measurement times one 8-lane batch. Each measurement belongs, by a coin flip drawn before the
// run, to the "fixed" class (every lane has the scalar 1, the extreme input with 64 zero digits)
// or the "random" class (fresh uniform scalars); inputs are prepared outside the timed region.
// Welch's t-test compares the classes, on all samples and on samples below three pooled
// percentiles (cropping the tail that preemption on a shared machine adds); the largest |t|
// counts. Time is the thread's CPU time (see ThreadCpuNs). The native IFMA kernel is measured where
// the CPU has it, else the emulated one.
//
// Usage: p256_dudect keygen|ecdh [--leaky] [--expect-leak] [--seconds S] [--threshold T]
//   Passes (exit 0) if max |t| < T (default 10) after the time budget (default 15 s), or, with
//   --expect-leak, if max |t| >= T is reached within the budget (the deliberately leaky variant
//   must be caught; the test stops as soon as it is). Exit 1 otherwise.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/internal/p256.h"
#include "crypto/internal/p256_batch.h"
#include "crypto/internal/p256_x8.h"
#include "crypto/internal/p256_x8_table.h"

namespace webpush::crypto::internal {
namespace {

struct Options {
  bool ecdh = false;
  bool leaky = false;
  bool expect_leak = false;
  double seconds = 15;
  double threshold = 10;
};

// Welch accumulates one class with Welford's online mean and variance.
class Welch {
 public:
  void Add(double x) {
    ++n_;
    const double d = x - mean_;
    mean_ += d / static_cast<double>(n_);
    m2_ += d * (x - mean_);
  }
  [[nodiscard]] size_t n() const { return n_; }
  [[nodiscard]] double mean() const { return mean_; }
  [[nodiscard]] double var() const { return n_ > 1 ? m2_ / static_cast<double>(n_ - 1) : 0; }

 private:
  size_t n_ = 0;
  double mean_ = 0;
  double m2_ = 0;
};

double WelchT(const Welch& a, const Welch& b) {
  if (a.n() < 2 || b.n() < 2) {
    return 0;
  }
  const double se =
      std::sqrt(a.var() / static_cast<double>(a.n()) + b.var() / static_cast<double>(b.n()));
  return se > 0 ? (a.mean() - b.mean()) / se : 0;
}

struct Sample {
  double ns;
  int cls;  // 0 fixed, 1 random
};

// MaxAbsT: the largest |t| over the uncropped samples and three pooled-percentile crops.
double MaxAbsT(const std::vector<Sample>& samples, size_t* used) {
  std::vector<double> sorted;
  sorted.reserve(samples.size());
  for (const Sample& s : samples) {
    sorted.push_back(s.ns);
  }
  std::sort(sorted.begin(), sorted.end());
  double best = 0;
  for (double q : {1.0, 0.9, 0.75, 0.5}) {
    const double limit = sorted[std::min(
        sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())))];
    Welch w[2];
    for (const Sample& s : samples) {
      if (q == 1.0 || s.ns <= limit) {
        w[s.cls].Add(s.ns);
      }
    }
    const double t = std::fabs(WelchT(w[0], w[1]));
    if (t > best) {
      best = t;
      *used = w[0].n() + w[1].n();
    }
  }
  return best;
}

// ThreadCpuNs reads this thread's CPU time. It excludes the time the thread spends preempted,
// which on a shared machine is by far the largest source of noise in a wall-clock measurement,
// while still counting everything the kernel executes (nanosecond resolution on Linux).
double ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

int Run(const Options& opt) {
  const bool native = CpuHasAvx512Ifma();
  std::printf("p256_dudect: measuring the %s kernel, %s%s, budget %.0f s, threshold %.1f\n",
              native ? "native AVX-512 IFMA" : "emulated (no AVX-512 IFMA on this CPU)",
              opt.ecdh ? "ECDH" : "keygen", opt.leaky ? " (deliberately leaky variant)" : "",
              opt.seconds, opt.threshold);
  if (P256X8GetBaseTable() == nullptr) {
    return 2;
  }
  std::mt19937_64 gen(std::random_device{}());
  uint8_t peers[8][65];
  for (auto& peer : peers) {
    uint8_t k[32];
    if (!GenerateP256Scalar(k) || !P256PublicFromPrivate(peer, k)) {
      return 2;
    }
  }
  // Batches of prepared inputs, refilled between rounds outside the timed region.
  constexpr size_t kRound = 64;
  std::vector<std::array<std::array<uint8_t, 32>, 8>> inputs(kRound);
  std::vector<int> classes(kRound);
  std::vector<Sample> samples;
  const auto start = std::chrono::steady_clock::now();
  const auto budget = std::chrono::duration<double>(opt.seconds);
  double t = 0;
  size_t used = 0;
  uint8_t pubs[8][65];
  uint8_t xs[8][32];
  uint8_t scalars[8][32];
  uint64_t sink = 0;
  while (std::chrono::steady_clock::now() - start < budget) {
    for (size_t r = 0; r < kRound; ++r) {
      classes[r] = static_cast<int>(gen() & 1);
      for (auto& lane : inputs[r]) {
        if (classes[r] == 0) {
          lane.fill(0);
          lane[31] = 1;
        } else if (!GenerateP256Scalar(lane)) {
          return 2;
        }
      }
    }
    for (size_t r = 0; r < kRound; ++r) {
      for (size_t i = 0; i < 8; ++i) {
        std::memcpy(scalars[i], inputs[r][i].data(), 32);
      }
      const double t0 = ThreadCpuNs();
      if (opt.ecdh) {
        sink += native ? x8ifma::EcdhX8(scalars, peers, xs, opt.leaky)
                       : x8emu::EcdhX8(scalars, peers, xs, opt.leaky);
      } else if (native) {
        x8ifma::KeygenX8(scalars, pubs, opt.leaky);
      } else {
        x8emu::KeygenX8(scalars, pubs, opt.leaky);
      }
      const double t1 = ThreadCpuNs();
      sink += opt.ecdh ? xs[0][0] : pubs[0][1];
      samples.push_back({t1 - t0, classes[r]});
    }
    t = MaxAbsT(samples, &used);
    if (opt.expect_leak && samples.size() >= 256 && t >= opt.threshold) {
      break;
    }
  }
  Welch w[2];
  for (const Sample& s : samples) {
    w[s.cls].Add(s.ns);
  }
  std::printf(
      "p256_dudect: %zu measurements (fixed %zu, random %zu), mean %.0f / %.0f ns, "
      "max |t| = %.2f (over %zu cropped samples), sink %llu\n",
      samples.size(), w[0].n(), w[1].n(), w[0].mean(), w[1].mean(), t, used,
      static_cast<unsigned long long>(sink & 1));
  const bool leak = t >= opt.threshold;
  if (opt.expect_leak) {
    std::printf("p256_dudect: %s\n", leak ? "PASS: the leaky variant was detected"
                                          : "FAIL: the leaky variant was not detected");
    return leak ? 0 : 1;
  }
  std::printf("p256_dudect: %s\n", leak ? "FAIL: timing depends on the secret scalar"
                                        : "PASS: no timing difference detected");
  return leak ? 1 : 0;
}

}  // namespace
}  // namespace webpush::crypto::internal

int main(int argc, char** argv) {
  webpush::crypto::internal::Options opt;
  bool op_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "keygen" || arg == "ecdh") {
      opt.ecdh = arg == "ecdh";
      op_given = true;
    } else if (arg == "--leaky") {
      opt.leaky = true;
    } else if (arg == "--expect-leak") {
      opt.expect_leak = true;
    } else if (arg == "--seconds" && i + 1 < argc) {
      opt.seconds = std::strtod(argv[++i], nullptr);
    } else if (arg == "--threshold" && i + 1 < argc) {
      opt.threshold = std::strtod(argv[++i], nullptr);
    } else {
      op_given = false;
      break;
    }
  }
  if (!op_given) {
    std::fprintf(stderr,
                 "usage: p256_dudect keygen|ecdh [--leaky] [--expect-leak] "
                 "[--seconds S] [--threshold T]\n");
    return 2;
  }
  return webpush::crypto::internal::Run(opt);
}
