// client_state_test.cpp: the client protocol state machine and slash commands
// (examples/chat/lib/chat/client_state.h, input.h), fed with server lines, no sockets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chat/client_state.h"
#include "chat/input.h"

using chat::ChatEvent;
using Kind = chat::ChatEvent::Kind;

namespace {

class ClientStateTest : public ::testing::Test {
 protected:
  std::vector<std::string> sent;
  std::vector<ChatEvent> events;
  chat::ClientState st{chat::Identity{"neo", "tom", "Thomas A", {"#matrix"}},
                       [this](std::string l) { sent.push_back(l.substr(0, l.size() - 2)); },
                       [this](const ChatEvent& e) { events.push_back(e); }};

  std::vector<std::string> take_sent() { return std::exchange(sent, {}); }
  std::vector<ChatEvent> take_events() { return std::exchange(events, {}); }
  void welcome(const std::string& nick = "neo") {
    st.start_registration();
    st.handle_line(":srv 001 " + nick + " :Welcome to the network");
  }
};

}  // namespace

TEST_F(ClientStateTest, RegistersThenJoinsConfiguredChannels) {
  st.start_registration();
  EXPECT_EQ(take_sent(), (std::vector<std::string>{"NICK neo", "USER tom 0 * :Thomas A"}));
  st.handle_line(":srv 001 neo :Welcome");
  EXPECT_TRUE(st.registered());
  EXPECT_EQ(take_sent(), (std::vector<std::string>{"JOIN #matrix"}));
  auto ev = take_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::registered);
}

TEST_F(ClientStateTest, NickInUseRetriesWithAlternatives) {
  st.start_registration();
  take_sent();
  st.handle_line(":srv 433 * neo :Nickname is already in use");
  st.handle_line(":srv 433 * neo_ :Nickname is already in use");
  EXPECT_EQ(take_sent(), (std::vector<std::string>{"NICK neo_", "NICK neo__"}));
  st.handle_line(":srv 001 neo__ :Welcome");
  EXPECT_EQ(st.nick(), "neo__");
  // After registration a 433 is just an error for the user.
  take_sent();
  st.handle_line(":srv 433 neo__ trinity :Nickname is already in use");
  EXPECT_TRUE(take_sent().empty());
  EXPECT_EQ(take_events().back().kind, Kind::error);
}

TEST_F(ClientStateTest, AnswersPing) {
  st.handle_line("PING :irc.example.net");
  EXPECT_EQ(take_sent(), (std::vector<std::string>{"PONG :irc.example.net"}));
}

TEST_F(ClientStateTest, TracksMembersThroughJoinNamesPartQuitNick) {
  welcome();
  take_sent(), take_events();
  st.handle_line(":neo!tom@h JOIN #matrix");
  st.handle_line(":srv 353 neo = #matrix :@morpheus +trinity neo");
  st.handle_line(":srv 366 neo #matrix :End of /NAMES list");
  auto ev = take_events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::join);
  EXPECT_TRUE(ev[0].self);
  EXPECT_EQ(ev[1].kind, Kind::names);
  EXPECT_EQ(ev[1].names, (std::vector<std::string>{"morpheus", "trinity", "neo"}));
  const auto& info = st.channels().at("#matrix");
  EXPECT_EQ(info.members.size(), 3u);

  st.handle_line(":smith!a@b JOIN :#matrix");
  st.handle_line(":trinity!a@b NICK :trin");
  st.handle_line(":morpheus!a@b PART #matrix :brb");
  st.handle_line(":smith!a@b QUIT :Quit: gone");
  ev = take_events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].kind, Kind::join);
  EXPECT_EQ(ev[1].kind, Kind::nick);
  EXPECT_EQ(ev[1].text, "trin");
  EXPECT_EQ(ev[1].target, "#matrix");
  EXPECT_EQ(ev[2].kind, Kind::part);
  EXPECT_EQ(ev[2].text, "brb");
  EXPECT_EQ(ev[3].kind, Kind::quit);
  EXPECT_EQ(ev[3].target, "#matrix");
  EXPECT_EQ(st.channels().at("#matrix").members, (std::set<std::string>{"neo", "trin"}));
}

TEST_F(ClientStateTest, MessagesGoToChannelOrPrivateConversation) {
  welcome();
  take_events();
  st.handle_line(":morpheus!a@b PRIVMSG #matrix :red or blue?");
  st.handle_line(":trinity!a@b PRIVMSG neo :follow the white rabbit");
  st.handle_line(":trinity!a@b PRIVMSG #matrix :\x01" "ACTION knocks\x01");
  st.handle_line(":srv NOTICE neo :server notice");
  auto ev = take_events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].kind, Kind::message);
  EXPECT_EQ(ev[0].target, "#matrix");
  EXPECT_EQ(ev[0].nick, "morpheus");
  EXPECT_EQ(ev[1].target, "trinity");  // a private message opens the sender's conversation
  EXPECT_EQ(ev[2].kind, Kind::action);
  EXPECT_EQ(ev[2].text, "knocks");
  EXPECT_EQ(ev[3].kind, Kind::notice);
  EXPECT_EQ(ev[3].target, "");
}

TEST_F(ClientStateTest, RejoinsChannelsAfterReconnectButNotPartedOnes) {
  welcome();
  st.handle_line(":neo!tom@h JOIN #matrix");
  st.handle_line(":neo!tom@h JOIN #zion");
  st.handle_line(":neo!tom@h PART #matrix");
  take_sent();
  welcome();  // a new connection
  auto s = take_sent();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[2], "JOIN #zion");
}

TEST_F(ClientStateTest, OwnNickChangeIsUsedAfterReconnect) {
  welcome();
  st.handle_line(":neo!tom@h NICK :theone");
  EXPECT_EQ(st.nick(), "theone");
  take_sent();
  st.start_registration();
  EXPECT_EQ(take_sent().front(), "NICK theone");
}

TEST_F(ClientStateTest, LongMessagesAreSplitNotTruncated) {
  welcome();
  take_sent(), take_events();
  std::string text(1000, 'x');
  st.privmsg("#matrix", text);
  auto s = take_sent();
  ASSERT_GE(s.size(), 3u);
  std::string joined;
  for (auto& l : s) {
    EXPECT_LE(l.size() + 2 + 100, chat::kMaxLineBytes);  // room left for the server's prefix
    joined += chat::parse_message(l).message.params[1];
  }
  EXPECT_EQ(joined, text);
}

TEST_F(ClientStateTest, SlashCommands) {
  welcome();
  take_sent(), take_events();
  auto r = chat::apply_input(st, "/join zion", "");
  EXPECT_EQ(r.open, "#zion");
  r = chat::apply_input(st, "hello there", "#zion");
  r = chat::apply_input(st, "/me waves", "#zion");
  r = chat::apply_input(st, "/msg trinity psst", "#zion");
  EXPECT_EQ(r.open, "trinity");
  r = chat::apply_input(st, "/nick anderson", "#zion");
  r = chat::apply_input(st, "/part #zion later", "trinity");
  r = chat::apply_input(st, "//slash", "#zion");
  r = chat::apply_input(st, "/quit bye all", "#zion");
  EXPECT_TRUE(r.quit);
  EXPECT_EQ(take_sent(), (std::vector<std::string>{"JOIN #zion", "PRIVMSG #zion :hello there",
                                                   "PRIVMSG #zion :\x01" "ACTION waves\x01",
                                                   "PRIVMSG trinity :psst", "NICK anderson", "PART #zion :later",
                                                   "PRIVMSG #zion :/slash", "QUIT :bye all"}));
  auto ev = take_events();
  ASSERT_EQ(ev.size(), 4u);  // local echoes of the three messages and the action
  EXPECT_TRUE(ev[0].self);
  EXPECT_EQ(ev[1].kind, Kind::action);
}

TEST_F(ClientStateTest, SlashCommandErrorsSendNothing) {
  welcome();
  take_sent();
  EXPECT_FALSE(chat::apply_input(st, "text with nowhere to go", "").error.empty());
  EXPECT_FALSE(chat::apply_input(st, "/frob", "#a").error.empty());
  EXPECT_FALSE(chat::apply_input(st, "/nick 9bad", "#a").error.empty());
  EXPECT_FALSE(chat::apply_input(st, "/join", "#a").error.empty());
  EXPECT_FALSE(chat::apply_input(st, "/msg bob", "#a").error.empty());
  EXPECT_FALSE(chat::apply_input(st, "/raw PRIVMSG #a :x\rQUIT", "#a").error.empty());
  EXPECT_TRUE(take_sent().empty());
}
