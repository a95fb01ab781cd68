// libFuzzer differential target (issue 5): the input becomes a batch of up to 20 items
// (ephemeral scalars, recipients' keys, salts, payloads, padding), encrypted by BatchEncryptor on
// every P-256 path (reference, the IFMA kernel's emulation, and the native kernel where the CPU
// has it), and each item is compared with the single-message reference path
// (crypto::EncryptWithKeyAndSalt): same body byte for byte, or the same failure. Any difference
// aborts. Built with -DWEBPUSH_FUZZ=ON (clang); scripts/test.sh runs it for a bounded time.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/batch.h"
#include "crypto/ece.h"
#include "crypto/keys.h"

namespace webpush::crypto {
namespace {

// Reader hands out input bytes, then zeros once the input is exhausted.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  uint8_t Byte() { return pos_ < data_.size() ? data_[pos_++] : 0; }
  template <size_t N>
  std::array<uint8_t, N> Bytes() {
    std::array<uint8_t, N> out{};
    for (uint8_t& b : out) {
      b = Byte();
    }
    return out;
  }
  std::vector<uint8_t> Vector(size_t n) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) {
      // Long payloads repeat the input instead of draining it.
      out[i] = data_.empty() ? 0 : data_[(pos_ + i) % data_.size()];
    }
    return out;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

struct Item {
  SubscriptionKeys to;
  std::array<uint8_t, kP256PrivateKeySize> scalar{};
  Salt salt{};
  std::vector<uint8_t> plaintext;
  size_t padding = 0;
};

[[noreturn]] void Fail(const char* what, size_t item, const std::string& path) {
  std::fprintf(stderr, "batch_differential_fuzzer: %s (item %zu, path %s)\n", what, item,
               path.c_str());
  std::abort();
}

std::vector<Item> Parse(std::span<const uint8_t> data) {
  Reader in(data);
  const size_t n = 1 + in.Byte() % 20;
  std::vector<Item> items(n);
  for (Item& item : items) {
    const uint8_t flags = in.Byte();
    if ((flags & 1U) != 0) {
      // Raw peer bytes: nearly always invalid, which both paths must reject alike.
      const auto raw = in.Bytes<kP256PublicKeySize>();
      item.to.p256dh = raw;
      if ((flags & 2U) != 0) {
        item.to.p256dh[0] = 0x04;
      }
    } else {
      // A valid peer derived from an input scalar (or a fixed one if the scalar is out of range).
      auto scalar = in.Bytes<kP256PrivateKeySize>();
      absl::StatusOr<P256KeyPair> peer = P256KeyPair::FromPrivateKey(scalar, "peer");
      if (!peer.ok()) {
        scalar.fill(0);
        scalar[31] = 7;
        peer = P256KeyPair::FromPrivateKey(scalar, "peer");
      }
      if (peer.ok()) {
        item.to.p256dh = peer->public_key();
      }
    }
    item.to.auth = in.Bytes<kAuthSecretSize>();
    item.scalar = in.Bytes<kP256PrivateKeySize>();
    if ((flags & 4U) != 0) {
      item.scalar.fill(0);  // make the edge scalars 0 and 1 reachable
      item.scalar[31] = (flags >> 3) & 1U;
    }
    item.salt = in.Bytes<kSaltSize>();
    const size_t size = (size_t{in.Byte()} << 8 | in.Byte()) % 4000;
    item.padding = (flags & 0x10U) != 0 ? in.Byte() * size_t{16} : 0;
    item.plaintext = in.Vector(size);
  }
  return items;
}

void Check(const std::vector<Item>& items, PathOption option, const std::string& name) {
  BatchOptions options;
  options.path = option;
  options.use_environment = false;
  absl::StatusOr<BatchEncryptor> encryptor = BatchEncryptor::Create(options);
  if (!encryptor.ok()) {
    Fail("BatchEncryptor::Create failed", 0, name);
  }
  std::vector<std::vector<uint8_t>> outs(items.size(), std::vector<uint8_t>(kMaxBodySize + 64));
  std::vector<BatchItem> batch(items.size());
  std::vector<std::array<uint8_t, kP256PrivateKeySize>> scalars;
  std::vector<Salt> salts;
  for (size_t i = 0; i < items.size(); ++i) {
    batch[i].to = &items[i].to;
    batch[i].plaintext = items[i].plaintext;
    batch[i].padding = items[i].padding;
    batch[i].out = outs[i];
    scalars.push_back(items[i].scalar);
    salts.push_back(items[i].salt);
  }
  std::vector<BatchResult> results(items.size());
  if (!encryptor->EncryptWithKeysAndSalts(batch, scalars, salts, results).ok()) {
    Fail("EncryptWithKeysAndSalts failed as a whole", 0, name);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchResult& r = results[i];
    absl::StatusOr<P256KeyPair> as_key = P256KeyPair::FromPrivateKey(items[i].scalar, "scalar");
    const bool scalar_ok = as_key.ok();
    if (!scalar_ok) {
      // The reference path cannot take an invalid scalar; a valid stand-in still shows which
      // size or key errors it would report first.
      std::array<uint8_t, kP256PrivateKeySize> one{};
      one[31] = 1;
      as_key = P256KeyPair::FromPrivateKey(one, "scalar");
      if (!as_key.ok()) {
        Fail("stand-in key", i, name);
      }
    }
    const absl::StatusOr<std::vector<uint8_t>> expected = EncryptWithKeyAndSalt(
        items[i].to, items[i].plaintext, *as_key, items[i].salt, items[i].padding);
    if (r.outcome == BatchOutcome::kOk) {
      if (!scalar_ok || !expected.ok()) {
        Fail("batch accepted what the reference path rejects", i, name);
      }
      if (r.size != expected->size() ||
          !std::equal(expected->begin(), expected->end(), outs[i].begin())) {
        Fail("bodies differ", i, name);
      }
      continue;
    }
    if (expected.ok() && scalar_ok) {
      Fail("batch rejected what the reference path accepts", i, name);
    }
    // Both failed: the reason must agree with the reference path's field. Sizes are checked
    // first on both paths, then (batch only) the scalar, then the peer.
    const std::string message(expected.ok() ? "" : expected.status().message());
    const bool size_error = message.starts_with("payload:") || message.starts_with("padding:");
    bool agrees = false;
    switch (r.outcome) {
      case BatchOutcome::kPayloadTooLarge:
        agrees = message.starts_with("payload:");
        break;
      case BatchOutcome::kPaddingTooLarge:
        agrees = message.starts_with("padding:");
        break;
      case BatchOutcome::kInvalidEphemeralKey:
        agrees = !scalar_ok && !size_error;
        break;
      case BatchOutcome::kInvalidP256dh:
        agrees = scalar_ok && message.starts_with("p256dh:");
        break;
      default:
        break;
    }
    if (!agrees) {
      Fail("failure reasons differ", i, name);
    }
  }
}

}  // namespace
}  // namespace webpush::crypto

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace c = webpush::crypto;
  const std::vector<c::Item> items = c::Parse(std::span<const uint8_t>(data, size));
  c::Check(items, c::PathOption::kReference, "reference");
  c::Check(items, c::PathOption::kEmulated, "emulated");
  if (c::CpuHasAvx512Ifma()) {
    c::Check(items, c::PathOption::kBatch, "ifma");
  }
  return 0;
}
