#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

// The YAML tree behind LoadConfig: the file, then environment variables, then --set flags merged
// into one document before it is decoded. Kept apart from decoding so each step is testable.
namespace webpush::dispatcher::config::internal {

// ConfigTree is the merged document plus where overridden keys came from (for error messages).
struct ConfigTree {
  YAML::Node root;
  std::map<std::string, std::string> origin;  // dotted path -> "WEBPUSHD__X" or "--set x=..."
};

// LoadYamlFile parses a file (a map at the top, or empty). Errors name the file and the line.
[[nodiscard]] absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path);
// ParseYamlText parses `text` (for the embedded defaults and tests).
[[nodiscard]] absl::StatusOr<YAML::Node> ParseYamlText(std::string_view text,
                                                       std::string_view what);

// SplitPath turns "tenants[0].vapid.keys.1.id" into {"tenants","0","vapid","keys","1","id"}.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> SplitPath(std::string_view path);

// SetPath stores `value` (parsed as YAML: a scalar or a flow list/map; empty = "") at `path`,
// creating maps as needed; a numeric segment indexes a list (index == size appends).
[[nodiscard]] absl::Status SetPath(YAML::Node& root, const std::vector<std::string>& path,
                                   std::string_view value, std::string_view source);

// ApplyEnvironment applies every WEBPUSHD__A__B=value variable of `environment`.
[[nodiscard]] absl::Status ApplyEnvironment(ConfigTree& tree,
                                            const std::map<std::string, std::string>& environment);
// ApplyOverrides applies `key=value` flags in order.
[[nodiscard]] absl::Status ApplyOverrides(ConfigTree& tree, const std::vector<std::string>& sets);

// JoinPath is the dotted display form, lists as [i]: "tenants[0].vapid.keys[1].id".
[[nodiscard]] std::string JoinPath(const std::vector<std::string>& path);

}  // namespace webpush::dispatcher::config::internal
