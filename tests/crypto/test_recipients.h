#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "crypto/keys.h"

// Test helpers shared by the crypto suites: a browser-side recipient and random bytes.
namespace webpush::crypto {

struct Recipient {
  P256KeyPair key;
  SubscriptionKeys subscription;
};

inline Recipient NewRecipient() {
  auto key = P256KeyPair::Generate();
  auto auth = GenerateAuthSecret();
  EXPECT_TRUE(key.ok() && auth.ok());
  SubscriptionKeys sub{key->public_key(), *auth};
  return {std::move(*key), sub};
}

inline std::vector<uint8_t> RandomBytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> out(n);
  for (auto& b : out) {
    b = static_cast<uint8_t>(rng());
  }
  return out;
}

}  // namespace webpush::crypto
