// BatchEncryptor against the reference path: every item of a batch must be byte for byte what
// EncryptWithKeyAndSalt produces with the same ephemeral key and salt, on every P-256 path, for
// batch sizes around the 8-lane boundary, every payload size class, padding, and invalid items
// scattered over random lanes. ctest runs this binary twice: as is, and with
// WEBPUSH_CRYPTO_PATH=reference (the forced portable path).
#include "crypto/batch.h"

#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ece.h"
#include "crypto/internal/p256_batch.h"
#include "crypto/keys.h"
#include "gtest/gtest.h"
#include "tests/crypto/test_recipients.h"

namespace webpush::crypto {
namespace {

using Scalar = std::array<uint8_t, kP256PrivateKeySize>;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// EnvironmentPath is what WEBPUSH_CRYPTO_PATH forces for this process (the portable ctest run
// sets it to `reference`).
std::optional<std::string> EnvironmentPath() {
  const char* value = std::getenv("WEBPUSH_CRYPTO_PATH");  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

// ScopedEnvironment sets WEBPUSH_CRYPTO_PATH for one test and restores it afterwards.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const char* value) : saved_(EnvironmentPath()) {
    if (value == nullptr) {
      unsetenv("WEBPUSH_CRYPTO_PATH");  // NOLINT(concurrency-mt-unsafe)
    } else {
      setenv("WEBPUSH_CRYPTO_PATH", value, 1);  // NOLINT(concurrency-mt-unsafe)
    }
  }
  ~ScopedEnvironment() {
    if (saved_) {
      setenv("WEBPUSH_CRYPTO_PATH", saved_->c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    } else {
      unsetenv("WEBPUSH_CRYPTO_PATH");  // NOLINT(concurrency-mt-unsafe)
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::optional<std::string> saved_;
};

BatchOptions Options(PathOption path, bool use_environment = true) {
  BatchOptions o;
  o.path = path;
  o.use_environment = use_environment;
  return o;
}

P256Path ExpectedPath(PathOption option) {
  const std::optional<std::string> env = EnvironmentPath();
  const bool ifma = CpuHasAvx512Ifma();
  if (option == PathOption::kReference || env == "reference") {
    return P256Path::kReference;
  }
  if (option == PathOption::kEmulated) {
    return P256Path::kEmulated;
  }
  if (option == PathOption::kBatch || env == "batch") {
    return ifma ? P256Path::kIfma : P256Path::kEmulated;
  }
  return ifma ? P256Path::kIfma : P256Path::kReference;
}

// A Case is one batch with everything needed to compute the reference result of each item.
struct Case {
  std::vector<Recipient> recipients;
  std::vector<std::vector<uint8_t>> plaintexts;
  std::vector<P256KeyPair> ephemeral;
  std::vector<Scalar> scalars;
  std::vector<Salt> salts;
  std::vector<std::vector<uint8_t>> outs;
  std::vector<BatchItem> items;
  std::vector<BatchResult> results;
};

constexpr size_t kSizes[] = {0, 1, 100, 1000, 3993};

// MakeCase builds `n` valid items with payload sizes from kSizes and random padding.
Case MakeCase(std::mt19937& rng, size_t n) {
  Case c;
  c.recipients.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    c.recipients.push_back(NewRecipient());
    const size_t size = kSizes[rng() % std::size(kSizes)];
    c.plaintexts.push_back(RandomBytes(rng, size));
    auto key = P256KeyPair::Generate();
    EXPECT_TRUE(key.ok());
    Scalar scalar{};
    std::copy(key->private_key().begin(), key->private_key().end(), scalar.begin());
    c.scalars.push_back(scalar);
    c.ephemeral.push_back(std::move(*key));
    Salt salt{};
    const std::vector<uint8_t> salt_bytes = RandomBytes(rng, kSaltSize);
    std::copy(salt_bytes.begin(), salt_bytes.end(), salt.begin());
    c.salts.push_back(salt);
  }
  c.items.resize(n);
  c.outs.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t budget = kMaxPlaintextSize - c.plaintexts[i].size();
    c.items[i].padding = rng() % 3 == 0 ? rng() % (std::min<size_t>(budget, 300) + 1) : 0;
    c.outs[i].assign(EncryptedSize(c.plaintexts[i].size(), c.items[i].padding) + rng() % 3, 0xaa);
    c.items[i].to = &c.recipients[i].subscription;
    c.items[i].plaintext = c.plaintexts[i];
    c.items[i].out = c.outs[i];
  }
  c.results.assign(n, BatchResult{});
  return c;
}

// ExpectMatchesReference checks item `i`: result OK, body equal to EncryptWithKeyAndSalt's and
// decryptable by the recipient.
void ExpectMatchesReference(const Case& c, size_t i) {
  const BatchResult& r = c.results[i];
  ASSERT_EQ(r.outcome, BatchOutcome::kOk) << "item " << i << ": " << BatchItemStatus(i, r);
  auto expected = EncryptWithKeyAndSalt(c.recipients[i].subscription, c.plaintexts[i],
                                        c.ephemeral[i], c.salts[i], c.items[i].padding);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(r.size, expected->size()) << "item " << i;
  EXPECT_TRUE(std::equal(expected->begin(), expected->end(), c.outs[i].begin())) << "item " << i;
  auto decrypted = Decrypt(std::span<const uint8_t>(c.outs[i]).first(r.size), c.recipients[i].key,
                           c.recipients[i].subscription.auth);
  ASSERT_TRUE(decrypted.ok()) << "item " << i << ": " << decrypted.status();
  EXPECT_EQ(*decrypted, c.plaintexts[i]) << "item " << i;
}

class BatchEncryptorTest : public ::testing::TestWithParam<PathOption> {
 protected:
  BatchEncryptor NewEncryptor() {
    auto encryptor = BatchEncryptor::Create(Options(GetParam()));
    EXPECT_TRUE(encryptor.ok()) << encryptor.status();
    EXPECT_EQ(encryptor->path(), ExpectedPath(GetParam()));
    return *std::move(encryptor);
  }
};

TEST_P(BatchEncryptorTest, EqualsTheReferencePathByteForByte) {
  std::mt19937 rng(static_cast<uint32_t>(GetParam()) * 1000 + 5);
  BatchEncryptor encryptor = NewEncryptor();
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{63}, size_t{64},
                   size_t{65}, size_t{513}}) {
    SCOPED_TRACE(::testing::Message() << "n = " << n);
    Case c = MakeCase(rng, n);
    ASSERT_TRUE(encryptor.EncryptWithKeysAndSalts(c.items, c.scalars, c.salts, c.results).ok());
    for (size_t i = 0; i < n; ++i) {
      ExpectMatchesReference(c, i);
    }
  }
}

TEST_P(BatchEncryptorTest, EverySizeClassAndPaddingInOneBatch) {
  std::mt19937 rng(77);
  BatchEncryptor encryptor = NewEncryptor();
  Case c = MakeCase(rng, 3 * std::size(kSizes));
  for (size_t i = 0; i < c.items.size(); ++i) {
    const size_t size = kSizes[i % std::size(kSizes)];
    c.plaintexts[i] = RandomBytes(rng, size);
    c.items[i].plaintext = c.plaintexts[i];
    // No padding, one byte, and the whole remaining budget.
    const size_t budget = kMaxPlaintextSize - size;
    c.items[i].padding = i / std::size(kSizes) == 0 ? 0 : (i / std::size(kSizes) == 1 ? 1 : budget);
    if (size == kMaxPlaintextSize && c.items[i].padding == 1) {
      c.items[i].padding = 0;
    }
    c.outs[i].assign(EncryptedSize(size, c.items[i].padding), 0);
    c.items[i].out = c.outs[i];
  }
  ASSERT_TRUE(encryptor.EncryptWithKeysAndSalts(c.items, c.scalars, c.salts, c.results).ok());
  for (size_t i = 0; i < c.items.size(); ++i) {
    ExpectMatchesReference(c, i);
    EXPECT_LE(c.results[i].size, kMaxBodySize);
  }
}

TEST_P(BatchEncryptorTest, InvalidItemsFailAloneInRandomLanes) {
  std::mt19937 rng(9);
  BatchEncryptor encryptor = NewEncryptor();
  for (size_t n : {size_t{9}, size_t{64}, size_t{131}}) {
    SCOPED_TRACE(::testing::Message() << "n = " << n);
    Case c = MakeCase(rng, n);
    std::vector<BatchOutcome> expected(n, BatchOutcome::kOk);
    const std::vector<uint8_t> too_big(kMaxPlaintextSize + 1, 'x');
    SubscriptionKeys off_curve = c.recipients[0].subscription;
    off_curve.p256dh[64] ^= 0x01;
    SubscriptionKeys bad_prefix = c.recipients[0].subscription;
    bad_prefix.p256dh[0] = 0x05;
    SubscriptionKeys zero_point{};
    zero_point.p256dh[0] = 0x04;
    const Scalar zero_scalar{};
    const Scalar order = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                          0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                          0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 3 != 0) {
        continue;
      }
      switch (rng() % 9) {
        case 0:
          c.items[i].plaintext = too_big;
          expected[i] = BatchOutcome::kPayloadTooLarge;
          break;
        case 1:
          c.items[i].padding = kMaxPlaintextSize + 1 - c.items[i].plaintext.size();
          expected[i] = BatchOutcome::kPaddingTooLarge;
          break;
        case 2:
          c.items[i].out = c.items[i].out.first(
              EncryptedSize(c.items[i].plaintext.size(), c.items[i].padding) - 1);
          expected[i] = BatchOutcome::kOutputTooSmall;
          break;
        case 3:
          c.items[i].to = nullptr;
          expected[i] = BatchOutcome::kMissingRecipient;
          break;
        case 4:
          c.items[i].to = &off_curve;
          expected[i] = BatchOutcome::kInvalidP256dh;
          break;
        case 5:
          c.items[i].to = &bad_prefix;
          expected[i] = BatchOutcome::kInvalidP256dh;
          break;
        case 6:
          c.items[i].to = &zero_point;
          expected[i] = BatchOutcome::kInvalidP256dh;
          break;
        case 7:
          c.scalars[i] = zero_scalar;
          expected[i] = BatchOutcome::kInvalidEphemeralKey;
          break;
        default:
          c.scalars[i] = order;
          expected[i] = BatchOutcome::kInvalidEphemeralKey;
          break;
      }
    }
    ASSERT_TRUE(encryptor.EncryptWithKeysAndSalts(c.items, c.scalars, c.salts, c.results).ok());
    for (size_t i = 0; i < n; ++i) {
      if (expected[i] == BatchOutcome::kOk) {
        ExpectMatchesReference(c, i);
        continue;
      }
      EXPECT_EQ(c.results[i].outcome, expected[i]) << "item " << i;
      EXPECT_EQ(c.results[i].size, 0u);
      const absl::Status s = BatchItemStatus(i, c.results[i]);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
      EXPECT_EQ(Message(s).rfind("items[" + std::to_string(i) + "].", 0), 0u) << s;
    }
  }
}

TEST_P(BatchEncryptorTest, RandomKeysAndSaltsDecryptAndAreFreshPerItem) {
  std::mt19937 rng(3);
  BatchEncryptor encryptor = NewEncryptor();
  Case c = MakeCase(rng, 17);
  c.items[5].to = nullptr;  // a bad item does not disturb the others
  ASSERT_TRUE(encryptor.Encrypt(c.items, c.results).ok());
  std::vector<std::vector<uint8_t>> headers;
  for (size_t i = 0; i < c.items.size(); ++i) {
    if (i == 5) {
      EXPECT_EQ(c.results[i].outcome, BatchOutcome::kMissingRecipient);
      EXPECT_EQ(Message(BatchItemStatus(i, c.results[i])).rfind("items[5].to: ", 0), 0u);
      continue;
    }
    ASSERT_EQ(c.results[i].outcome, BatchOutcome::kOk) << BatchItemStatus(i, c.results[i]);
    auto decrypted = Decrypt(std::span<const uint8_t>(c.outs[i]).first(c.results[i].size),
                             c.recipients[i].key, c.recipients[i].subscription.auth);
    ASSERT_TRUE(decrypted.ok()) << decrypted.status();
    EXPECT_EQ(*decrypted, c.plaintexts[i]);
    headers.emplace_back(c.outs[i].begin(), c.outs[i].begin() + kHeaderSize);
  }
  // Salt (bytes 0-15) and keyid (21-85) differ between every two items.
  for (size_t a = 0; a < headers.size(); ++a) {
    for (size_t b = a + 1; b < headers.size(); ++b) {
      EXPECT_FALSE(std::equal(headers[a].begin(), headers[a].begin() + 16, headers[b].begin()));
      EXPECT_FALSE(std::equal(headers[a].begin() + 21, headers[a].end(), headers[b].begin() + 21));
    }
  }
}

TEST_P(BatchEncryptorTest, ArraysOfTheWrongSizeFailTheCall) {
  std::mt19937 rng(4);
  BatchEncryptor encryptor = NewEncryptor();
  Case c = MakeCase(rng, 3);
  std::vector<BatchResult> short_results(2);
  absl::Status s = encryptor.Encrypt(c.items, short_results);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(s).rfind("results: ", 0), 0u) << s;
  s = encryptor.EncryptWithKeysAndSalts(c.items, std::span(c.scalars).first(2), c.salts, c.results);
  EXPECT_EQ(Message(s).rfind("ephemeral_keys: ", 0), 0u) << s;
  s = encryptor.EncryptWithKeysAndSalts(c.items, c.scalars, std::span(c.salts).first(1), c.results);
  EXPECT_EQ(Message(s).rfind("salts: ", 0), 0u) << s;
}

TEST_P(BatchEncryptorTest, SpeedHelpersRunAndRejectBadPeers) {
  BatchEncryptor encryptor = NewEncryptor();
  EXPECT_TRUE(encryptor.GenerateKeysForSpeed(0).ok());
  EXPECT_TRUE(encryptor.GenerateKeysForSpeed(11).ok());
  std::vector<P256PublicKey> peers;
  for (int i = 0; i < 10; ++i) {
    peers.push_back(NewRecipient().subscription.p256dh);
  }
  EXPECT_TRUE(encryptor.AgreeForSpeed(peers).ok());
  peers[9][64] ^= 0x01;
  const absl::Status s = encryptor.AgreeForSpeed(peers);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(s), "peers[9]: not a point on P-256");
}

TEST_P(BatchEncryptorTest, OneEncryptorServesSeveralThreadsAtOnce) {
  const BatchEncryptor encryptor = NewEncryptor();
  std::mt19937 rng(11);
  std::vector<Case> cases;
  for (int t = 0; t < 3; ++t) {
    cases.push_back(MakeCase(rng, 20));
  }
  std::vector<std::thread> threads;
  for (Case& c : cases) {
    threads.emplace_back([&encryptor, &c] {
      for (int round = 0; round < 3; ++round) {
        EXPECT_TRUE(encryptor.EncryptWithKeysAndSalts(c.items, c.scalars, c.salts, c.results).ok());
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const Case& c : cases) {
    for (size_t i = 0; i < c.items.size(); ++i) {
      ExpectMatchesReference(c, i);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, BatchEncryptorTest,
                         ::testing::Values(PathOption::kAuto, PathOption::kReference,
                                           PathOption::kBatch, PathOption::kEmulated),
                         [](const ::testing::TestParamInfo<PathOption>& param_info) {
                           switch (param_info.param) {
                             case PathOption::kAuto:
                               return std::string("Auto");
                             case PathOption::kReference:
                               return std::string("Reference");
                             case PathOption::kBatch:
                               return std::string("Batch");
                             case PathOption::kEmulated:
                               return std::string("Emulated");
                           }
                           return std::string("Unknown");
                         });

// Path selection (style.md §7: a dispatch test asserts which path runs).

TEST(BatchPathTest, AutoPicksIfmaOnlyWhereTheCpuHasIt) {
  EXPECT_EQ(CpuHasAvx512Ifma(), internal::CpuHasAvx512Ifma());
  auto encryptor = BatchEncryptor::Create(Options(PathOption::kAuto, /*use_environment=*/false));
  ASSERT_TRUE(encryptor.ok());
  EXPECT_EQ(encryptor->path(),
            internal::CpuHasAvx512Ifma() ? P256Path::kIfma : P256Path::kReference);
  // The batch kernel runs natively only with IFMA; otherwise it is the emulation, never kIfma.
  auto batch = BatchEncryptor::Create(Options(PathOption::kBatch, /*use_environment=*/false));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->path(), internal::CpuHasAvx512Ifma() ? P256Path::kIfma : P256Path::kEmulated);
}

TEST(BatchPathTest, ThePathThisProcessRunsIsTheOneTheEnvironmentAsksFor) {
  auto encryptor = BatchEncryptor::Create();
  ASSERT_TRUE(encryptor.ok()) << encryptor.status();
  EXPECT_EQ(encryptor->path(), ExpectedPath(PathOption::kAuto));
  if (EnvironmentPath() == "reference") {
    EXPECT_EQ(encryptor->path(), P256Path::kReference);
  }
  std::cout << "[ INFO     ] WEBPUSH_CRYPTO_PATH=" << EnvironmentPath().value_or("(unset)")
            << ", auto path: " << P256PathName(encryptor->path()) << "\n";
}

TEST(BatchPathTest, OptionReferenceForcesThePortablePath) {
  ScopedEnvironment env("batch");
  auto encryptor = BatchEncryptor::Create(Options(PathOption::kReference));
  ASSERT_TRUE(encryptor.ok());
  EXPECT_EQ(encryptor->path(), P256Path::kReference);
}

TEST(BatchPathTest, EnvironmentReferenceForcesThePortablePath) {
  ScopedEnvironment env("reference");
  for (PathOption option :
       {PathOption::kAuto, PathOption::kReference, PathOption::kBatch, PathOption::kEmulated}) {
    auto encryptor = BatchEncryptor::Create(Options(option));
    ASSERT_TRUE(encryptor.ok());
    EXPECT_EQ(encryptor->path(), P256Path::kReference) << static_cast<int>(option);
  }
  // Unless the caller opts out of the environment.
  auto own = BatchEncryptor::Create(Options(PathOption::kEmulated, /*use_environment=*/false));
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->path(), P256Path::kEmulated);
}

TEST(BatchPathTest, EnvironmentBatchAsksForTheKernel) {
  ScopedEnvironment env("batch");
  auto encryptor = BatchEncryptor::Create(Options(PathOption::kAuto));
  ASSERT_TRUE(encryptor.ok());
  EXPECT_EQ(encryptor->path(),
            internal::CpuHasAvx512Ifma() ? P256Path::kIfma : P256Path::kEmulated);
  ScopedEnvironment auto_env("auto");
  auto automatic = BatchEncryptor::Create(Options(PathOption::kAuto));
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic->path(),
            internal::CpuHasAvx512Ifma() ? P256Path::kIfma : P256Path::kReference);
}

TEST(BatchPathTest, UnknownEnvironmentValueIsAnError) {
  for (const char* value : {"fast", "emulated", "Reference"}) {
    ScopedEnvironment env(value);
    auto encryptor = BatchEncryptor::Create();
    ASSERT_FALSE(encryptor.ok()) << value;
    EXPECT_EQ(encryptor.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Message(encryptor.status()).rfind("WEBPUSH_CRYPTO_PATH: ", 0), 0u)
        << encryptor.status();
  }
}

TEST(BatchPathTest, ParsesPathOptionsAndNamesPaths) {
  EXPECT_EQ(*ParsePathOption("auto", "--path"), PathOption::kAuto);
  EXPECT_EQ(*ParsePathOption("reference", "--path"), PathOption::kReference);
  EXPECT_EQ(*ParsePathOption("batch", "--path"), PathOption::kBatch);
  EXPECT_EQ(*ParsePathOption("emulated", "--path"), PathOption::kEmulated);
  auto bad = ParsePathOption("avx2", "--path");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(Message(bad.status()).rfind("--path: unknown path 'avx2'", 0), 0u);
  EXPECT_EQ(P256PathName(P256Path::kReference), "reference");
  EXPECT_EQ(P256PathName(P256Path::kIfma), "ifma");
  EXPECT_EQ(P256PathName(P256Path::kEmulated), "emulated");
}

}  // namespace
}  // namespace webpush::crypto
