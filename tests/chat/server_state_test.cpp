// server_state_test.cpp: the chat server's protocol state machine without sockets
// (examples/chat/server/server_state.h). Each test feeds client lines and checks exactly what
// every client would receive, per RFC 2812.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "chat/message.h"
#include "server_state.h"

using chat::server::ClientId;
using chat::server::ServerConfig;
using chat::server::ServerState;

namespace {

struct FakeOutput : chat::server::ServerOutput {
  std::map<ClientId, std::vector<std::string>> lines;
  std::vector<ClientId> closed;
  void send(ClientId id, const std::string& line) override {
    ASSERT_LE(line.size(), chat::kMaxLineBytes);
    ASSERT_EQ(line.substr(line.size() - 2), "\r\n");
    lines[id].push_back(line.substr(0, line.size() - 2));
  }
  void close(ClientId id) override { closed.push_back(id); }
};

class ServerStateTest : public ::testing::Test {
 protected:
  FakeOutput out;
  ServerConfig cfg = [] {
    ServerConfig c;
    c.server_name = "test.server";
    c.ping_interval = 10;
    c.ping_timeout = 5;
    c.registration_timeout = 20;
    return c;
  }();
  ServerState st{cfg, out};
  double now = 1000;

  ClientId connect(const std::string& host = "127.0.0.1") { return st.add_client(host, now); }
  void send(ClientId id, const std::string& line) { st.handle_line(id, line, now); }
  ClientId registered(const std::string& nick) {
    ClientId id = connect();
    send(id, "NICK " + nick);
    send(id, "USER " + nick + " 0 * :Real " + nick);
    out.lines[id].clear();
    return id;
  }
  // Lines received since the last call, then forgotten.
  std::vector<std::string> take(ClientId id) {
    auto v = std::move(out.lines[id]);
    out.lines[id].clear();
    return v;
  }
  static std::vector<std::string> commands(const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (auto& l : lines) out.push_back(chat::parse_message(l).message.command);
    return out;
  }
};

using Lines = std::vector<std::string>;

}  // namespace

TEST_F(ServerStateTest, RegistrationSendsWelcomeBurst) {
  ClientId a = connect("10.0.0.1");
  send(a, "NICK alice");
  EXPECT_TRUE(take(a).empty());  // nothing until USER too
  send(a, "USER al 0 * :Alice Liddell");
  Lines got = take(a);
  EXPECT_EQ(commands(got), (Lines{"001", "002", "003", "004", "005", "422"}));
  EXPECT_EQ(got[0], ":test.server 001 alice :Welcome to the qaio IRC Network alice!~al@10.0.0.1");
  EXPECT_NE(got[4].find("CASEMAPPING=rfc1459"), std::string::npos);
  EXPECT_NE(got[4].find("UTF8ONLY"), std::string::npos);
  const auto* c = st.find_nick("ALICE");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->registered);
  EXPECT_EQ(c->realname, "Alice Liddell");
}

TEST_F(ServerStateTest, UserBeforeNickAlsoRegisters) {
  ClientId a = connect();
  send(a, "USER al 0 * :A");
  EXPECT_TRUE(take(a).empty());
  send(a, "NICK al");
  EXPECT_EQ(commands(take(a)).front(), "001");
}

TEST_F(ServerStateTest, CommandsBeforeRegistrationGet451ButPingWorks) {
  ClientId a = connect();
  send(a, "JOIN #x");
  send(a, "PRIVMSG bob :hi");
  send(a, "PING tok");
  Lines got = take(a);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], ":test.server 451 * :You have not registered");
  EXPECT_EQ(got[1], ":test.server 451 * :You have not registered");
  EXPECT_EQ(got[2], ":test.server PONG test.server tok");
  EXPECT_EQ(st.channel_count(), 0u);
}

TEST_F(ServerStateTest, NickErrors) {
  ClientId a = registered("Alice[1]");
  ClientId b = connect();
  send(b, "NICK");
  send(b, "NICK 9lives");
  send(b, "NICK alice{1}");  // the same nick under rfc1459 case mapping
  Lines got = take(b);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], ":test.server 431 * :No nickname given");
  EXPECT_EQ(got[1], ":test.server 432 * 9lives :Erroneous nickname");
  EXPECT_EQ(got[2], ":test.server 433 * alice{1} :Nickname is already in use");
  send(b, "NICK bob");
  send(b, "USER b 0 * :B");
  EXPECT_EQ(commands(take(b)).front(), "001");
  EXPECT_TRUE(take(a).empty());
}

TEST_F(ServerStateTest, UserErrors) {
  ClientId a = connect();
  send(a, "USER onlyone");
  EXPECT_EQ(take(a), (Lines{":test.server 461 * USER :Not enough parameters"}));
  ClientId b = registered("bob");
  send(b, "USER again 0 * :x");
  EXPECT_EQ(take(b), (Lines{":test.server 462 bob :You may not reregister"}));
}

TEST_F(ServerStateTest, JoinAnnouncesAndSendsNames) {
  ClientId a = registered("alice");
  ClientId b = registered("bob");
  send(a, "JOIN #Chat");
  EXPECT_EQ(take(a), (Lines{":alice!~alice@127.0.0.1 JOIN #Chat", ":test.server 353 alice = #Chat :@alice",
                            ":test.server 366 alice #Chat :End of /NAMES list"}));
  send(b, "JOIN #chat");  // same channel, other case: joins the existing one
  EXPECT_EQ(take(a), (Lines{":bob!~bob@127.0.0.1 JOIN #Chat"}));
  EXPECT_EQ(take(b), (Lines{":bob!~bob@127.0.0.1 JOIN #Chat", ":test.server 353 bob = #Chat :@alice bob",
                            ":test.server 366 bob #Chat :End of /NAMES list"}));
  send(b, "JOIN #chat");  // already there: nothing happens
  EXPECT_TRUE(take(b).empty());
  EXPECT_EQ(st.find_channel("#CHAT")->members.size(), 2u);
}

TEST_F(ServerStateTest, JoinErrorsAndJoinZero) {
  ClientId a = registered("alice");
  send(a, "JOIN");
  send(a, "JOIN nochan");
  EXPECT_EQ(take(a), (Lines{":test.server 461 alice JOIN :Not enough parameters",
                            ":test.server 403 alice nochan :No such channel"}));
  send(a, "JOIN #a,#b");
  take(a);
  EXPECT_EQ(st.channel_count(), 2u);
  send(a, "JOIN 0");
  EXPECT_EQ(take(a), (Lines{":alice!~alice@127.0.0.1 PART #a", ":alice!~alice@127.0.0.1 PART #b"}));
  EXPECT_EQ(st.channel_count(), 0u);
}

TEST_F(ServerStateTest, ChannelMessagesReachEveryoneButTheSender) {
  ClientId a = registered("alice"), b = registered("bob"), c = registered("carol"), d = registered("dave");
  for (ClientId id : {a, b, c}) send(id, "JOIN #q");
  for (ClientId id : {a, b, c, d}) take(id);
  send(a, "PRIVMSG #q :hello all");
  EXPECT_TRUE(take(a).empty());
  EXPECT_EQ(take(b), (Lines{":alice!~alice@127.0.0.1 PRIVMSG #q :hello all"}));
  EXPECT_EQ(take(c), (Lines{":alice!~alice@127.0.0.1 PRIVMSG #q :hello all"}));
  EXPECT_TRUE(take(d).empty());
  send(d, "PRIVMSG #q :outside");
  send(d, "PRIVMSG #nope :x");
  EXPECT_EQ(take(d), (Lines{":test.server 404 dave #q :Cannot send to channel",
                            ":test.server 401 dave #nope :No such nick/channel"}));
  EXPECT_TRUE(take(b).empty());
}

TEST_F(ServerStateTest, PrivateMessagesAndErrors) {
  ClientId a = registered("alice"), b = registered("bob");
  send(a, "PRIVMSG BOB :psst");
  EXPECT_EQ(take(b), (Lines{":alice!~alice@127.0.0.1 PRIVMSG bob :psst"}));
  send(a, "PRIVMSG");
  send(a, "PRIVMSG bob");
  send(a, "PRIVMSG bob :");
  send(a, "PRIVMSG ghost :boo");
  EXPECT_EQ(take(a), (Lines{":test.server 411 alice :No recipient given (PRIVMSG)",
                            ":test.server 412 alice :No text to send", ":test.server 412 alice :No text to send",
                            ":test.server 401 alice ghost :No such nick/channel"}));
  send(a, "PRIVMSG bob,ghost :multi");
  EXPECT_EQ(take(b), (Lines{":alice!~alice@127.0.0.1 PRIVMSG bob :multi"}));
  EXPECT_EQ(take(a), (Lines{":test.server 401 alice ghost :No such nick/channel"}));
}

TEST_F(ServerStateTest, NoticeIsRelayedButNeverAnswersWithErrors) {
  ClientId a = registered("alice"), b = registered("bob");
  send(a, "NOTICE bob :fyi");
  send(a, "NOTICE ghost :x");
  send(a, "NOTICE #none :x");
  send(a, "NOTICE");
  EXPECT_EQ(take(b), (Lines{":alice!~alice@127.0.0.1 NOTICE bob :fyi"}));
  EXPECT_TRUE(take(a).empty());
}

TEST_F(ServerStateTest, PartWithReasonAndErrors) {
  ClientId a = registered("alice"), b = registered("bob");
  send(a, "JOIN #q");
  send(b, "JOIN #q");
  take(a), take(b);
  send(b, "PART #q :see you");
  EXPECT_EQ(take(a), (Lines{":bob!~bob@127.0.0.1 PART #q :see you"}));
  EXPECT_EQ(take(b), (Lines{":bob!~bob@127.0.0.1 PART #q :see you"}));
  send(b, "PART #q");
  send(b, "PART #zz");
  send(b, "PART");
  EXPECT_EQ(take(b), (Lines{":test.server 442 bob #q :You're not on that channel",
                            ":test.server 403 bob #zz :No such channel",
                            ":test.server 461 bob PART :Not enough parameters"}));
  send(a, "PART #q");
  EXPECT_EQ(st.find_channel("#q"), nullptr);  // empty channels disappear
}

TEST_F(ServerStateTest, NickChangeIsSeenOnceByEachPeer) {
  ClientId a = registered("alice"), b = registered("bob"), c = registered("carol");
  for (auto ch : {"#one", "#two"}) {
    send(a, std::string("JOIN ") + ch);
    send(b, std::string("JOIN ") + ch);
  }
  for (ClientId id : {a, b, c}) take(id);
  send(a, "NICK Alicia");
  EXPECT_EQ(take(a), (Lines{":alice!~alice@127.0.0.1 NICK Alicia"}));
  EXPECT_EQ(take(b), (Lines{":alice!~alice@127.0.0.1 NICK Alicia"}));
  EXPECT_TRUE(take(c).empty());  // shares no channel
  EXPECT_EQ(st.find_nick("alice"), nullptr);
  EXPECT_NE(st.find_nick("alicia"), nullptr);
  send(c, "NICK alice");  // the old nick is free again
  EXPECT_EQ(take(c), (Lines{":carol!~carol@127.0.0.1 NICK alice"}));
  send(b, "PRIVMSG alicia :found you");
  EXPECT_EQ(take(a), (Lines{":bob!~bob@127.0.0.1 PRIVMSG Alicia :found you"}));
}

TEST_F(ServerStateTest, QuitTellsPeersAndClosesWithError) {
  ClientId a = registered("alice"), b = registered("bob");
  send(a, "JOIN #q");
  send(b, "JOIN #q");
  take(a), take(b);
  send(a, "QUIT :bye now");
  EXPECT_EQ(take(a), (Lines{"ERROR :Closing Link: 127.0.0.1 (Quit: bye now)"}));
  EXPECT_EQ(take(b), (Lines{":alice!~alice@127.0.0.1 QUIT :Quit: bye now"}));
  EXPECT_EQ(out.closed, (std::vector<ClientId>{a}));
  EXPECT_EQ(st.find_client(a), nullptr);
  EXPECT_EQ(st.find_nick("alice"), nullptr);
  EXPECT_EQ(st.find_channel("#q")->members.size(), 1u);
  send(a, "PRIVMSG bob :ghost");  // lines after close are ignored
  EXPECT_TRUE(take(b).empty());
}

TEST_F(ServerStateTest, LostConnectionBroadcastsQuitOnce) {
  ClientId a = registered("alice"), b = registered("bob");
  send(a, "JOIN #q,#r");
  send(b, "JOIN #q,#r");
  take(a), take(b);
  st.remove_client(a, "Connection reset by peer");
  st.remove_client(a, "again");
  EXPECT_EQ(take(b), (Lines{":alice!~alice@127.0.0.1 QUIT :Connection reset by peer"}));
  EXPECT_TRUE(out.closed.empty());  // the transport is already gone
  EXPECT_EQ(st.client_count(), 1u);
}

TEST_F(ServerStateTest, TopicQuerySetAndOnJoin) {
  ClientId a = registered("alice"), b = registered("bob"), c = registered("carol");
  send(a, "JOIN #q");
  send(b, "JOIN #q");
  take(a), take(b);
  send(a, "TOPIC #q");
  EXPECT_EQ(take(a), (Lines{":test.server 331 alice #q :No topic is set"}));
  send(c, "TOPIC #q :hijack");
  EXPECT_EQ(take(c), (Lines{":test.server 442 carol #q :You're not on that channel"}));
  send(b, "TOPIC #q :C++ coroutines");
  EXPECT_EQ(take(a), (Lines{":bob!~bob@127.0.0.1 TOPIC #q :C++ coroutines"}));
  EXPECT_EQ(take(b), (Lines{":bob!~bob@127.0.0.1 TOPIC #q :C++ coroutines"}));
  send(c, "JOIN #q");
  Lines got = take(c);
  ASSERT_EQ(commands(got), (Lines{"JOIN", "332", "333", "353", "366"}));
  EXPECT_EQ(got[1], ":test.server 332 carol #q :C++ coroutines");
  EXPECT_EQ(got[2].rfind(":test.server 333 carol #q bob!~bob@127.0.0.1 ", 0), 0u) << got[2];
  send(c, "TOPIC");
  send(c, "TOPIC #none");
  EXPECT_EQ(take(c), (Lines{":test.server 461 carol TOPIC :Not enough parameters",
                            ":test.server 403 carol #none :No such channel"}));
}

TEST_F(ServerStateTest, WhoListsChannelMembers) {
  ClientId a = registered("alice"), b = registered("bob");
  send(a, "JOIN #q");
  send(b, "JOIN #q");
  take(a), take(b);
  send(b, "WHO #q");
  EXPECT_EQ(take(b), (Lines{":test.server 352 bob #q ~alice 127.0.0.1 test.server alice H@ :0 Real alice",
                            ":test.server 352 bob #q ~bob 127.0.0.1 test.server bob H :0 Real bob",
                            ":test.server 315 bob #q :End of WHO list"}));
  send(b, "WHO alice");
  EXPECT_EQ(take(b), (Lines{":test.server 352 bob * ~alice 127.0.0.1 test.server alice H :0 Real alice",
                            ":test.server 315 bob alice :End of WHO list"}));
}

TEST_F(ServerStateTest, NamesSplitsLargeChannelsWithinTheLineLimit) {
  std::vector<ClientId> ids;
  for (int i = 0; i < 120; ++i) {
    ids.push_back(registered("user_with_a_long_nick_" + std::to_string(i)));
    send(ids.back(), "JOIN #big");
  }
  for (ClientId id : ids) take(id);
  send(ids[0], "NAMES #big");
  Lines got = take(ids[0]);
  ASSERT_GE(got.size(), 3u);
  std::set<std::string> seen;
  for (std::size_t i = 0; i + 1 < got.size(); ++i) {
    auto m = chat::parse_message(got[i]).message;
    ASSERT_EQ(m.command, "353");
    std::string names = m.params[3];
    for (std::size_t p = 0; p < names.size();) {
      std::size_t sp = names.find(' ', p);
      seen.insert(names.substr(p, sp - p));
      p = sp == std::string::npos ? names.size() : sp + 1;
    }
  }
  EXPECT_EQ(chat::parse_message(got.back()).message.command, "366");
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_TRUE(seen.count("@user_with_a_long_nick_0"));
}

TEST_F(ServerStateTest, BadInputGetsTheRightReplies) {
  ClientId a = registered("alice");
  send(a, "FROBNICATE x");
  send(a, "PRIVMSG alice :" + std::string(600, 'x'));
  send(a, std::string("PRIVMSG alice :a\0b", 18));
  send(a, "PRIVMSG alice :caf\xE9");
  send(a, "");
  send(a, ":  ");
  Lines got = take(a);
  ASSERT_EQ(got.size(), 5u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], ":test.server 421 alice FROBNICATE :Unknown command");
  EXPECT_EQ(got[1], ":test.server 417 alice :Input line was too long");
  EXPECT_EQ(got[2], ":test.server 400 alice * :Malformed line rejected: NUL byte in line");
  EXPECT_EQ(got[3],
            ":test.server FAIL PRIVMSG INVALID_UTF8 :Message rejected, your IRC software MUST use UTF-8 encoding "
            "on this network");
  EXPECT_EQ(got[4], ":test.server 400 alice * :Malformed line rejected: empty prefix");
  st.handle_overflow(a, now);
  EXPECT_EQ(take(a), (Lines{":test.server 417 alice :Input line was too long"}));
  EXPECT_TRUE(out.closed.empty());
}

TEST_F(ServerStateTest, RelayedLinesAreTruncatedToTheLimit) {
  ClientId a = registered("a_rather_long_nickname_here"), b = registered("bob");
  send(a, "JOIN #q");
  send(b, "JOIN #q");
  take(a), take(b);
  std::string text(510 - std::string("PRIVMSG #q :").size(), 'z');
  send(a, "PRIVMSG #q :" + text);  // fits as sent, not once the prefix is added
  Lines got = take(b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].size() + 2, chat::kMaxLineBytes);
  auto m = chat::parse_message(got[0]).message;
  EXPECT_EQ(text.rfind(m.params[1], 0), 0u);
}

TEST_F(ServerStateTest, IdlePingThenTimeout) {
  ClientId a = registered("alice"), b = registered("bob");
  send(a, "JOIN #q");
  send(b, "JOIN #q");
  take(a), take(b);
  now += 9;
  send(b, "PING keepalive");  // b stays active
  take(b);
  st.tick(now);
  EXPECT_TRUE(take(a).empty());
  now += 1.5;  // a idle for 10.5 s: pinged; b idle for 1.5 s: not
  st.tick(now);
  EXPECT_EQ(take(a), (Lines{"PING test.server"}));
  EXPECT_TRUE(take(b).empty());
  now += 1;
  st.tick(now);
  EXPECT_TRUE(take(a).empty());  // one PING per idle period
  now += 4.5;                     // 5.5 s since the PING: timed out
  send(b, "PONG test.server");
  st.tick(now);
  Lines got = take(a);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("ERROR :Closing Link: 127.0.0.1 (Ping timeout: ", 0), 0u) << got[0];
  Lines seen = take(b);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].rfind(":alice!~alice@127.0.0.1 QUIT :Ping timeout: ", 0), 0u) << seen[0];
  EXPECT_EQ(out.closed, (std::vector<ClientId>{a}));
}

TEST_F(ServerStateTest, PongClearsThePendingPing) {
  ClientId a = registered("alice");
  now += 11;
  st.tick(now);
  EXPECT_EQ(take(a), (Lines{"PING test.server"}));
  now += 2;
  send(a, "PONG :test.server");
  now += 4;
  st.tick(now);
  EXPECT_TRUE(out.closed.empty());
  EXPECT_TRUE(take(a).empty());
}

TEST_F(ServerStateTest, SilentConnectionIsDroppedAtRegistrationTimeout) {
  ClientId a = connect();
  ClientId b = registered("bob");
  now += 19;
  st.tick(now);
  EXPECT_TRUE(out.closed.empty());
  now += 2;
  st.tick(now);
  EXPECT_EQ(take(a), (Lines{"ERROR :Closing Link: 127.0.0.1 (Registration timed out)"}));
  EXPECT_EQ(out.closed, (std::vector<ClientId>{a}));
  EXPECT_NE(st.find_client(b), nullptr);
}

TEST_F(ServerStateTest, ShutdownNotifiesAndClosesEveryone) {
  ClientId a = registered("alice"), b = connect();
  send(a, "JOIN #q");
  take(a);
  st.shutdown("SIGTERM");
  EXPECT_EQ(take(a), (Lines{":test.server NOTICE alice :Server shutting down: SIGTERM",
                            "ERROR :Closing Link: 127.0.0.1 (Server shutting down)"}));
  EXPECT_EQ(take(b), (Lines{":test.server NOTICE * :Server shutting down: SIGTERM",
                            "ERROR :Closing Link: 127.0.0.1 (Server shutting down)"}));
  EXPECT_EQ(out.closed, (std::vector<ClientId>{a, b}));
  EXPECT_EQ(st.client_count(), 0u);
  EXPECT_EQ(st.channel_count(), 0u);
}

TEST_F(ServerStateTest, ModeAndCapMinimalAnswers) {
  ClientId a = connect();
  send(a, "CAP LS 302");
  EXPECT_EQ(take(a), (Lines{":test.server CAP * LS :"}));
  send(a, "NICK alice");
  send(a, "USER a 0 * :A");
  take(a);
  send(a, "JOIN #q");
  take(a);
  send(a, "MODE #q");
  Lines got = take(a);
  ASSERT_EQ(commands(got), (Lines{"324", "329"}));
  EXPECT_EQ(got[0], ":test.server 324 alice #q +nt");
  send(a, "MODE alice");
  EXPECT_EQ(take(a), (Lines{":test.server 221 alice +"}));
  ClientId b = registered("bob");
  send(b, "JOIN #q");
  take(b);
  send(b, "MODE #q +k");
  EXPECT_EQ(take(b), (Lines{":test.server 482 bob #q :You're not channel operator"}));
}
