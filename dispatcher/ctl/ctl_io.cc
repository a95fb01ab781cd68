#include "dispatcher/ctl/ctl_io.h"

#include <openssl/crypto.h>

#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace webpush::dispatcher::ctl {
namespace {

// The type URL of the payload that marks a usage error; its value is unused.
constexpr absl::string_view kUsagePayload = "webpushctl/usage-error";

}  // namespace

absl::Status UsageError(std::string_view message) {
  absl::Status status = absl::InvalidArgumentError(std::string(message));
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

absl::StatusOr<std::string> ReadAll(std::istream& in, std::string_view what) {
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return absl::DataLossError(std::string(what) + ": read error");
  }
  return data;
}

absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path, std::istream& stdin_stream,
                                            std::string_view flag) {
  if (path == "-") {
    return ReadAll(stdin_stream, flag);
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(std::string(flag) + ": cannot open " + path);
  }
  return ReadAll(file, flag);
}

absl::StatusOr<crypto::P256KeyPair> LoadKey(const std::optional<std::string>& inline_key,
                                            const std::optional<std::string>& key_file,
                                            std::string_view inline_flag,
                                            std::string_view file_flag) {
  if (inline_key.has_value() == key_file.has_value()) {
    return absl::InvalidArgumentError("give exactly one of " + std::string(inline_flag) + " and " +
                                      std::string(file_flag));
  }
  if (inline_key) {
    return crypto::P256KeyPair::Load(*inline_key, inline_flag);
  }
  std::ifstream file(*key_file, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(std::string(file_flag) + ": cannot open " + *key_file);
  }
  absl::StatusOr<std::string> text = ReadAll(file, file_flag);
  if (!text.ok()) {
    return text.status();
  }
  absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Load(*text, file_flag);
  OPENSSL_cleanse(text->data(), text->size());
  return key;
}

absl::StatusOr<std::string> LoadPayload(const std::optional<std::string>& payload,
                                        const std::optional<std::string>& payload_file,
                                        std::istream& in) {
  if (payload.has_value() == payload_file.has_value()) {
    return absl::InvalidArgumentError("give exactly one of --payload and --payload-file");
  }
  if (payload) {
    return *payload;
  }
  return ReadFileOrStdin(*payload_file, in, "--payload-file");
}

}  // namespace webpush::dispatcher::ctl
