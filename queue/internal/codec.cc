#include "queue/internal/codec.h"

#include <cstring>

namespace webpush::queue::internal {
namespace {

constexpr uint8_t kBatchVersion = 1;
constexpr uint8_t kMessageVersion = 1;

void PutU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}
// Strings are at most 64 KiB here: endpoints (<= 2 KiB), ids, payloads (<= 3993 B), labels.
void PutString(std::string& out, std::string_view s) {
  PutU16(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}

// Reader walks a buffer; every read checks the remaining length and latches failure.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool done() const { return pos_ == data_.size(); }

  uint64_t Uint(size_t bytes) {
    if (!Need(bytes)) {
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) {
      v |= uint64_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
    }
    pos_ += bytes;
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (!Need(n)) {
      return {};
    }
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string String() { return std::string(Bytes(Uint(2))); }

 private:
  bool Need(size_t n) {
    ok_ = ok_ && data_.size() - pos_ >= n;
    return ok_;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

absl::Status Corrupt(const char* what) {
  return absl::DataLossError(std::string("queue: corrupt stored ") + what);
}

}  // namespace

void EncodeBatch(std::span<const LeasedTarget> targets, std::string& out) {
  out.clear();
  PutU8(out, kBatchVersion);
  PutU32(out, static_cast<uint32_t>(targets.size()));
  for (const LeasedTarget& t : targets) {
    PutU32(out, t.index);
    PutU32(out, t.attempt);
    PutString(out, t.target.endpoint);
    out.append(reinterpret_cast<const char*>(t.target.p256dh.data()), t.target.p256dh.size());
    out.append(reinterpret_cast<const char*>(t.target.auth.data()), t.target.auth.size());
    PutString(out, t.target.target_id);
    PutU8(out, t.target.payload ? 1 : 0);
    if (t.target.payload) {
      PutString(out, *t.target.payload);
    }
  }
}

absl::StatusOr<std::vector<LeasedTarget>> DecodeBatch(std::string_view data) {
  Reader r(data);
  if (r.Uint(1) != kBatchVersion) {
    return Corrupt("batch (unknown version)");
  }
  const uint64_t count = r.Uint(4);
  // Each target takes at least 4+4+2+65+16+2+1 bytes: bound the allocation by the input size.
  if (!r.ok() || count > data.size() / 94) {
    return Corrupt("batch (bad count)");
  }
  std::vector<LeasedTarget> targets(count);
  for (LeasedTarget& t : targets) {
    t.index = static_cast<uint32_t>(r.Uint(4));
    t.attempt = static_cast<uint32_t>(r.Uint(4));
    t.target.endpoint = r.String();
    const std::string_view p256dh = r.Bytes(kP256dhSize);
    const std::string_view auth = r.Bytes(kAuthSize);
    if (!r.ok()) {
      return Corrupt("batch (truncated)");
    }
    std::memcpy(t.target.p256dh.data(), p256dh.data(), kP256dhSize);
    std::memcpy(t.target.auth.data(), auth.data(), kAuthSize);
    t.target.target_id = r.String();
    if (r.Uint(1) != 0) {
      t.target.payload = r.String();
    }
  }
  if (!r.ok() || !r.done()) {
    return Corrupt("batch (truncated or trailing bytes)");
  }
  return targets;
}

std::string EncodeMessage(const Message& message) {
  std::string out;
  PutU8(out, kMessageVersion);
  PutString(out, message.payload);
  PutU64(out, static_cast<uint64_t>(message.ttl_seconds));
  PutU8(out, static_cast<uint8_t>(message.urgency));
  PutString(out, message.topic);
  PutString(out, message.vapid_key_id);
  PutString(out, message.tenant);
  PutU8(out, static_cast<uint8_t>(message.labels.size()));
  for (const auto& [key, value] : message.labels) {
    PutString(out, key);
    PutString(out, value);
  }
  return out;
}

absl::StatusOr<Message> DecodeMessage(std::string_view data) {
  Reader r(data);
  if (r.Uint(1) != kMessageVersion) {
    return Corrupt("message (unknown version)");
  }
  Message m;
  m.payload = r.String();
  m.ttl_seconds = static_cast<int64_t>(r.Uint(8));
  m.urgency = static_cast<Urgency>(r.Uint(1));
  m.topic = r.String();
  m.vapid_key_id = r.String();
  m.tenant = r.String();
  const uint64_t labels = r.Uint(1);
  for (uint64_t i = 0; i < labels && r.ok(); ++i) {
    std::string key = r.String();
    std::string value = r.String();
    m.labels.emplace_back(std::move(key), std::move(value));
  }
  if (!r.ok() || !r.done() || static_cast<uint8_t>(m.urgency) > 3) {
    return Corrupt("message (truncated or trailing bytes)");
  }
  return m;
}

}  // namespace webpush::queue::internal
