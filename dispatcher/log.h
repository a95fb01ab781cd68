#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

// One log line per event on stderr, as text (`2026-12-06T13:00:00.123Z INFO job.accepted
// job=… tenant=…`) or as a JSON object per line. Callers pass an event name and fields; they
// never pass secrets, payloads or whole endpoints (use push::RedactedEndpoint). Thread-safe.
namespace webpush::dispatcher {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// ParseLogLevel parses debug | info | warning | error.
[[nodiscard]] absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text);

// ConfigureLogging sets the lowest level written and the format (JSON lines when `json`).
void ConfigureLogging(LogLevel level, bool json);

// LogEnabled tells whether `level` is written (to skip building fields).
[[nodiscard]] bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;

// Log writes `event` with `fields` in one line (one write call, so lines never interleave).
void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

}  // namespace webpush::dispatcher
