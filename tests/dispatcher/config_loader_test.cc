// The configuration loader: sources and precedence, unknown keys and wrong types named by path,
// secrets from files, VAPID keys, validation of combinations, redacted printing that loads back.
#include "dispatcher/config/config_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/string_view.h"
#include "crypto/keys.h"

namespace webpush::dispatcher::config {
namespace {

bool Contains(absl::string_view text, absl::string_view part) {
  return text.find(part) != absl::string_view::npos;
}

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::path(::testing::TempDir()) /
        ("config_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
    absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate();
    ASSERT_TRUE(key.ok());
    raw_key_ = key->PrivateKeyBase64Url();
    Write("vapid.pem", *key->ToPem());
    Write("vapid.b64", raw_key_ + "\n");
    Write("token", "acme-token-0123456789\n");
    Write("token2", "globex-token-0123456789\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // TenantYaml is a minimal valid file with one tenant.
  std::string TenantYaml() const {
    return "tenants:\n  - name: acme\n    token_file: " + Path("token") +
           "\n    vapid:\n      subject: mailto:ops@acme.example\n      keys:\n"
           "        - id: main\n          private_key_file: " +
           Path("vapid.pem") + "\n";
  }

  absl::StatusOr<ServiceConfig> Load(const std::string& yaml,
                                     std::map<std::string, std::string> env = {},
                                     std::vector<std::string> sets = {}) {
    ConfigSources sources;
    sources.yaml_file = Write("config.yaml", yaml);
    sources.environment = std::move(env);
    sources.overrides = std::move(sets);
    return LoadConfig(sources);
  }

  std::filesystem::path dir_;
  std::string raw_key_;
};

TEST_F(ConfigLoaderTest, EmbeddedDefaultsAreTheStructsDefaults) {
  // DefaultConfigYaml documents the defaults; decoded it must change nothing.
  const std::string defaults(DefaultConfigYaml());
  ConfigSources sources;
  sources.yaml_file = Write("defaults.yaml", defaults);
  sources.overrides = {"tenants.0.name=acme", "tenants.0.token_file=" + Path("token"),
                       "tenants.0.vapid.subject=mailto:ops@acme.example",
                       "tenants.0.vapid.keys.0.id=main",
                       "tenants.0.vapid.keys.0.private_key_file=" + Path("vapid.pem")};
  absl::StatusOr<ServiceConfig> documented = LoadConfig(sources);
  ASSERT_TRUE(documented.ok()) << documented.status();
  sources.yaml_file.clear();
  absl::StatusOr<ServiceConfig> built_in = LoadConfig(sources);
  ASSERT_TRUE(built_in.ok()) << built_in.status();
  EXPECT_EQ(PrintConfig(*documented), PrintConfig(*built_in));
}

TEST_F(ConfigLoaderTest, FileThenEnvironmentThenFlagsEachWin) {
  const std::string yaml = TenantYaml() + "queue:\n  batch_size: 100\n  redis:\n    host: a\n";
  absl::StatusOr<ServiceConfig> file_only = Load(yaml);
  ASSERT_TRUE(file_only.ok()) << file_only.status();
  EXPECT_EQ(file_only->queue.batch_size, 100);
  EXPECT_EQ(file_only->queue.redis.host, "a");
  absl::StatusOr<ServiceConfig> env = Load(yaml, {{"WEBPUSHD__QUEUE__REDIS__HOST", "b"},
                                                  {"WEBPUSHD__QUEUE__BATCH_SIZE", "200"},
                                                  {"HOME", "/root"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->queue.redis.host, "b");
  EXPECT_EQ(env->queue.batch_size, 200);
  absl::StatusOr<ServiceConfig> flag =
      Load(yaml, {{"WEBPUSHD__QUEUE__REDIS__HOST", "b"}}, {"queue.redis.host=c"});
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_EQ(flag->queue.redis.host, "c");
}

TEST_F(ConfigLoaderTest, ListsAreIndexedAndAppendedAndTakeFlowValues) {
  absl::StatusOr<ServiceConfig> c =
      Load(TenantYaml(),
           {{"WEBPUSHD__TENANTS__1__NAME", "globex"},
            {"WEBPUSHD__TENANTS__1__TOKEN_FILE", Path("token2")},
            {"WEBPUSHD__TENANTS__1__VAPID__SUBJECT", "https://globex.example/contact"},
            {"WEBPUSHD__TENANTS__1__VAPID__KEYS__0__ID", "k1"},
            {"WEBPUSHD__TENANTS__1__VAPID__KEYS__0__PRIVATE_KEY_FILE", Path("vapid.b64")},
            {"WEBPUSHD__PUSH__ALLOW_HOSTS", "[push.example.net:8443, \"*.push.example.org\"]"}},
           {"tenants[0].quotas.messages_per_second=250.5"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->tenants.size(), 2u);
  EXPECT_EQ(c->tenants[1].name, "globex");
  EXPECT_EQ(c->tenants[1].token, "globex-token-0123456789");
  ASSERT_NE(c->tenants[1].vapid_keys[0].key, nullptr);
  EXPECT_EQ(c->tenants[1].vapid_keys[0].key->PrivateKeyBase64Url(), raw_key_);
  EXPECT_EQ(c->tenants[0].vapid_keys[0].key->PrivateKeyBase64Url(), raw_key_);  // from PEM
  EXPECT_DOUBLE_EQ(c->tenants[0].quotas.messages_per_second, 250.5);
  EXPECT_EQ(c->push.allow_hosts,
            (std::vector<std::string>{"push.example.net:8443", "*.push.example.org"}));
}

TEST_F(ConfigLoaderTest, UnknownKeysWrongTypesAndStrayVariablesNameThePath) {
  struct Case {
    std::string yaml;
    std::map<std::string, std::string> env;
    std::vector<std::string> sets;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {TenantYaml() + "queue:\n  redis:\n    hots: x\n", {}, {}, "queue.redis.hots: unknown key"},
      {TenantYaml() + "queue:\n  lease: soon\n", {}, {}, "queue.lease: not a positive duration"},
      {TenantYaml() + "queue:\n  batch_size: 0\n", {}, {}, "queue.batch_size: must be from 1"},
      {TenantYaml() + "server:\n  reflection: maybe\n", {}, {}, "server.reflection: must be true"},
      {TenantYaml(), {{"WEBPUSHD__QUEUE__LEASEX", "3s"}}, {}, "WEBPUSHD__QUEUE__LEASEX"},
      {TenantYaml(),
       {},
       {"tenants.0.vapid.keys.0.colour=blue"},
       "tenants[0].vapid.keys[0].colour: unknown key"},
      {TenantYaml(), {}, {"push.allow_hosts=[]", "push.resolve=[nonsense]"}, "push.resolve[0]"},
      {TenantYaml(), {}, {"nonsense"}, "--set nonsense: expected key=value"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ServiceConfig> loaded = Load(c.yaml, c.env, c.sets);
    ASSERT_FALSE(loaded.ok()) << c.expect;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(loaded.status().message(), c.expect))
        << "want " << c.expect << ", got " << loaded.status();
  }
}

TEST_F(ConfigLoaderTest, SecretsComeFromFilesAndAMissingOneIsNamed) {
  Write("redis-password", "s3cret!\n");
  absl::StatusOr<ServiceConfig> c =
      Load(TenantYaml(), {}, {"queue.redis.password_file=" + Path("redis-password")});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->queue.redis.password, "s3cret!");
  EXPECT_EQ(c->tenants[0].token, "acme-token-0123456789");
  absl::StatusOr<ServiceConfig> missing =
      Load(TenantYaml(), {}, {"tenants.0.token_file=" + Path("nope")});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "tenants[0].token_file: cannot read"))
      << missing.status();
  Write("empty", "");
  absl::StatusOr<ServiceConfig> empty =
      Load(TenantYaml(), {}, {"tenants.0.token_file=" + Path("empty")});
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(Contains(empty.status().message(), "is empty")) << empty.status();
  Write("short", "short\n");
  absl::StatusOr<ServiceConfig> short_token =
      Load(TenantYaml(), {}, {"tenants.0.token_file=" + Path("short")});
  ASSERT_FALSE(short_token.ok());
  EXPECT_TRUE(Contains(short_token.status().message(), "at least 16")) << short_token.status();
}

TEST_F(ConfigLoaderTest, ABadVapidKeyOrSubjectFailsWithThePathAndNoKeyMaterial) {
  Write("bad.pem", "-----BEGIN EC PRIVATE KEY-----\nAAAAsecretish\n-----END EC PRIVATE KEY-----\n");
  absl::StatusOr<ServiceConfig> bad =
      Load(TenantYaml(), {}, {"tenants.0.vapid.keys.0.private_key_file=" + Path("bad.pem")});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Contains(bad.status().message(), "tenants[0].vapid.keys[0].private_key_file"))
      << bad.status();
  EXPECT_FALSE(Contains(bad.status().message(), "secretish"));
  absl::StatusOr<ServiceConfig> subject =
      Load(TenantYaml(), {}, {"tenants.0.vapid.subject=ops@example.com"});
  ASSERT_FALSE(subject.ok());
  EXPECT_TRUE(Contains(subject.status().message(), "tenants[0].vapid.subject")) << subject.status();
  absl::StatusOr<ServiceConfig> dup =
      Load(TenantYaml(), {},
           {"tenants.0.vapid.keys.1.id=main",
            "tenants.0.vapid.keys.1.private_key_file=" + Path("vapid.b64")});
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(Contains(dup.status().message(), "duplicate key id")) << dup.status();
}

TEST_F(ConfigLoaderTest, CombinationsAreChecked) {
  struct Case {
    std::vector<std::string> sets;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{"queue.lease=10s", "push.request_timeout=20s"}, "queue.lease: must be at least"},
      {{"server.listen=0.0.0.0:50051"}, "server.listen: plaintext gRPC on a non-loopback"},
      {{"server.listen=nope"}, "server.listen: expected HOST:PORT"},
      {{"server.tls.cert_file=" + Path("token")}, "server.tls: cert_file and key_file"},
      {{"tenants.0.mtls_identity=acme-client"}, "needs server.tls.client_ca_file"},
      {{"queue.backend=etcd"}, "queue.backend: must be redis or memory"},
      {{"workers.crypto_path=fast"}, "workers.crypto_path"},
      {{"tenants.0.quotas.max_payload_bytes=4000"}, "max_payload_bytes: must be from 1 to 3993"},
      {{"tenants.1.name=acme", "tenants.1.token_file=" + Path("token2"),
        "tenants.1.vapid.subject=mailto:a@b.example", "tenants.1.vapid.keys.0.id=k",
        "tenants.1.vapid.keys.0.private_key_file=" + Path("vapid.b64")},
       "duplicate tenant acme"},
      {{"tenants.1.name=globex", "tenants.1.token_file=" + Path("token"),
        "tenants.1.vapid.subject=mailto:a@b.example", "tenants.1.vapid.keys.0.id=k",
        "tenants.1.vapid.keys.0.private_key_file=" + Path("vapid.b64")},
       "the same token as an earlier tenant"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ServiceConfig> loaded = Load(TenantYaml(), {}, c.sets);
    ASSERT_FALSE(loaded.ok()) << c.expect;
    EXPECT_TRUE(Contains(loaded.status().message(), c.expect))
        << "want " << c.expect << ", got " << loaded.status();
  }
  absl::StatusOr<ServiceConfig> allowed =
      Load(TenantYaml(), {}, {"server.listen=0.0.0.0:50051", "server.allow_plaintext=true"});
  EXPECT_TRUE(allowed.ok()) << allowed.status();
  ConfigSources none;
  absl::StatusOr<ServiceConfig> no_tenant = LoadConfig(none);
  ASSERT_FALSE(no_tenant.ok());
  EXPECT_TRUE(Contains(no_tenant.status().message(), "tenants: at least one"))
      << no_tenant.status();
}

TEST_F(ConfigLoaderTest, PrintConfigRedactsSecretsAndLoadsBack) {
  absl::StatusOr<ServiceConfig> c =
      Load(TenantYaml(), {},
           {"queue.redis.password=hunter2-redis", "tenants.1.name=globex",
            "tenants.1.token=globex-inline-token-123456",
            "tenants.1.vapid.subject=mailto:a@b.example", "tenants.1.vapid.keys.0.id=k",
            "tenants.1.vapid.keys.0.private_key_file=" + Path("vapid.b64"), "queue.lease=1m30s",
            "push.allow_hosts=[a.example:8443]"});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string printed = PrintConfig(*c);
  EXPECT_FALSE(Contains(printed, "hunter2")) << printed;
  EXPECT_FALSE(Contains(printed, "globex-inline-token")) << printed;
  EXPECT_FALSE(Contains(printed, "acme-token-0123456789")) << printed;
  EXPECT_FALSE(Contains(printed, raw_key_)) << printed;
  EXPECT_TRUE(Contains(printed, "<redacted>"));
  EXPECT_TRUE(Contains(printed, Path("token")));
  EXPECT_TRUE(Contains(printed, "1m30s"));
  // What was printed loads back into the same configuration, once the redacted secrets are given
  // again (they are never printed).
  ConfigSources sources;
  sources.yaml_file = Write("printed.yaml", printed);
  sources.overrides = {"queue.redis.password=hunter2-redis",
                       "tenants.1.token=globex-inline-token-123456"};
  absl::StatusOr<ServiceConfig> again = LoadConfig(sources);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(PrintConfig(*again), printed);
}

}  // namespace
}  // namespace webpush::dispatcher::config
