#pragma once

#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "queue/job.h"

// Compact binary encodings of what the Redis back-end stores: a batch of targets (one hash field
// per batch, hundreds of targets) and a job's message (stored once per job). Length-prefixed,
// little-endian, with a version byte; decoding is bounds-checked and fails with DataLoss.
namespace webpush::queue::internal {

// EncodeBatch appends the encoding of `targets` to `out` (cleared first).
void EncodeBatch(std::span<const LeasedTarget> targets, std::string& out);

// DecodeBatch parses what EncodeBatch wrote.
[[nodiscard]] absl::StatusOr<std::vector<LeasedTarget>> DecodeBatch(std::string_view data);

// EncodeMessage / DecodeMessage do the same for a Message.
[[nodiscard]] std::string EncodeMessage(const Message& message);
[[nodiscard]] absl::StatusOr<Message> DecodeMessage(std::string_view data);

}  // namespace webpush::queue::internal
