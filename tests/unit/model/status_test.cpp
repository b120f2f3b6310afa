// status_test.cpp - enhanced status codes: parse, print, class.
#include "relay/model/status.hpp"

#include <gtest/gtest.h>

namespace secmx::model {
namespace {

TEST(ModelStatus, ParseAndPrint) {
  for (const char* text : {"2.0.0", "4.4.1", "5.7.10", "5.1.10", "4.7.5", "5.999.999", "2.1.5"}) {
    auto s = Status::parse(text);
    ASSERT_TRUE(s) << text;
    EXPECT_EQ(s->to_string(), text);
  }
  auto s = Status::parse("5.7.10");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->cls, StatusClass::Permanent);
  EXPECT_EQ(s->subject, 7);
  EXPECT_EQ(s->detail, 10);
  EXPECT_EQ(*s, kEncryptionNeeded);
  EXPECT_EQ(kEncryptionNeeded.to_string(), "5.7.10");
}

TEST(ModelStatus, Class) {
  EXPECT_TRUE(Status::parse("2.0.0")->success());
  EXPECT_TRUE(Status::parse("4.4.1")->temporary());
  EXPECT_TRUE(Status::parse("5.7.1")->permanent());
  EXPECT_FALSE(Status::parse("5.7.1")->temporary());
  EXPECT_EQ(class_digit(Status::parse("4.2.0")->cls), 4);
  EXPECT_EQ(Status::parse("4.7.10")->with_class(StatusClass::Permanent), kEncryptionNeeded);
  EXPECT_NE(*Status::parse("5.7.1"), kEncryptionNeeded);
}

TEST(ModelStatus, ParseRefuses) {
  for (const char* bad : {"", "5", "5.7", "5.7.", "5..10", "3.0.0", "1.0.0", "5.07.1", "5.7.01",
                          "5.1000.1", "5.7.1000", "5.7.10 ", " 5.7.10", "5,7,10", "5.7.1a",
                          "550", "5.7.10.1", "X.0.0"}) {
    EXPECT_FALSE(Status::parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace secmx::model
