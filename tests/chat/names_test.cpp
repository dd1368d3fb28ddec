// names_test.cpp: rfc1459 case mapping, nick/channel validation, sources, UTF-8 checks, framing.
#include <gtest/gtest.h>

#include "chat/line_splitter.h"
#include "chat/names.h"
#include "chat/utf8.h"

TEST(Names, Rfc1459CaseMapping) {
  EXPECT_EQ(chat::irc_lower("Nick[A]\\~"), "nick{a}|^");
  EXPECT_TRUE(chat::irc_equal("FOO[]", "foo{}"));
  EXPECT_FALSE(chat::irc_equal("foo", "fooo"));
  EXPECT_FALSE(chat::irc_equal("a", "b"));
}

TEST(Names, NickValidation) {
  EXPECT_TRUE(chat::is_valid_nick("alice"));
  EXPECT_TRUE(chat::is_valid_nick("[bot]_-1"));
  EXPECT_TRUE(chat::is_valid_nick("`x|y^"));
  EXPECT_FALSE(chat::is_valid_nick(""));
  EXPECT_FALSE(chat::is_valid_nick("1abc"));
  EXPECT_FALSE(chat::is_valid_nick("-abc"));
  EXPECT_FALSE(chat::is_valid_nick("a b"));
  EXPECT_FALSE(chat::is_valid_nick("a!b"));
  EXPECT_FALSE(chat::is_valid_nick("#chan"));
  EXPECT_FALSE(chat::is_valid_nick("\xC3\xA9t\xC3\xA9"));
  EXPECT_TRUE(chat::is_valid_nick(std::string(30, 'a')));
  EXPECT_FALSE(chat::is_valid_nick(std::string(31, 'a')));
}

TEST(Names, ChannelValidation) {
  EXPECT_TRUE(chat::is_valid_channel("#qaio"));
  EXPECT_TRUE(chat::is_valid_channel("&local"));
  EXPECT_TRUE(chat::is_valid_channel("#caf\xC3\xA9"));
  EXPECT_FALSE(chat::is_valid_channel("#"));
  EXPECT_FALSE(chat::is_valid_channel("qaio"));
  EXPECT_FALSE(chat::is_valid_channel("#a,b"));
  EXPECT_FALSE(chat::is_valid_channel("#a:b"));
  EXPECT_FALSE(chat::is_valid_channel("#a\ab"));
  EXPECT_FALSE(chat::is_valid_channel("#" + std::string(50, 'x')));
}

TEST(Names, SourceParsing) {
  auto s = chat::parse_source("nick!~user@host.example");
  EXPECT_EQ(s.nick, "nick");
  EXPECT_EQ(s.user, "~user");
  EXPECT_EQ(s.host, "host.example");
  EXPECT_EQ(s.full(), "nick!~user@host.example");
  auto srv = chat::parse_source("irc.example.net");
  EXPECT_EQ(srv.nick, "irc.example.net");
  EXPECT_TRUE(srv.user.empty());
  EXPECT_TRUE(srv.host.empty());
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(chat::is_valid_utf8("plain ascii"));
  EXPECT_TRUE(chat::is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(chat::is_valid_utf8("\xC3"));              // truncated
  EXPECT_FALSE(chat::is_valid_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(chat::is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(chat::is_valid_utf8("\xE0\x80\xAF"));      // overlong 3-byte
  EXPECT_FALSE(chat::is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(chat::is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(chat::is_valid_utf8("caf\xE9"));           // latin-1
}

TEST(Utf8, PrefixLengthNeverSplitsACharacter) {
  std::string s = "a\xE2\x82\xAC" "b";  // a € b
  EXPECT_EQ(chat::utf8_prefix_length(s, 10), 5u);
  EXPECT_EQ(chat::utf8_prefix_length(s, 4), 4u);
  EXPECT_EQ(chat::utf8_prefix_length(s, 3), 1u);
  EXPECT_EQ(chat::utf8_prefix_length(s, 2), 1u);
  EXPECT_EQ(chat::utf8_prefix_length(s, 1), 1u);
  EXPECT_EQ(chat::utf8_prefix_length(s, 0), 0u);
}

TEST(LineSplitter, SplitsAcrossChunksAndStripsCr) {
  chat::LineSplitter sp;
  auto a = sp.feed("NICK a\r\nUSER a 0 * :A");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].line, "NICK a");
  EXPECT_EQ(sp.buffered(), 13u);  // "USER a 0 * :A" waits for its LF
  auto b = sp.feed("\r\nPING x\nPI");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].line, "USER a 0 * :A");
  EXPECT_EQ(b[1].line, "PING x");
  auto c = sp.feed("NG y\r\n");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].line, "PING y");
  EXPECT_EQ(sp.buffered(), 0u);
}

TEST(LineSplitter, OversizeLineIsReportedOnceAndDiscardedWithBoundedMemory) {
  chat::LineSplitter sp(100);
  std::vector<chat::LineSplitter::Piece> out;
  sp.feed("ok1\n", out);
  for (int i = 0; i < 1000; ++i) sp.feed(std::string(1000, 'x'), out);  // 1 MB, no newline
  EXPECT_LE(sp.buffered(), 100u);
  sp.feed("tail of the long line\nok2\n", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].line, "ok1");
  EXPECT_TRUE(out[1].overflow);
  EXPECT_FALSE(out[2].overflow);
  EXPECT_EQ(out[2].line, "ok2");
}

TEST(LineSplitter, OversizeLineCompleteInOneChunk) {
  chat::LineSplitter sp(10);
  auto out = sp.feed(std::string(50, 'y') + "\nshort\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].overflow);
  EXPECT_EQ(out[1].line, "short");
}
