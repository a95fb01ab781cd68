#include "crypto/batch.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "crypto/internal/batch_seal.h"
#include "crypto/internal/p256.h"
#include "crypto/internal/p256_batch.h"
#include "crypto/internal/strings.h"

namespace webpush::crypto {
namespace {

constexpr size_t kLanes = internal::kP256BatchLanes;

// The P-256 generator in SEC1 form: a valid peer for the dummy lanes of a short group.
constexpr std::array<uint8_t, kP256PublicKeySize> kGenerator = {
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
    0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4,
    0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a,
    0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
    0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};

internal::P256BatchPath KernelPath(P256Path path) {
  switch (path) {
    case P256Path::kIfma:
      return internal::P256BatchPath::kIfma;
    case P256Path::kEmulated:
      return internal::P256BatchPath::kEmulated;
    case P256Path::kReference:
      break;
  }
  return internal::P256BatchPath::kReference;
}

// Group holds the lanes of one kernel call. Lanes [0, count) carry items; the rest are dummy
// lanes (scalar 1, peer G) whose results are ignored. The destructor wipes every secret.
struct Group {
  Group() = default;
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  Group(Group&&) = delete;
  Group& operator=(Group&&) = delete;
  ~Group() {
    OPENSSL_cleanse(scalars, sizeof(scalars));
    OPENSSL_cleanse(secrets, sizeof(secrets));
  }

  size_t count = 0;
  std::array<size_t, kLanes> item{};
  uint8_t scalars[kLanes][kP256PrivateKeySize] = {};
  uint8_t publics[kLanes][kP256PublicKeySize] = {};
  uint8_t peers[kLanes][kP256PublicKeySize] = {};
  uint8_t secrets[kLanes][32] = {};
  uint8_t salts[kLanes][kSaltSize] = {};
  uint32_t ok = 0;  // bit per lane: still on track
};

std::span<const uint8_t, 32> Scalar(const Group& g, size_t lane) {
  return std::span<const uint8_t, 32>(g.scalars[lane], 32);
}

// PadLanes turns lanes [count, 8) into dummy lanes.
void PadLanes(Group& g) {
  for (size_t lane = g.count; lane < kLanes; ++lane) {
    std::fill_n(g.scalars[lane], kP256PrivateKeySize, 0);
    g.scalars[lane][kP256PrivateKeySize - 1] = 1;
    std::copy(kGenerator.begin(), kGenerator.end(), g.peers[lane]);
  }
}

// Keygen computes the public key of every live lane; a lane that fails is dropped from `g.ok`.
// The reference path runs only the live lanes: padding a short group would cost it full
// multiplications, while the SIMD kernels compute all eight lanes at once anyway.
void Keygen(P256Path path, Group& g) {
  if (path == P256Path::kReference) {
    for (size_t lane = 0; lane < g.count; ++lane) {
      if ((g.ok >> lane & 1U) != 0 &&
          !internal::P256PublicFromPrivate(std::span<uint8_t, 65>(g.publics[lane], 65),
                                           Scalar(g, lane))) {
        g.ok &= ~(1U << lane);
      }
    }
    return;
  }
  PadLanes(g);
  internal::P256KeygenX8(KernelPath(path), g.scalars, g.publics);
  for (size_t lane = 0; lane < g.count; ++lane) {
    if (g.publics[lane][0] != 0x04) {
      g.ok &= ~(1U << lane);
    }
  }
}

// Ecdh computes the shared secret of every live lane with `g.peers`. Returns the mask of lanes
// whose peer was invalid (they are dropped from `g.ok`); other failures just drop the lane.
uint32_t Ecdh(P256Path path, Group& g) {
  uint32_t bad_peer = 0;
  if (path == P256Path::kReference) {
    for (size_t lane = 0; lane < g.count; ++lane) {
      if ((g.ok >> lane & 1U) == 0) {
        continue;
      }
      const absl::Status s =
          internal::P256Ecdh(std::span<uint8_t, 32>(g.secrets[lane], 32), Scalar(g, lane),
                             std::span<const uint8_t, 65>(g.peers[lane], 65), "p256dh");
      if (!s.ok()) {
        g.ok &= ~(1U << lane);
        if (s.code() == absl::StatusCode::kInvalidArgument) {
          bad_peer |= 1U << lane;
        }
      }
    }
    return bad_peer;
  }
  PadLanes(g);
  const uint32_t agreed = internal::P256EcdhX8(KernelPath(path), g.scalars, g.peers, g.secrets);
  const uint32_t live = (1U << g.count) - 1;
  bad_peer = g.ok & live & ~agreed;
  g.ok &= agreed;
  return bad_peer;
}

BatchOutcome CheckItem(const BatchItem& item) {
  if (item.to == nullptr) {
    return BatchOutcome::kMissingRecipient;
  }
  if (item.plaintext.size() > kMaxPlaintextSize) {
    return BatchOutcome::kPayloadTooLarge;
  }
  if (item.padding > kMaxPlaintextSize - item.plaintext.size()) {
    return BatchOutcome::kPaddingTooLarge;
  }
  if (item.out.size() < EncryptedSize(item.plaintext.size(), item.padding)) {
    return BatchOutcome::kOutputTooSmall;
  }
  return BatchOutcome::kOk;
}

// RunGroup takes the group's items from scalars and salts to finished bodies.
void RunGroup(P256Path path, Group& g, std::span<const BatchItem> items,
              std::span<BatchResult> results) {
  g.ok = (1U << g.count) - 1;
  for (size_t lane = 0; lane < g.count; ++lane) {
    const SubscriptionKeys& to = *items[g.item[lane]].to;
    std::copy(to.p256dh.begin(), to.p256dh.end(), g.peers[lane]);
  }
  Keygen(path, g);
  const uint32_t bad_peer = Ecdh(path, g);

  internal::SealLanes lanes;
  lanes.count = g.count;
  lanes.live = g.ok;
  for (size_t lane = 0; lane < g.count; ++lane) {
    const BatchItem& item = items[g.item[lane]];
    lanes.secret[lane] = g.secrets[lane];
    lanes.as_public[lane] = g.publics[lane];
    lanes.salt[lane] = g.salts[lane];
    lanes.to[lane] = item.to;
    lanes.plaintext[lane] = item.plaintext;
    lanes.padding[lane] = item.padding;
    lanes.out[lane] = item.out.first(EncryptedSize(item.plaintext.size(), item.padding));
  }
  const uint32_t sealed = internal::SealBatch(lanes);

  for (size_t lane = 0; lane < g.count; ++lane) {
    BatchResult& result = results[g.item[lane]];
    const uint32_t bit = 1U << lane;
    if ((sealed & bit) != 0) {
      result.outcome = BatchOutcome::kOk;
      result.size = lanes.out[lane].size();
    } else {
      result.outcome =
          (bad_peer & bit) != 0 ? BatchOutcome::kInvalidP256dh : BatchOutcome::kInternal;
      result.size = 0;
    }
  }
  OPENSSL_cleanse(g.scalars, sizeof(g.scalars));
  OPENSSL_cleanse(g.secrets, sizeof(g.secrets));
  g.count = 0;
}

// DrawEphemerals gives every lane a fresh ephemeral scalar and salt (webpush-protocol.md §1.6:
// one per message and recipient), with one CSPRNG call for all scalars and one for all salts:
// a call costs about the same for 16 or 256 bytes (~3 µs on the build host), so per-lane calls
// were a visible share of a message. A scalar outside [1, n-1] (probability ~2^-32) is redrawn.
bool DrawEphemerals(Group& g) {
  if (RAND_priv_bytes(&g.scalars[0][0], static_cast<int>(g.count * kP256PrivateKeySize)) != 1 ||
      RAND_bytes(&g.salts[0][0], static_cast<int>(g.count * kSaltSize)) != 1) {
    ERR_clear_error();
    return false;
  }
  for (size_t lane = 0; lane < g.count; ++lane) {
    const std::span<uint8_t, 32> scalar(g.scalars[lane], 32);
    if (!internal::IsValidP256Scalar(scalar) && !internal::GenerateP256Scalar(scalar)) {
      return false;
    }
  }
  return true;
}

void DrawAndRunGroup(P256Path path, Group& g, std::span<const BatchItem> items,
                     std::span<BatchResult> results) {
  if (!DrawEphemerals(g)) {
    for (size_t lane = 0; lane < g.count; ++lane) {
      results[g.item[lane]].outcome = BatchOutcome::kInternal;
    }
    OPENSSL_cleanse(g.scalars, sizeof(g.scalars));
    g.count = 0;
    return;
  }
  RunGroup(path, g, items, results);
}

std::string_view FieldOf(BatchOutcome outcome) {
  switch (outcome) {
    case BatchOutcome::kMissingRecipient:
      return "to";
    case BatchOutcome::kPayloadTooLarge:
      return "plaintext";
    case BatchOutcome::kPaddingTooLarge:
      return "padding";
    case BatchOutcome::kOutputTooSmall:
      return "out";
    case BatchOutcome::kInvalidP256dh:
      return "to.p256dh";
    case BatchOutcome::kInvalidEphemeralKey:
      return "ephemeral_key";
    case BatchOutcome::kOk:
    case BatchOutcome::kInternal:
      break;
  }
  return "";
}

absl::StatusOr<P256Path> ResolvePath(const BatchOptions& options) {
  PathOption from_environment = PathOption::kAuto;
  if (options.use_environment) {
    const std::string name(kCryptoPathEnvironmentVariable);
    // Read once at construction, never in the hot path.
    const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value != nullptr && *value != '\0') {
      // `emulated` is a test hook, not something to set on a production host.
      absl::StatusOr<PathOption> parsed = ParsePathOption(value, kCryptoPathEnvironmentVariable);
      if (!parsed.ok() || *parsed == PathOption::kEmulated) {
        return absl::InvalidArgumentError(
            internal::StrCat(kCryptoPathEnvironmentVariable, ": unknown value '", value,
                             "' (expected reference, batch or auto)"));
      }
      from_environment = *parsed;
    }
  }
  if (options.path == PathOption::kReference || from_environment == PathOption::kReference) {
    return P256Path::kReference;
  }
  if (options.path == PathOption::kEmulated) {
    return P256Path::kEmulated;
  }
  const bool ifma = internal::CpuHasAvx512Ifma();
  if (options.path == PathOption::kBatch || from_environment == PathOption::kBatch) {
    return ifma ? P256Path::kIfma : P256Path::kEmulated;
  }
  return ifma ? P256Path::kIfma : P256Path::kReference;
}

}  // namespace

absl::StatusOr<PathOption> ParsePathOption(std::string_view text, std::string_view field) {
  if (text == "auto") {
    return PathOption::kAuto;
  }
  if (text == "reference") {
    return PathOption::kReference;
  }
  if (text == "batch") {
    return PathOption::kBatch;
  }
  if (text == "emulated") {
    return PathOption::kEmulated;
  }
  return absl::InvalidArgumentError(internal::StrCat(
      field, ": unknown path '", text, "' (expected reference, batch, auto or emulated)"));
}

std::string_view P256PathName(P256Path path) {
  switch (path) {
    case P256Path::kIfma:
      return "ifma";
    case P256Path::kEmulated:
      return "emulated";
    case P256Path::kReference:
      break;
  }
  return "reference";
}

bool CpuHasAvx512Ifma() { return internal::CpuHasAvx512Ifma(); }

absl::Status BatchItemStatus(size_t index, const BatchResult& result) {
  const std::string where = internal::StrCat("items[", index, "].");
  switch (result.outcome) {
    case BatchOutcome::kOk:
      return absl::OkStatus();
    case BatchOutcome::kMissingRecipient:
      return absl::InvalidArgumentError(internal::StrCat(where, FieldOf(result.outcome),
                                                         ": no recipient (null SubscriptionKeys)"));
    case BatchOutcome::kPayloadTooLarge:
      return absl::InvalidArgumentError(
          internal::StrCat(where, FieldOf(result.outcome), ": exceeds the ", kMaxPlaintextSize,
                           "-byte limit of a 4096-byte aes128gcm body (RFC 8291 §4)"));
    case BatchOutcome::kPaddingTooLarge:
      return absl::InvalidArgumentError(internal::StrCat(where, FieldOf(result.outcome),
                                                         ": plaintext plus padding exceeds the ",
                                                         kMaxPlaintextSize, "-byte budget"));
    case BatchOutcome::kOutputTooSmall:
      return absl::InvalidArgumentError(
          internal::StrCat(where, FieldOf(result.outcome),
                           ": buffer shorter than EncryptedSize(plaintext, padding)"));
    case BatchOutcome::kInvalidP256dh:
      return absl::InvalidArgumentError(
          internal::StrCat(where, FieldOf(result.outcome), ": not a point on P-256"));
    case BatchOutcome::kInvalidEphemeralKey:
      return absl::InvalidArgumentError(
          internal::StrCat(where, FieldOf(result.outcome), ": scalar outside [1, n-1]"));
    case BatchOutcome::kInternal:
      break;
  }
  return absl::InternalError(
      internal::StrCat("items[", index, "]: encryption failed (CSPRNG or OpenSSL failure)"));
}

absl::StatusOr<BatchEncryptor> BatchEncryptor::Create(const BatchOptions& options) {
  absl::StatusOr<P256Path> path = ResolvePath(options);
  if (!path.ok()) {
    return path.status();
  }
  return BatchEncryptor(*path);
}

absl::Status BatchEncryptor::Encrypt(std::span<const BatchItem> items,
                                     std::span<BatchResult> results) const {
  if (results.size() != items.size()) {
    return absl::InvalidArgumentError(
        internal::StrCat("results: ", results.size(), " entries for ", items.size(), " items"));
  }
  Group g;
  for (size_t i = 0; i < items.size(); ++i) {
    results[i].size = 0;
    results[i].outcome = CheckItem(items[i]);
    if (results[i].outcome != BatchOutcome::kOk) {
      continue;
    }
    g.item[g.count] = i;
    if (++g.count == kLanes) {
      DrawAndRunGroup(path_, g, items, results);
    }
  }
  if (g.count > 0) {
    DrawAndRunGroup(path_, g, items, results);
  }
  return absl::OkStatus();
}

absl::Status BatchEncryptor::EncryptWithKeysAndSalts(
    std::span<const BatchItem> items,
    std::span<const std::array<uint8_t, kP256PrivateKeySize>> ephemeral_keys,
    std::span<const Salt> salts, std::span<BatchResult> results) const {
  if (ephemeral_keys.size() != items.size()) {
    return absl::InvalidArgumentError(internal::StrCat("ephemeral_keys: ", ephemeral_keys.size(),
                                                       " keys for ", items.size(), " items"));
  }
  if (salts.size() != items.size()) {
    return absl::InvalidArgumentError(
        internal::StrCat("salts: ", salts.size(), " salts for ", items.size(), " items"));
  }
  if (results.size() != items.size()) {
    return absl::InvalidArgumentError(
        internal::StrCat("results: ", results.size(), " entries for ", items.size(), " items"));
  }
  Group g;
  for (size_t i = 0; i < items.size(); ++i) {
    results[i].size = 0;
    results[i].outcome = CheckItem(items[i]);
    if (results[i].outcome == BatchOutcome::kOk &&
        !internal::IsValidP256Scalar(ephemeral_keys[i])) {
      results[i].outcome = BatchOutcome::kInvalidEphemeralKey;
    }
    if (results[i].outcome != BatchOutcome::kOk) {
      continue;
    }
    const size_t lane = g.count;
    std::copy(ephemeral_keys[i].begin(), ephemeral_keys[i].end(), g.scalars[lane]);
    std::copy(salts[i].begin(), salts[i].end(), g.salts[lane]);
    g.item[lane] = i;
    if (++g.count == kLanes) {
      RunGroup(path_, g, items, results);
    }
  }
  if (g.count > 0) {
    RunGroup(path_, g, items, results);
  }
  return absl::OkStatus();
}

absl::Status BatchEncryptor::GenerateKeysForSpeed(size_t count) const {
  Group g;
  for (size_t done = 0; done < count; done += g.count) {
    g.count = std::min(kLanes, count - done);
    if (!DrawEphemerals(g)) {
      return absl::InternalError("ephemeral key generation failed");
    }
    g.ok = (1U << g.count) - 1;
    Keygen(path_, g);
    if (g.ok != (1U << g.count) - 1) {
      return absl::InternalError("P-256 key generation failed");
    }
  }
  return absl::OkStatus();
}

absl::Status BatchEncryptor::AgreeForSpeed(std::span<const P256PublicKey> peers) const {
  Group g;
  for (size_t done = 0; done < peers.size(); done += g.count) {
    g.count = std::min(kLanes, peers.size() - done);
    if (!DrawEphemerals(g)) {
      return absl::InternalError("ephemeral key generation failed");
    }
    for (size_t lane = 0; lane < g.count; ++lane) {
      std::copy(peers[done + lane].begin(), peers[done + lane].end(), g.peers[lane]);
    }
    g.ok = (1U << g.count) - 1;
    const uint32_t bad_peer = Ecdh(path_, g);
    if (g.ok != (1U << g.count) - 1) {
      for (size_t lane = 0; lane < g.count; ++lane) {
        if ((bad_peer >> lane & 1U) != 0) {
          return absl::InvalidArgumentError(
              internal::StrCat("peers[", done + lane, "]: not a point on P-256"));
        }
      }
      return absl::InternalError("P-256 ECDH failed");
    }
  }
  return absl::OkStatus();
}

}  // namespace webpush::crypto
