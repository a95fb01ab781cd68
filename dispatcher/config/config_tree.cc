#include "dispatcher/config/config_tree.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "dispatcher/config/config_loader.h"

namespace webpush::dispatcher::config::internal {
namespace {

bool IsIndex(std::string_view s) {
  return !s.empty() && s.size() < 7 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

absl::Status YamlError(std::string_view what, const YAML::Exception& e) {
  return absl::InvalidArgumentError(std::string(what) + ": line " +
                                    std::to_string(e.mark.line + 1) + ": " + e.msg);
}

}  // namespace

absl::StatusOr<YAML::Node> ParseYamlText(std::string_view text, std::string_view what) {
  try {
    YAML::Node node = YAML::Load(std::string(text));
    if (node.IsNull()) {
      return YAML::Node(YAML::NodeType::Map);
    }
    if (!node.IsMap()) {
      return absl::InvalidArgumentError(std::string(what) + ": the top level must be a map");
    }
    return node;
  } catch (const YAML::Exception& e) {
    return YamlError(what, e);
  }
}

absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError("config: cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseYamlText(text.str(), path);
}

absl::StatusOr<std::vector<std::string>> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  std::string current;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '.' || c == '[' || c == ']') {
      if (!current.empty()) {
        out.push_back(current);
        current.clear();
      }
      continue;
    }
    current.push_back(c);
  }
  if (!current.empty()) {
    out.push_back(current);
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("config: empty key");
  }
  return out;
}

std::string JoinPath(const std::vector<std::string>& path) {
  std::string out;
  for (const std::string& segment : path) {
    if (IsIndex(segment)) {
      out += "[" + segment + "]";
    } else {
      if (!out.empty()) {
        out.push_back('.');
      }
      out += segment;
    }
  }
  return out;
}

absl::Status SetPath(YAML::Node& root, const std::vector<std::string>& path, std::string_view value,
                     std::string_view source) {
  YAML::Node parsed;
  try {
    parsed = value.empty() ? YAML::Node(std::string()) : YAML::Load(std::string(value));
    if (parsed.IsNull() && !value.empty() && value != "null" && value != "~") {
      parsed = YAML::Node(std::string(value));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(JoinPath(path) + ": " + std::string(source) +
                                      ": not a YAML value: " + e.msg);
  }
  // yaml-cpp nodes are handles: walking with operator[] on copies edits the tree in place.
  YAML::Node node = root;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& segment = path[i];
    const bool last = i + 1 == path.size();
    const std::vector<std::string> prefix(path.begin(),
                                          path.begin() + static_cast<std::ptrdiff_t>(i + 1));
    const std::string here = JoinPath(prefix);
    if (IsIndex(segment)) {
      if (!node.IsSequence() && !(node.IsNull() || !node.IsDefined())) {
        return absl::InvalidArgumentError(here + ": " + std::string(source) + ": not a list");
      }
      if (!node.IsSequence()) {
        node = YAML::Node(YAML::NodeType::Sequence);
      }
      const size_t index = std::stoul(segment);
      if (index > node.size()) {
        std::string message = here;
        message.append(": ").append(source).append(": index ").append(segment);
        message.append(" is past the end of a list of ").append(std::to_string(node.size()));
        return absl::InvalidArgumentError(message);
      }
      if (index == node.size()) {
        node.push_back(last ? parsed : YAML::Node(YAML::NodeType::Map));
        if (last) {
          return absl::OkStatus();
        }
      } else if (last) {
        node[index] = parsed;
        return absl::OkStatus();
      }
      YAML::Node child = node[index];
      node.reset(child);
      continue;
    }
    if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
      return absl::InvalidArgumentError(here + ": " + std::string(source) +
                                        ": the key above is not a map");
    }
    if (last) {
      node[segment] = parsed;
      return absl::OkStatus();
    }
    if (!node[segment] || node[segment].IsNull()) {
      // A numeric next segment makes a list, anything else a map.
      node[segment] = IsIndex(path[i + 1]) ? YAML::Node(YAML::NodeType::Sequence)
                                           : YAML::Node(YAML::NodeType::Map);
    }
    YAML::Node child = node[segment];
    node.reset(child);
  }
  return absl::OkStatus();
}

absl::Status ApplyEnvironment(ConfigTree& tree,
                              const std::map<std::string, std::string>& environment) {
  for (const auto& [name, value] : environment) {
    if (!name.starts_with(kEnvironmentPrefix)) {
      continue;
    }
    std::vector<std::string> path;
    std::string_view rest = std::string_view(name).substr(kEnvironmentPrefix.size());
    while (true) {
      const size_t sep = rest.find("__");
      std::string segment(rest.substr(0, sep));
      std::transform(segment.begin(), segment.end(), segment.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (segment.empty()) {
        return absl::InvalidArgumentError(name + ": empty key segment");
      }
      path.push_back(std::move(segment));
      if (sep == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(sep + 2);
    }
    if (absl::Status s = SetPath(tree.root, path, value, name); !s.ok()) {
      return s;
    }
    tree.origin[JoinPath(path)] = name;
  }
  return absl::OkStatus();
}

absl::Status ApplyOverrides(ConfigTree& tree, const std::vector<std::string>& sets) {
  for (const std::string& set : sets) {
    const size_t eq = set.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError("--set " + set + ": expected key=value");
    }
    absl::StatusOr<std::vector<std::string>> path = SplitPath(set.substr(0, eq));
    if (!path.ok()) {
      return path.status();
    }
    const std::string source = "--set " + set.substr(0, eq);
    if (absl::Status s = SetPath(tree.root, *path, set.substr(eq + 1), source); !s.ok()) {
      return s;
    }
    tree.origin[JoinPath(*path)] = source;
  }
  return absl::OkStatus();
}

}  // namespace webpush::dispatcher::config::internal
