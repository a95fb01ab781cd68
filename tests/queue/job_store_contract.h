#pragma once

#include <functional>
#include <memory>
#include <ostream>

#include "gtest/gtest.h"
#include "queue/job_store.h"

// The JobStore contract suite. Its TEST_Ps live in job_store_contract_test.cc, compiled once into
// the test binary; each back-end runs them by instantiating the suite in its own test file:
//
//   INSTANTIATE_TEST_SUITE_P(Redis, JobStoreContractTest, testing::Values(JobStoreFactory(...)));
//
// (The TEST_P bodies are not in this header: two files of one binary including them would define
// every test twice.)
namespace webpush::queue {

// JobStoreFactory makes a new, empty store with `options`. Each test calls it once and owns the
// store for the test's duration; a Redis factory starts from an empty database.
using JobStoreFactory = std::function<std::unique_ptr<JobStore>(const JobStoreOptions&)>;

// PrintTo gives the parameter a stable name. Without it GoogleTest prints the std::function's bytes
// (pointers), and gtest_discover_tests copies them into the ctest names
// ("Redis/JobStoreContractTest.X/32-byte object <D0-83 ...>"). Found by argument-dependent lookup:
// the factory's signature names types of this namespace.
inline void PrintTo(const JobStoreFactory& /*factory*/, std::ostream* os) { *os << "store"; }

// JobStoreContractTest is the fixture of the contract suite, parameterised by the back-end.
class JobStoreContractTest : public testing::TestWithParam<JobStoreFactory> {
 protected:
  // MakeStore returns a new, empty store of the back-end under test.
  [[nodiscard]] static std::unique_ptr<JobStore> MakeStore(const JobStoreOptions& options) {
    return GetParam()(options);
  }
};

}  // namespace webpush::queue
