// conversation_view.h: ConversationView, one tab of the Qt chat client: the message view
// (timestamps, coloured nicks) and, for channels, the user list.
#pragma once

#include <QStringList>
#include <QWidget>

class QTextBrowser;
class QListWidget;

namespace qtchat {

class ConversationView : public QWidget {
  Q_OBJECT
 public:
  ConversationView(QString key, QString title, bool channel, QWidget* parent = nullptr);

  const QString& key() const { return key_; }  // irc_lower'ed target; "" for the server tab
  const QString& title() const { return title_; }
  bool is_channel() const { return channel_; }

  // Appends "[hh:mm:ss] <nick> text"; `nick` may be empty (server or status lines).
  void add_line(const QString& nick, const QString& text, const QString& css_class = {});
  void set_users(QStringList users);
  QStringList users() const;
  // The view's text without markup, pending lines included (tests read it).
  QString plain_text() const;
  int line_count() const { return lines_; }

  static QString nick_color(const QString& nick);

 private:
  void flush();

  QString key_;
  QString title_;
  bool channel_;
  QTextBrowser* view_;
  QListWidget* users_ = nullptr;
  int lines_ = 0;
  // Lines wait here until the next return to Qt, then go into the document in one insertion:
  // one layout per batch instead of one per line (a 500-line burst stalled Qt for 190 ms).
  QStringList pending_;
  QStringList pending_plain_;
  bool flush_scheduled_ = false;
};

}  // namespace qtchat
