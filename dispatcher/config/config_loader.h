#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatcher/config/service_config.h"

// Loading the configuration of `webpushd`: one YAML file, then environment variables, then
// `--set` flags, each overriding the one before; every key of service_config.h can be set by all
// three. Errors are InvalidArgument with one line that names the key ("queue.lease: ...",
// "tenants[1].vapid.keys[0].private_key_file: ...").
namespace webpush::dispatcher::config {

// kEnvironmentPrefix starts every override variable: WEBPUSHD__QUEUE__REDIS__HOST sets
// queue.redis.host (path segments joined by a double underscore, keys upper-cased; a numeric
// segment indexes a list: WEBPUSHD__TENANTS__0__TOKEN_FILE). A value is parsed as YAML, so a list
// can be given in flow form: WEBPUSHD__PUSH__ALLOW_HOSTS='[a.example:8443, b.example]'.
inline constexpr std::string_view kEnvironmentPrefix = "WEBPUSHD__";

// ConfigSources is what LoadConfig reads.
struct ConfigSources {
  std::string yaml_file;  // empty: the embedded defaults only (DefaultConfigYaml)
  // Environment variables (name -> value); only those starting with kEnvironmentPrefix count.
  std::map<std::string, std::string> environment;
  // `--set key=value` flags in order; key is the dotted path ("queue.redis.host",
  // "tenants.0.name" or "tenants[0].name").
  std::vector<std::string> overrides;
};

// LoadConfig merges the sources, rejects unknown keys and wrong types, reads the secret files
// and VAPID keys, and checks every value (ValidateConfig). It does not contact Redis.
[[nodiscard]] absl::StatusOr<ServiceConfig> LoadConfig(const ConfigSources& sources);

// ValidateConfig checks values and their combinations (a loaded config is always valid; tests
// build configs by hand).
[[nodiscard]] absl::Status ValidateConfig(const ServiceConfig& config);

// PrintConfig renders `config` as YAML that LoadConfig accepts back, every secret (inline
// tokens, the Redis password) replaced by "<redacted>"; file paths are printed as they are.
[[nodiscard]] std::string PrintConfig(const ServiceConfig& config);

// DefaultConfigYaml is the documented configuration with the embedded defaults, every key with a
// comment (`webpushd --print-default-config`; deploy/ ships it as the ConfigMap's starting
// point). It has no tenants, which a real configuration must add.
[[nodiscard]] std::string_view DefaultConfigYaml();

// CurrentEnvironment returns the process environment as a map.
[[nodiscard]] std::map<std::string, std::string> CurrentEnvironment();

}  // namespace webpush::dispatcher::config
