// profiles_test.cpp - the national profiles in etc/examples do what their comments say:
// loaded from the source tree through the config loader (uncovered_levels = "error", so
// a level without a rule fails here too), then sample markings classified by the policy
// engine built from them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "relay/policy/rule_engine.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::policy {
namespace {

namespace fs = std::filesystem;
using model::Policy;
using model::TlsLevel;

fs::path source_dir() {
  for (fs::path start : {fs::current_path(), fs::read_symlink("/proc/self/exe").parent_path()}) {
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
      if (fs::exists(p / "etc" / "examples" / "agency-au.toml")) return p;
      if (p == p.root_path()) break;
    }
  }
  return {};
}

// The profile copied beside the files it names (its relative paths then resolve whether
// they are read against the working directory or the file's own).
std::shared_ptr<const RuleEngine> load_profile(const std::string& name) {
  fs::path src = source_dir();
  EXPECT_FALSE(src.empty()) << "etc/examples/" << name << " not found";
  if (src.empty()) return nullptr;
  test::TempDir dir;
  std::ifstream in(src / "etc" / "examples" / name);
  std::stringstream text;
  text << in.rdbuf();
  std::string path = dir.write(name, text.str());
  // Beside the copy: the profile's relative paths are taken against its directory.
  dir.write("tls/cert.pem", "cert");
  dir.write("tls/key.pem", "key");
  auto cfg = config::load_config(path);
  if (!cfg.ok()) {
    for (const auto& i : cfg.error()) ADD_FAILURE() << i.to_string();
    return nullptr;
  }
  EXPECT_TRUE(cfg->warnings.empty()) << cfg->warnings.front().to_string();
  auto engine = RuleEngine::create(cfg->policy);
  EXPECT_TRUE(engine.ok()) << engine.error();
  return engine.ok() ? *engine : nullptr;
}

struct Sample {
  const char* name;
  const char* headers;
  Policy action;
  TlsLevel tls;
};

void expect_samples(const RuleEngine& engine, const std::vector<Sample>& samples) {
  std::vector<model::Recipient> rcpts{model::Recipient{.address = "x@dest.example"}};
  for (const auto& s : samples) {
    MessageFacts f;
    f.sender = "alice@agency.example";
    f.recipients = &rcpts;
    f.header_section = s.headers;
    auto d = engine.decide(f);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].action, s.action) << s.name << ": " << d[0].reason.to_string();
    EXPECT_EQ(d[0].tls, s.tls) << s.name;
    if (s.action == Policy::REJECT) {
      EXPECT_FALSE(d[0].reject_text.empty()) << s.name;
    }
  }
}

TEST(Profiles, AustralianEpms2024) {
  auto engine = load_profile("agency-au.toml");
  ASSERT_TRUE(engine);
  auto hdr = [](const char* sec) {
    return std::string("X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=") + sec +
           ", ORIGIN=alice@agency.gov.au\r\nSubject: [SEC=" + sec + "] x\r\n";
  };
  const std::string unofficial = hdr("UNOFFICIAL"), official = hdr("OFFICIAL"),
                    sensitive = hdr("OFFICIAL:Sensitive"), prot = hdr("PROTECTED"),
                    secret = hdr("SECRET"), top = hdr("TOP-SECRET");
  expect_samples(
      *engine,
      {
          {"unofficial", unofficial.c_str(), Policy::BES, TlsLevel::None},
          {"official", official.c_str(), Policy::BES, TlsLevel::None},
          {"official_sensitive", sensitive.c_str(), Policy::SOS, TlsLevel::Verify},
          {"protected", prot.c_str(), Policy::SOS, TlsLevel::Verify},
          {"secret", secret.c_str(), Policy::REJECT, TlsLevel::None},
          {"top_secret", top.c_str(), Policy::REJECT, TlsLevel::None},
          {"subject_only_protected", "Subject: Budget [SEC=PROTECTED]\r\n", Policy::SOS,
           TlsLevel::Verify},
          {"dlm_2012", "X-Protective-Marking: VER=2012.3, NS=gov.au, DLM=Sensitive:Personal\r\n",
           Policy::SOS, TlsLevel::Verify},
          {"unmarked", "Subject: lunch\r\n", Policy::BES, TlsLevel::None},
          // Invalid for EPMS: the operator's unknown_marking (HOLD), never lower.
          {"invalid_order",
           "X-Protective-Marking: SEC=OFFICIAL, VER=2024.1, NS=gov.au\r\n", Policy::HOLD,
           TlsLevel::Verify},
          {"invalid_secret_still_rejected",
           "X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=SECRET, ACCESS=Nonsense\r\n",
           Policy::REJECT, TlsLevel::None},
      });
}

TEST(Profiles, NewZealand) {
  auto engine = load_profile("agency-nz.toml");
  ASSERT_TRUE(engine);
  expect_samples(
      *engine,
      {
          {"unclassified", "X-Protective-Marking: VER=2012.2, NS=govt.nz, SEC=UNCLASSIFIED\r\n",
           Policy::BES, TlsLevel::None},
          {"in_confidence", "Subject: [IN-CONFIDENCE] staff matter\r\n", Policy::SOS,
           TlsLevel::Encrypt},
          {"sensitive", "Subject: [SENSITIVE] x\r\n", Policy::SOS, TlsLevel::Encrypt},
          {"restricted", "X-Protective-Marking: VER=2012.2, NS=govt.nz, SEC=RESTRICTED\r\n",
           Policy::SOS, TlsLevel::Encrypt},
          {"confidential", "Subject: [CONFIDENTIAL] tender\r\n", Policy::HOLD, TlsLevel::Encrypt},
          {"secret", "Subject: [SECRET] x\r\n", Policy::HOLD, TlsLevel::Encrypt},
          {"top_secret", "Subject: [TOP SECRET] x\r\n", Policy::HOLD, TlsLevel::Encrypt},
          {"au_protected", "X-Protective-Marking: VER=2024.1, NS=gov.au, SEC=PROTECTED\r\n",
           Policy::SOS, TlsLevel::Encrypt},
          {"unreadable", "X-Protective-Marking: not a marking\r\n", Policy::SOS,
           TlsLevel::Encrypt},
      });
}

}  // namespace
}  // namespace secmx::policy
