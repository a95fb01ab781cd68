#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crypto/keys.h"

// Input helpers shared by the webpushctl commands: files or stdin, keys, payloads. Errors name
// the flag.
namespace webpush::dispatcher::ctl {

// ReadAll reads a whole stream; `what` names it in errors.
[[nodiscard]] absl::StatusOr<std::string> ReadAll(std::istream& in, std::string_view what);

// ReadFileOrStdin reads `path`, or `stdin_stream` when `path` is "-".
[[nodiscard]] absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path,
                                                          std::istream& stdin_stream,
                                                          std::string_view flag);

// LoadKey reads a P-256 private key given inline (base64url) or from a file (base64url or PEM);
// exactly one must be given. The flags' names go into the errors.
[[nodiscard]] absl::StatusOr<crypto::P256KeyPair> LoadKey(
    const std::optional<std::string>& inline_key, const std::optional<std::string>& key_file,
    std::string_view inline_flag = "--private-key", std::string_view file_flag = "--key-file");

// UsageError is an InvalidArgument status marked as a usage error (a bad flag or combination of
// flags), which webpushctl reports with exit status 2 like its flag parser's errors.
[[nodiscard]] absl::Status UsageError(std::string_view message);

// IsUsageError tells whether `status` came from UsageError.
[[nodiscard]] bool IsUsageError(const absl::Status& status);

// LoadPayload returns the literal `payload`, or the contents of `payload_file` ("-" = stdin);
// exactly one must be given.
[[nodiscard]] absl::StatusOr<std::string> LoadPayload(
    const std::optional<std::string>& payload, const std::optional<std::string>& payload_file,
    std::istream& in);

}  // namespace webpush::dispatcher::ctl
