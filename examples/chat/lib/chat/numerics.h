// chat/numerics.h: the numeric replies the chat programs send or understand (RFC 2812 section 5,
// plus the few modern ones real servers use: 417 from the IRCv3 era, 400 from ergo/solanum).
#pragma once

namespace chat::rpl {

inline constexpr const char* WELCOME = "001";
inline constexpr const char* YOURHOST = "002";
inline constexpr const char* CREATED = "003";
inline constexpr const char* MYINFO = "004";
inline constexpr const char* ISUPPORT = "005";
inline constexpr const char* UMODEIS = "221";
inline constexpr const char* ENDOFWHO = "315";
inline constexpr const char* CHANNELMODEIS = "324";
inline constexpr const char* CREATIONTIME = "329";
inline constexpr const char* NOTOPIC = "331";
inline constexpr const char* TOPIC = "332";
inline constexpr const char* TOPICWHOTIME = "333";
inline constexpr const char* WHOREPLY = "352";
inline constexpr const char* NAMREPLY = "353";
inline constexpr const char* ENDOFNAMES = "366";
inline constexpr const char* ENDOFMOTD = "376";

inline constexpr const char* ERR_UNKNOWNERROR = "400";
inline constexpr const char* ERR_NOSUCHNICK = "401";
inline constexpr const char* ERR_NOSUCHCHANNEL = "403";
inline constexpr const char* ERR_CANNOTSENDTOCHAN = "404";
inline constexpr const char* ERR_TOOMANYCHANNELS = "405";
inline constexpr const char* ERR_NOORIGIN = "409";
inline constexpr const char* ERR_NORECIPIENT = "411";
inline constexpr const char* ERR_NOTEXTTOSEND = "412";
inline constexpr const char* ERR_INPUTTOOLONG = "417";
inline constexpr const char* ERR_UNKNOWNCOMMAND = "421";
inline constexpr const char* ERR_NOMOTD = "422";
inline constexpr const char* ERR_NONICKNAMEGIVEN = "431";
inline constexpr const char* ERR_ERRONEUSNICKNAME = "432";
inline constexpr const char* ERR_NICKNAMEINUSE = "433";
inline constexpr const char* ERR_NOTONCHANNEL = "442";
inline constexpr const char* ERR_NOTREGISTERED = "451";
inline constexpr const char* ERR_NEEDMOREPARAMS = "461";
inline constexpr const char* ERR_ALREADYREGISTRED = "462";
inline constexpr const char* ERR_UNKNOWNMODE = "472";
inline constexpr const char* ERR_CHANOPRIVSNEEDED = "482";
inline constexpr const char* ERR_USERSDONTMATCH = "502";

}  // namespace chat::rpl
