#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/ece.h"
#include "crypto/keys.h"

// Batch RFC 8291 encryption (issue 5): N messages for N recipients in one call, eight at a time
// through the batch P-256 kernels, with the output of every item byte for byte what the reference
// path (crypto/ece.h) produces for the same ephemeral key and salt.
namespace webpush::crypto {

// PathOption is the P-256 implementation a BatchEncryptor is asked to use.
enum class PathOption : uint8_t {
  kAuto,       // the AVX-512 IFMA kernel where the CPU has it, otherwise OpenSSL (production)
  kReference,  // force the portable path: OpenSSL, one lane after another
  kBatch,      // the batch kernel: native IFMA where the CPU has it, otherwise its portable
               // emulation (slow; for tests and comparisons, never for production)
  kEmulated,   // the kernel's portable emulation even on an IFMA CPU (tests, constant-time checks)
};

// P256Path is the P-256 implementation that actually runs.
enum class P256Path : uint8_t {
  kReference,  // OpenSSL EC_POINT arithmetic (crypto/internal/p256.h)
  kIfma,       // 8-lane AVX-512 IFMA kernel; never chosen unless CpuHasAvx512Ifma()
  kEmulated,   // the IFMA kernel's source on a portable emulation of its SIMD primitives
};

// kCryptoPathEnvironmentVariable names the environment variable that overrides PathOption:
// `reference`, `batch` or `auto` (empty or unset = no override).
inline constexpr std::string_view kCryptoPathEnvironmentVariable = "WEBPUSH_CRYPTO_PATH";

// ParsePathOption parses `auto`, `reference`, `batch` or `emulated`. Errors are InvalidArgument
// and start with `field`.
[[nodiscard]] absl::StatusOr<PathOption> ParsePathOption(std::string_view text,
                                                         std::string_view field);

// P256PathName is `reference`, `ifma` or `emulated`.
[[nodiscard]] std::string_view P256PathName(P256Path path);

// CpuHasAvx512Ifma tells whether this CPU and OS can run P256Path::kIfma.
[[nodiscard]] bool CpuHasAvx512Ifma();

// BatchItem is one message of a batch. Spans are borrowed for the duration of the call.
struct BatchItem {
  const SubscriptionKeys* to = nullptr;  // the recipient's p256dh and auth; must not be null
  std::span<const uint8_t> plaintext;    // at most kMaxPlaintextSize bytes (with `padding`)
  size_t padding = 0;                    // zero bytes of padding inside the record
  std::span<uint8_t> out;                // receives the body: EncryptedSize(...) bytes or more
};

// BatchOutcome is the result of one item. A failed item leaves its `out` unspecified (never a
// partial body that could be mistaken for a message) and never affects the other items.
enum class BatchOutcome : uint8_t {
  kOk,                   // `out` holds the body; BatchResult::size is its length
  kMissingRecipient,     // `to` is null
  kPayloadTooLarge,      // plaintext longer than kMaxPlaintextSize
  kPaddingTooLarge,      // plaintext plus padding longer than kMaxPlaintextSize
  kOutputTooSmall,       // `out` shorter than EncryptedSize(plaintext.size(), padding)
  kInvalidP256dh,        // `to->p256dh` is not a point on P-256
  kInvalidEphemeralKey,  // deterministic variant only: a scalar outside [1, n-1]
  kInternal,             // CSPRNG or OpenSSL failure
};

// BatchResult is what Encrypt writes for each item.
struct BatchResult {
  BatchOutcome outcome = BatchOutcome::kInternal;
  size_t size = 0;  // bytes written to `out` when `outcome` is kOk, else 0
};

// BatchItemStatus turns the result of `items[index]` into a Status whose message names the item
// and the field, e.g. "items[7].p256dh: not a point on P-256". OK for kOk. It allocates, so
// call it for failed items only, outside the hot loop.
[[nodiscard]] absl::Status BatchItemStatus(size_t index, const BatchResult& result);

// BatchOptions configures a BatchEncryptor.
struct BatchOptions {
  PathOption path = PathOption::kAuto;
  // When true, kCryptoPathEnvironmentVariable is read once, at Create. Precedence: forcing the
  // portable path always wins (option kReference or variable `reference` gives kReference);
  // otherwise option kEmulated gives kEmulated; otherwise option kBatch or variable `batch` gives
  // the batch kernel; otherwise auto.
  bool use_environment = true;
};

// BatchEncryptor encrypts batches of messages. Groups of eight valid items run through the
// 8-lane P-256 kernels (a short last group is padded with dummy lanes); invalid items are set
// aside before the group is formed, so they cost no lane. Scratch is fixed-size, on the stack,
// and OpenSSL's contexts are per thread and reused: no heap allocation per message in our code
// (tests/crypto/batch_alloc_test.cc counts). Every secret (ephemeral scalars, ECDH secrets, keys
// derived from them) is wiped before a call returns. Immutable after Create: one encryptor may
// be used from any number of threads at once.
class BatchEncryptor {
 public:
  // Create resolves the P-256 path from `options` (and the environment, see BatchOptions).
  // Fails with InvalidArgument when the environment variable holds an unknown value.
  [[nodiscard]] static absl::StatusOr<BatchEncryptor> Create(const BatchOptions& options = {});

  // path is the P-256 implementation this encryptor runs.
  [[nodiscard]] P256Path path() const { return path_; }

  // Encrypt encrypts `items[i]` into `items[i].out` with a fresh ephemeral key pair and salt per
  // item (webpush-protocol.md §1.6) and writes `results[i]`. Returns InvalidArgument ("results")
  // only when `results` and `items` differ in size; a bad item fails alone, in its result.
  [[nodiscard]] absl::Status Encrypt(std::span<const BatchItem> items,
                                     std::span<BatchResult> results) const;

  // EncryptWithKeysAndSalts is Encrypt with caller-supplied ephemeral private keys (big-endian
  // scalars) and salts, one per item, as EncryptWithKeyAndSalt does for one message: for tests
  // and fuzzing only; never reuse either in production. InvalidArgument ("ephemeral_keys",
  // "salts", "results") when an array's size differs from `items`.
  [[nodiscard]] absl::Status EncryptWithKeysAndSalts(
      std::span<const BatchItem> items,
      std::span<const std::array<uint8_t, kP256PrivateKeySize>> ephemeral_keys,
      std::span<const Salt> salts, std::span<BatchResult> results) const;

  // GenerateKeysForSpeed runs `count` ephemeral key generations (CSPRNG scalar and fixed-base
  // multiplication) on this encryptor's path and discards them; `webpushctl speed` and the
  // benchmarks time it. Internal on CSPRNG or OpenSSL failure.
  [[nodiscard]] absl::Status GenerateKeysForSpeed(size_t count) const;

  // AgreeForSpeed runs one ECDH (variable-base multiplication with a fresh scalar) per element of
  // `peers` on this encryptor's path and discards the secrets. InvalidArgument ("peers[i]") for
  // a peer that is not a point on P-256.
  [[nodiscard]] absl::Status AgreeForSpeed(std::span<const P256PublicKey> peers) const;

 private:
  explicit BatchEncryptor(P256Path path) : path_(path) {}

  P256Path path_;
};

}  // namespace webpush::crypto
