// sts_txt_test.cpp - the _mta-sts TXT record (RFC 8461 §3.1): every branch of the grammar
// as a table, then the choice among the records of an RRset.
#include "relay/sts/sts_txt.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secmx::sts {
namespace {

struct Good {
  const char* txt;
  const char* id;
};

TEST(ParseStsTxt, AcceptsTheGrammar) {
  const std::vector<Good> cases = {
      {"v=STSv1; id=20160831085700Z;", "20160831085700Z"},  // the RFC's example
      {"v=STSv1; id=20160831085700Z", "20160831085700Z"},   // final ';' optional
      {"v=STSv1;id=abc", "abc"},                             // no space needed
      {"v=STSv1 ;id=abc", "abc"},                            // *WSP before ';'
      {"v=STSv1\t;\tid=abc\t;\t", "abc"},                    // WSP is SP or HTAB
      {"v=STSv1;  id=abc  ;  ", "abc"},
      {"v=STSv1; id=a", "a"},
      {"v=STSv1; id=0123456789abcdefABCDEF0123456789", "0123456789abcdefABCDEF0123456789"},
      {"v=STSv1; ext=x; id=abc", "abc"},                    // order of fields is free
      {"v=STSv1; id=abc; x_1-y.z=!\"#$%&'()*+,-./:<>?@[\\]^_`{|}~", "abc"},  // ext-value range
      {"v=STSv1; id=abc; ID=other", "abc"},                 // "ID" is an extension
      {"v=STSv1; id=first; id=second", "first"},            // first id counts
      {"v=STSv1; id=first; id=not-an-id", "first"},         // a repeat is only an extension
      {"v=STSv1; id=abc; v=STSv2", "abc"},                  // a repeated v is ignored
      {"v=STSv1; id=abc; a234567890123456789012345678901b=1", "abc"},  // 32-char name
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.txt);
    auto r = parse_sts_txt(c.txt);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->id, c.id);
  }
}

struct Bad {
  const char* txt;
  const char* error;
};

TEST(ParseStsTxt, RefusesWithAReason) {
  const char* kBadValue2 = "field 2: invalid value (printable ASCII without ';' or '=')";
  const std::vector<Bad> cases = {
      {"", "does not begin with v=STSv1"},
      {" v=STSv1; id=abc", "does not begin with v=STSv1"},
      {"v=stsv1; id=abc", "does not begin with v=STSv1"},  // %s: case-sensitive
      {"V=STSv1; id=abc", "does not begin with v=STSv1"},
      {"id=abc; v=STSv1", "does not begin with v=STSv1"},  // v first
      {"v=STSv1", "no field after v=STSv1"},
      {"v=STSv1;", "no field after v=STSv1"},
      {"v=STSv1; ", "no field after v=STSv1"},
      {"v=STSv10; id=abc", "v=STSv1 is not followed by ';'"},
      {"v=STSv1 id=abc", "v=STSv1 is not followed by ';'"},
      {"v=STSv1; ID=abc", "no id field (names are case-sensitive)"},
      {"v=STSv1; ext=1", "no id field (names are case-sensitive)"},
      {"v=STSv1; id=", "field 1: id must be 1 to 32 letters or digits"},
      {"v=STSv1; id=a-b", "field 1: id must be 1 to 32 letters or digits"},
      {"v=STSv1; id=a=b", "field 1: id must be 1 to 32 letters or digits"},
      {"v=STSv1; id=0123456789abcdefABCDEF0123456789x",
       "field 1: id must be 1 to 32 letters or digits"},
      {"v=STSv1; id=abc def", "field 1: not followed by ';'"},
      {"v=STSv1; id=abc ", "field 1: not followed by ';'"},  // no delimiter, so no WSP
      {"v=STSv1; id=abc;;", "field 2: has no '='"},           // an empty field
      {"v=STSv1;; id=abc", "field 1: has no '='"},
      {"v=STSv1; id=abc; ext", "field 2: has no '='"},
      {"v=STSv1; id=abc; =x", "field 2: invalid field name"},
      {"v=STSv1; id=abc; _x=1", "field 2: invalid field name"},
      {"v=STSv1; id=abc; a234567890123456789012345678901bc=1", "field 2: invalid field name"},
      {"v=STSv1; id=abc; ext=", kBadValue2},
      {"v=STSv1; id=abc; ext=a=b", kBadValue2},
      {"v=STSv1; id=abc; ext=\x7f", kBadValue2},
      {"v=STSv1; id=abc; ext=\xc3\xa9", kBadValue2},
      {"v=STSv1; id=abc; id=", kBadValue2},
      {"v=STSv1; id=abc\n", "field 1: id must be 1 to 32 letters or digits"},
      {"v=STSv1; id=abc; x=1\r\n", kBadValue2},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.txt);
    auto r = parse_sts_txt(c.txt);
    ASSERT_FALSE(r.ok()) << r->id;
    EXPECT_EQ(r.error(), c.error);
  }
}

TEST(ParseStsTxt, ANulByteIsNotAField) {
  auto r = parse_sts_txt(std::string("v=STSv1; id=abc\0", 16));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "field 1: id must be 1 to 32 letters or digits");
}

Result<StsTxt, TxtError> select(std::vector<TxtStrings> records) {
  return select_sts_txt(records);
}

TEST(SelectStsTxt, PicksTheOneStsRecord) {
  auto r = select({{"v=spf1 -all"}, {"v=STSv1; id=abc;"}, {"google-site-verification=x"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "abc");
}

TEST(SelectStsTxt, ConcatenatesTheStringsOfARecordWithoutSpaces) {
  auto r = select({{"v=STSv1; id=2016", "0831085700Z;"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "20160831085700Z");
  // The split may fall inside the version too: the record is the joined text.
  r = select({{"v=ST", "Sv1", "; id=x"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "x");
}

TEST(SelectStsTxt, NoRecord) {
  for (const auto& records : std::vector<std::vector<TxtStrings>>{
           {},
           {{"v=spf1 -all"}},
           {{}},
           {{"v=STSv1"}},            // not "v=STSv1;": discarded, not invalid
           {{"v=STSv10; id=abc"}},
           {{"v=stsv1; id=abc"}},
           {{" v=STSv1; id=abc"}},
       }) {
    auto r = select(records);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().problem, TxtProblem::NoRecord);
    EXPECT_EQ(r.error().message, "no TXT record begins with v=STSv1;");
  }
}

TEST(SelectStsTxt, SeveralRecordsMeanNone) {
  auto r = select({{"v=STSv1; id=a;"}, {"v=STSv1; id=b;"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().problem, TxtProblem::Several);
  EXPECT_EQ(r.error().message, "2 TXT records begin with v=STSv1;");
  // Even when only one of them is valid.
  r = select({{"v=STSv1; id=a;"}, {"v=STSv1 ; id=-"}, {"v=STSv1;"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().problem, TxtProblem::Several);
  EXPECT_EQ(r.error().message, "3 TXT records begin with v=STSv1;");
}

TEST(SelectStsTxt, TheOneRecordMustBeValid) {
  auto r = select({{"v=spf1 -all"}, {"v=STSv1; id=not-valid"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().problem, TxtProblem::Invalid);
  EXPECT_EQ(r.error().message, "invalid record: field 1: id must be 1 to 32 letters or digits");
  // The grammar's *WSP before ';' still counts as beginning with "v=STSv1;".
  r = select({{"v=STSv1 ; id=abc"}, {"v=STSv1\t; nope"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().problem, TxtProblem::Several);
}

TEST(SelectStsTxt, ProblemNames) {
  EXPECT_STREQ(to_string(TxtProblem::NoRecord), "no-record");
  EXPECT_STREQ(to_string(TxtProblem::Several), "several");
  EXPECT_STREQ(to_string(TxtProblem::Invalid), "invalid");
}

}  // namespace
}  // namespace secmx::sts
