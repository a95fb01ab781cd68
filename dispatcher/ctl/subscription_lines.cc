#include "dispatcher/ctl/subscription_lines.h"

#include <istream>
#include <nlohmann/json.hpp>

namespace webpush::dispatcher::ctl {
namespace {

absl::StatusOr<std::string> StringMember(const nlohmann::json& object, const char* name,
                                         const char* field) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return absl::InvalidArgumentError(std::string(field) + ": missing or not a string");
  }
  return it->get<std::string>();
}

}  // namespace

absl::StatusOr<SubscriptionJson> ParseSubscriptionJson(std::string_view text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError("subscription: not a JSON object");
  }
  SubscriptionJson s;
  absl::StatusOr<std::string> endpoint = StringMember(json, "endpoint", "subscription.endpoint");
  if (!endpoint.ok()) {
    return endpoint.status();
  }
  s.endpoint = *std::move(endpoint);
  const auto keys = json.find("keys");
  if (keys == json.end() || !keys->is_object()) {
    return absl::InvalidArgumentError("subscription.keys: missing or not an object");
  }
  absl::StatusOr<std::string> p256dh = StringMember(*keys, "p256dh", "subscription.keys.p256dh");
  if (!p256dh.ok()) {
    return p256dh.status();
  }
  s.p256dh = *std::move(p256dh);
  absl::StatusOr<std::string> auth = StringMember(*keys, "auth", "subscription.keys.auth");
  if (!auth.ok()) {
    return auth.status();
  }
  s.auth = *std::move(auth);
  if (const auto id = json.find("id"); id != json.end() && !id->is_null()) {
    if (id->is_string()) {
      s.id = id->get<std::string>();
    } else if (id->is_number_integer()) {
      s.id = id->dump();
    } else {
      return absl::InvalidArgumentError("subscription.id: not a string or an integer");
    }
  }
  return s;
}

absl::StatusOr<bool> SubscriptionLineReader::Next(SubscriptionJson& out) {
  while (std::getline(in_, line_)) {
    ++line_number_;
    if (line_.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    absl::StatusOr<SubscriptionJson> parsed = ParseSubscriptionJson(line_);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError("line " + std::to_string(line_number_) + ": " +
                                        std::string(parsed.status().message()));
    }
    out = *std::move(parsed);
    return true;
  }
  if (in_.bad()) {
    return absl::DataLossError("read error after line " + std::to_string(line_number_));
  }
  return false;
}

}  // namespace webpush::dispatcher::ctl
