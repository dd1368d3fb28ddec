// message_test.cpp: the IRC line parser and formatter (examples/chat/lib/chat/message.h).
#include <gtest/gtest.h>

#include <string>

#include "chat/message.h"

using chat::format_message;
using chat::format_message_truncated;
using chat::Message;
using chat::parse_message;
using chat::ParseError;

TEST(Message, ParsesPrefixCommandParamsAndTrailing) {
  auto r = parse_message(":nick!user@host PRIVMSG #chan :hello there world\r\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.message.prefix, "nick!user@host");
  EXPECT_EQ(r.message.command, "PRIVMSG");
  ASSERT_EQ(r.message.params.size(), 2u);
  EXPECT_EQ(r.message.params[0], "#chan");
  EXPECT_EQ(r.message.params[1], "hello there world");
}

TEST(Message, NoPrefixNoTrailing) {
  auto r = parse_message("USER guest 0 *");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.message.prefix, "");
  EXPECT_EQ(r.message.command, "USER");
  EXPECT_EQ(r.message.params, (std::vector<std::string>{"guest", "0", "*"}));
}

TEST(Message, CommandIsUpperCasedAndNumericsKept) {
  EXPECT_EQ(parse_message("privmsg a :b").message.command, "PRIVMSG");
  auto r = parse_message(":srv 001 nick :Welcome");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.message.command, "001");
  EXPECT_EQ(r.message.param(1), "Welcome");
  EXPECT_EQ(r.message.param(7), "");  // missing parameters read as empty
}

TEST(Message, EmptyTrailingAndColonInsideTrailing) {
  auto r = parse_message("TOPIC #c :");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.message.params.size(), 2u);
  EXPECT_EQ(r.message.params[1], "");
  auto r2 = parse_message("PRIVMSG #c ::-) a:b");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.message.params[1], ":-) a:b");
}

TEST(Message, ExtraSpacesAreTolerated) {
  auto r = parse_message("  :p   JOIN    #a   #b  ");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.message.prefix, "p");
  EXPECT_EQ(r.message.params, (std::vector<std::string>{"#a", "#b"}));
}

TEST(Message, BareLfAndCrAreStripped) {
  EXPECT_EQ(parse_message("PING x\n").message.param(0), "x");
  EXPECT_EQ(parse_message("PING x\r").message.param(0), "x");
}

TEST(Message, TagsAreIgnored) {
  auto r = parse_message("@time=2024-01-01T00:00:00Z;msgid=abc :n!u@h PRIVMSG #c :hi\r\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.message.prefix, "n!u@h");
  EXPECT_EQ(r.message.command, "PRIVMSG");
  EXPECT_EQ(r.message.param(1), "hi");
}

TEST(Message, LimitIs512BytesIncludingCrlf) {
  std::string head = "PRIVMSG #c :";
  std::string ok = head + std::string(510 - head.size(), 'x');
  ASSERT_EQ(ok.size(), 510u);
  EXPECT_TRUE(parse_message(ok + "\r\n").ok());
  EXPECT_TRUE(parse_message(ok).ok());  // counted as if the CRLF were there
  auto r = parse_message(ok + "y\r\n");
  EXPECT_EQ(r.error, ParseError::too_long);
  EXPECT_NE(r.reason.find("513"), std::string::npos) << r.reason;
}

TEST(Message, TagsDoNotCountAgainstTheLimitButHaveTheirOwn) {
  std::string tags = "@a=" + std::string(600, 'v') + " ";
  EXPECT_TRUE(parse_message(tags + "PING x").ok());
  std::string huge = "@a=" + std::string(9000, 'v') + " ";
  EXPECT_EQ(parse_message(huge + "PING x").error, ParseError::tags_too_long);
}

TEST(Message, RejectsNulAndEmbeddedNewlines) {
  EXPECT_EQ(parse_message(std::string("PRIVMSG #c :a\0b", 15)).error, ParseError::nul_byte);
  EXPECT_EQ(parse_message("PRIVMSG #c :a\rb").error, ParseError::stray_cr_lf);
  EXPECT_EQ(parse_message("PRIVMSG #c :a\nb\r\n").error, ParseError::stray_cr_lf);
}

TEST(Message, RejectsEmptyAndBadPrefixAndBadCommand) {
  EXPECT_EQ(parse_message("").error, ParseError::empty);
  EXPECT_EQ(parse_message("   \r\n").error, ParseError::empty);
  EXPECT_EQ(parse_message(": PRIVMSG x").error, ParseError::bad_prefix);
  EXPECT_EQ(parse_message(":prefixonly").error, ParseError::bad_command);
  EXPECT_EQ(parse_message("PRIV-MSG x").error, ParseError::bad_command);
  EXPECT_EQ(parse_message("12 x").error, ParseError::bad_command);
  EXPECT_EQ(parse_message("1234 x").error, ParseError::bad_command);
  EXPECT_EQ(parse_message(":p :trailing").error, ParseError::bad_command);
  auto r = parse_message("J0IN #x");
  EXPECT_EQ(r.error, ParseError::bad_command);
  EXPECT_NE(r.reason.find("J0IN"), std::string::npos);
}

TEST(Message, FifteenParamsMaxAndTheFifteenthTakesTheRest) {
  std::string line = "CMD";
  for (int i = 1; i <= 14; ++i) line += " p" + std::to_string(i);
  auto r = parse_message(line + " rest of line");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.message.params.size(), 15u);
  EXPECT_EQ(r.message.params[14], "rest of line");
  std::string too_many = line + " p15 :x";
  // p15 absorbs " :x" as the fifteenth parameter; nothing is lost or split past the limit.
  auto r2 = parse_message(too_many);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.message.params[14], "p15 :x");
}

TEST(Message, FormatUsesColonOnlyWhenNeeded) {
  EXPECT_EQ(format_message({"", "NICK", {"bob"}}), "NICK bob\r\n");
  EXPECT_EQ(format_message({"srv", "PRIVMSG", {"#c", "hi there"}}), ":srv PRIVMSG #c :hi there\r\n");
  EXPECT_EQ(format_message({"", "TOPIC", {"#c", ""}}), "TOPIC #c :\r\n");
  EXPECT_EQ(format_message({"", "PRIVMSG", {"#c", ":)"}}), "PRIVMSG #c ::)\r\n");
  EXPECT_EQ(format_message({"", "QUIT", {}}), "QUIT\r\n");
}

TEST(Message, FormatRejectsUnrepresentableMessages) {
  EXPECT_THROW(format_message({"", "PRIVMSG", {"a b", "x"}}), std::invalid_argument);
  EXPECT_THROW(format_message({"", "PRIVMSG", {"", "x"}}), std::invalid_argument);
  EXPECT_THROW(format_message({"", "PRIVMSG", {"#c", "x\r\nQUIT"}}), std::invalid_argument);
  EXPECT_THROW(format_message({"", "PRIVMSG", {"#c", std::string("a\0b", 3)}}), std::invalid_argument);
  EXPECT_THROW(format_message({"", "BAD CMD", {}}), std::invalid_argument);
  EXPECT_THROW(format_message({"a b", "PING", {"x"}}), std::invalid_argument);
  EXPECT_THROW(format_message({"", "PRIVMSG", {"#c", std::string(600, 'x')}}), std::invalid_argument);
}

TEST(Message, RoundTrip) {
  Message m{"n!u@h", "PRIVMSG", {"#chan", "hello : world"}};
  auto r = parse_message(format_message(m));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.message, m);
}

TEST(Message, TruncationKeepsTheLimitAndUtf8Boundaries) {
  // 300 two-byte characters: 600 bytes that must be cut to fit, never inside a character.
  std::string text;
  for (int i = 0; i < 300; ++i) text += "\xC3\xA9";  // é
  std::string line = format_message_truncated({"nick!user@host", "PRIVMSG", {"#c", text}});
  EXPECT_LE(line.size(), chat::kMaxLineBytes);
  EXPECT_EQ(line.substr(line.size() - 2), "\r\n");
  auto r = parse_message(line);
  ASSERT_TRUE(r.ok()) << r.reason;
  const std::string& got = r.message.params[1];
  EXPECT_EQ(got.size() % 2, 0u);
  EXPECT_EQ(text.compare(0, got.size(), got), 0);
  EXPECT_GE(line.size(), chat::kMaxLineBytes - 1);  // as much as fits is kept
}

TEST(Message, TextLinesAlwaysUseTheTrailingColon) {
  EXPECT_EQ(chat::make_text_line("a!b@c", "PRIVMSG", {"bob", "hi"}), ":a!b@c PRIVMSG bob :hi\r\n");
  EXPECT_EQ(chat::make_line("a!b@c", "PRIVMSG", {"bob", "hi"}), ":a!b@c PRIVMSG bob hi\r\n");
  EXPECT_EQ(format_message({"", "PRIVMSG", {"bob", "hi"}}, true), "PRIVMSG bob :hi\r\n");
}
