// Benchmarks of the crypto reference path: RFC 8291 encryption of one message, P-256 key
// generation, VAPID signing and cached VAPID lookups, and decryption (style.md §9). Results and
// the comparison with the Node `web-push` package are in bench/README.md.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypto/ece.h"
#include "crypto/keys.h"
#include "crypto/vapid.h"

namespace webpush::crypto {
namespace {

constexpr std::string_view kAudience = "https://fcm.googleapis.com";
constexpr std::string_view kSubject = "mailto:ops@example.com";

// Payload returns `size` bytes of filler; its content does not affect the cost.
std::vector<uint8_t> Payload(size_t size) {
  std::vector<uint8_t> payload(size);
  for (size_t i = 0; i < size; ++i) {
    payload[i] = static_cast<uint8_t>('a' + i % 26);
  }
  return payload;
}

// Subscription is a browser-side key pair and auth secret, as a user agent would make them.
struct Subscription {
  P256KeyPair ua_key;
  SubscriptionKeys keys;
};

absl::StatusOr<Subscription> RandomSubscription() {
  absl::StatusOr<P256KeyPair> ua_key = P256KeyPair::Generate();
  if (!ua_key.ok()) {
    return ua_key.status();
  }
  absl::StatusOr<AuthSecret> auth = GenerateAuthSecret();
  if (!auth.ok()) {
    return auth.status();
  }
  SubscriptionKeys keys{ua_key->public_key(), *auth};
  return Subscription{*std::move(ua_key), keys};
}

// BM_Encrypt: one message per iteration, with the fresh ephemeral key and salt the protocol
// requires, into a preallocated body buffer.
void BM_Encrypt(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  absl::StatusOr<Subscription> sub = RandomSubscription();
  if (!sub.ok()) {
    state.SkipWithError("subscription key generation failed");
    return;
  }
  const std::vector<uint8_t> payload = Payload(size);
  std::vector<uint8_t> body(EncryptedSize(size));
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    absl::StatusOr<size_t> written = EncryptInto(body, sub->keys, payload);
    if (!written.ok()) {
      state.SkipWithError("EncryptInto failed");
      return;
    }
    benchmark::DoNotOptimize(*written);
    benchmark::DoNotOptimize(body.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}
BENCHMARK(BM_Encrypt)->ArgNames({"bytes"})->Arg(100)->Arg(1024)->Arg(3993);

// BM_Decrypt: what a browser does with one message (ECDH with the body's key id, HKDF, GCM open).
void BM_Decrypt(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  absl::StatusOr<Subscription> sub = RandomSubscription();
  if (!sub.ok()) {
    state.SkipWithError("subscription key generation failed");
    return;
  }
  absl::StatusOr<std::vector<uint8_t>> body = Encrypt(sub->keys, Payload(size));
  if (!body.ok()) {
    state.SkipWithError("Encrypt failed");
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    absl::StatusOr<std::vector<uint8_t>> plaintext = Decrypt(*body, sub->ua_key, sub->keys.auth);
    if (!plaintext.ok()) {
      state.SkipWithError("Decrypt failed");
      return;
    }
    benchmark::DoNotOptimize(plaintext->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}
BENCHMARK(BM_Decrypt)->ArgNames({"bytes"})->Arg(1024);

// BM_P256KeyGenerate: a new key pair (scalar from the CSPRNG, fixed-base multiplication).
void BM_P256KeyGenerate(benchmark::State& state) {
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    absl::StatusOr<P256KeyPair> key = P256KeyPair::Generate();
    if (!key.ok()) {
      state.SkipWithError("P256KeyPair::Generate failed");
      return;
    }
    benchmark::DoNotOptimize(key->public_key().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P256KeyGenerate);

// BM_VapidSign: one ES256 VAPID JWT, as on a cache miss.
void BM_VapidSign(benchmark::State& state) {
  absl::StatusOr<P256KeyPair> key = P256KeyPair::Generate();
  if (!key.ok()) {
    state.SkipWithError("P256KeyPair::Generate failed");
    return;
  }
  const absl::Time now = absl::Now();
  // Whole seconds, as VapidTokenCache mints them; 12 h is what web-push libraries use.
  const VapidClaims claims{std::string(kAudience),
                           absl::FromUnixSeconds(absl::ToUnixSeconds(now + absl::Hours(12))),
                           std::string(kSubject)};
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    absl::StatusOr<std::string> jwt = SignVapidToken(*key, claims, now);
    if (!jwt.ok()) {
      state.SkipWithError("SignVapidToken failed");
      return;
    }
    benchmark::DoNotOptimize(jwt->data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VapidSign);

// BM_VapidCachedLookup: the `Authorization` value for a (key, audience, subject) already in the
// cache, which is what nearly every send does.
void BM_VapidCachedLookup(benchmark::State& state) {
  absl::StatusOr<P256KeyPair> key = P256KeyPair::Generate();
  if (!key.ok()) {
    state.SkipWithError("P256KeyPair::Generate failed");
    return;
  }
  VapidTokenCache cache;
  if (!cache.Authorization("key-1", *key, kAudience, kSubject).ok()) {
    state.SkipWithError("first Authorization (sign) failed");
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    absl::StatusOr<std::string> header = cache.Authorization("key-1", *key, kAudience, kSubject);
    if (!header.ok()) {
      state.SkipWithError("Authorization failed");
      return;
    }
    benchmark::DoNotOptimize(header->data());
  }
  if (cache.stats().signs != 1) {
    state.SkipWithError("the cache signed again: lookups did not hit");
    return;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VapidCachedLookup);

}  // namespace
}  // namespace webpush::crypto

BENCHMARK_MAIN();
