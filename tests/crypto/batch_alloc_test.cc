// "No heap allocation per message" (issue 5), measured: this binary replaces the global operator
// new and OpenSSL's allocator with counting versions, warms a BatchEncryptor up, then counts the
// allocations of further batches. Our code (C++ new) must allocate nothing at all; OpenSSL's
// count is reported per message and bounded by what the single-message reference path needs.
#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "crypto/batch.h"
#include "crypto/ece.h"
#include "crypto/keys.h"
#include "gtest/gtest.h"

namespace {

std::atomic<bool> counting{false};
std::atomic<size_t> cxx_allocations{0};
std::atomic<size_t> openssl_allocations{0};

void* CountedMalloc(size_t size) {
  if (counting.load(std::memory_order_relaxed)) {
    cxx_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = std::malloc(size == 0 ? 1 : size);  // NOLINT(cppcoreguidelines-no-malloc)
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}

void* OpensslMalloc(size_t size, const char* /*file*/, int /*line*/) {
  if (counting.load(std::memory_order_relaxed)) {
    openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return std::malloc(size);  // NOLINT(cppcoreguidelines-no-malloc)
}
void* OpensslRealloc(void* p, size_t size, const char* /*file*/, int /*line*/) {
  if (counting.load(std::memory_order_relaxed)) {
    openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return std::realloc(p, size);  // NOLINT(cppcoreguidelines-no-malloc)
}
void OpensslFree(void* p, const char* /*file*/, int /*line*/) {
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc)
}

// Installed before main, before OpenSSL has allocated anything (it refuses afterwards).
const bool openssl_counted =
    CRYPTO_set_mem_functions(OpensslMalloc, OpensslRealloc, OpensslFree) == 1;

}  // namespace

void* operator new(size_t size) { return CountedMalloc(size); }
void* operator new[](size_t size) { return CountedMalloc(size); }
void operator delete(void* p) noexcept { std::free(p); }    // NOLINT(cppcoreguidelines-no-malloc)
void operator delete[](void* p) noexcept { std::free(p); }  // NOLINT(cppcoreguidelines-no-malloc)
void operator delete(void* p, size_t /*size*/) noexcept {
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc)
}
void operator delete[](void* p, size_t /*size*/) noexcept {
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc)
}

namespace webpush::crypto {
namespace {

struct Counts {
  size_t cxx = 0;
  size_t openssl = 0;
};

template <typename F>
Counts Count(F&& f) {
  cxx_allocations = 0;
  openssl_allocations = 0;
  counting = true;
  f();
  counting = false;
  return {cxx_allocations.load(), openssl_allocations.load()};
}

class BatchAllocationTest : public ::testing::TestWithParam<PathOption> {};

TEST_P(BatchAllocationTest, EncryptAllocatesNothingPerMessageInOurCode) {
  constexpr size_t kMessages = 64;
  std::vector<P256KeyPair> ua_keys;
  std::vector<SubscriptionKeys> subs(kMessages);
  for (size_t i = 0; i < kMessages; ++i) {
    auto key = P256KeyPair::Generate();
    auto auth = GenerateAuthSecret();
    ASSERT_TRUE(key.ok() && auth.ok());
    subs[i].p256dh = key->public_key();
    subs[i].auth = *auth;
    ua_keys.push_back(std::move(*key));
  }
  const std::vector<uint8_t> payload(1000, 'p');
  std::vector<std::vector<uint8_t>> outs(kMessages, std::vector<uint8_t>(kMaxBodySize));
  std::vector<BatchItem> items(kMessages);
  for (size_t i = 0; i < kMessages; ++i) {
    items[i].to = &subs[i];
    items[i].plaintext = payload;
    items[i].out = outs[i];
  }
  std::vector<BatchResult> results(kMessages);
  BatchOptions options;
  options.path = GetParam();
  auto encryptor = BatchEncryptor::Create(options);
  ASSERT_TRUE(encryptor.ok());
  ASSERT_TRUE(encryptor->Encrypt(items, results).ok());  // warm-up: per-thread scratch

  const Counts batch = Count([&] { ASSERT_TRUE(encryptor->Encrypt(items, results).ok()); });
  for (const BatchResult& r : results) {
    ASSERT_EQ(r.outcome, BatchOutcome::kOk);
  }
  std::vector<uint8_t> body(kMaxBodySize);
  const Counts single = Count([&] {
    for (size_t i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(EncryptInto(body, subs[i], payload).ok());
    }
  });
  std::cout << "[ INFO     ] path " << P256PathName(encryptor->path()) << ", " << kMessages
            << " messages: C++ allocations " << batch.cxx << " (batch) vs " << single.cxx
            << " (single); OpenSSL allocations " << batch.openssl << " (batch) vs "
            << single.openssl << " (single)"
            << (openssl_counted ? "" : " [OpenSSL allocator not replaced: not counted]") << "\n";
  EXPECT_EQ(batch.cxx, 0u);
  // Whatever OpenSSL allocates inside EC_POINT_mul is outside our control, but the batch path
  // must not add to it.
  EXPECT_LE(batch.openssl, single.openssl);
}

INSTANTIATE_TEST_SUITE_P(AllPaths, BatchAllocationTest,
                         ::testing::Values(PathOption::kReference, PathOption::kBatch,
                                           PathOption::kEmulated),
                         [](const ::testing::TestParamInfo<PathOption>& param_info) {
                           return std::string(
                               param_info.param == PathOption::kReference ? "Reference"
                               : param_info.param == PathOption::kBatch   ? "Batch"
                                                                          : "Emulated");
                         });

}  // namespace
}  // namespace webpush::crypto
