#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "dispatcher/config/service_config.h"
#include "tests/service/api_client.h"
#include "tests/support/push_service/test_push_service.h"

// Helpers of the service tests: a configuration pointed at a local test push service (the API
// client is in api_client.h).
namespace webpush::testing {

// ServiceConfigFor returns a configuration with two tenants (acme and globex, each with a fresh
// VAPID key), the in-memory queue, the API on 127.0.0.1:0, and the push client trusting and
// reaching `push` (its CA, an allowlist entry and a resolve override).
dispatcher::config::ServiceConfig ServiceConfigFor(const TestPushService& push);

}  // namespace webpush::testing
