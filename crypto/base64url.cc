#include "crypto/base64url.h"

#include <array>

#include "absl/status/status.h"
#include "crypto/internal/strings.h"

namespace webpush::crypto {
namespace {

constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr int kInvalid = -1;

// Decoding table for both alphabets; which alphabet a string used is checked separately.
constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  table.fill(kInvalid);
  for (size_t i = 0; i < kUrlAlphabet.size(); ++i) {
    table[static_cast<uint8_t>(kUrlAlphabet[i])] = static_cast<int8_t>(i);
  }
  table['+'] = 62;
  table['/'] = 63;
  return table;
}
constexpr std::array<int8_t, 256> kDecodeTable = MakeDecodeTable();

absl::Status Error(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(internal::StrCat(field, ": invalid base64url: ", what));
}

}  // namespace

std::string Base64UrlEncode(std::span<const uint8_t> in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out.push_back(kUrlAlphabet[(v >> 18) & 63]);
    out.push_back(kUrlAlphabet[(v >> 12) & 63]);
    out.push_back(kUrlAlphabet[(v >> 6) & 63]);
    out.push_back(kUrlAlphabet[v & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{in[i]} << 16;
    out.push_back(kUrlAlphabet[(v >> 18) & 63]);
    out.push_back(kUrlAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    out.push_back(kUrlAlphabet[(v >> 18) & 63]);
    out.push_back(kUrlAlphabet[(v >> 12) & 63]);
    out.push_back(kUrlAlphabet[(v >> 6) & 63]);
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Base64UrlDecode(std::string_view in, std::string_view field) {
  // Strip padding, then require it to have been exactly what the length implies.
  size_t data_len = in.size();
  while (data_len > 0 && in[data_len - 1] == '=') {
    --data_len;
  }
  const size_t pad = in.size() - data_len;
  if (data_len % 4 == 1) {
    return Error(field, internal::StrCat("impossible length ", data_len));
  }
  if (pad != 0) {
    const size_t expected_pad = (4 - data_len % 4) % 4;
    if (pad != expected_pad || in.size() % 4 != 0) {
      return Error(field, "wrong padding");
    }
  }
  bool saw_url = false;
  bool saw_std = false;
  std::vector<uint8_t> out;
  out.reserve(data_len * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data_len; ++i) {
    const auto c = static_cast<uint8_t>(in[i]);
    const int8_t v = kDecodeTable[c];
    if (v == kInvalid) {
      return Error(field, c == '='
                              ? std::string("'=' inside the data")
                              : internal::StrCat("character at offset ", i, " is not allowed"));
    }
    saw_url |= (c == '-' || c == '_');
    saw_std |= (c == '+' || c == '/');
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1U << bits) - 1;
    }
  }
  if (saw_url && saw_std) {
    return Error(field, "mixes the base64url and standard base64 alphabets");
  }
  // Canonical encoders leave the unused low bits zero; anything else is a corrupted value.
  if (acc != 0) {
    return Error(field, "non-zero trailing bits");
  }
  return out;
}

}  // namespace webpush::crypto
