// chat_window.h: ChatWindow, the Qt Widgets chat client's main window.
//
// Every network step is a coroutine on the thread's QtEventLoop: the Connect action is an async
// slot that awaits the connect dialog's finished() signal and then starts a ChatSession task
// bound to the window (qaio::qt::create_task); Disconnect cancels that task, which sends QUIT and
// closes the socket. ChatSession's events become lines in per-conversation tabs; its status
// (connecting, connected, "reconnecting in 2.0 s (attempt 3)") goes to the status bar.
#pragma once

#include <QHash>
#include <QMainWindow>
#include <QPointer>
#include <memory>

#include "chat/session.h"
#include "connect_dialog.h"
#include "qaio/task.h"

class QAction;
class QLabel;
class QLineEdit;
class QTabWidget;

namespace qtchat {

class ConversationView;

class ChatWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit ChatWindow(ConnectSettings initial = {}, QWidget* parent = nullptr);
  ~ChatWindow() override;

  // Starts a session at once, without the dialog (command-line --connect).
  void connect_to(const ConnectSettings& settings);

  // For automation (the GUI test) and scripting.
  QAction* connect_action() const { return connect_action_; }
  QAction* disconnect_action() const { return disconnect_action_; }
  ConnectDialog* connect_dialog() const { return dialog_; }
  QLineEdit* input() const { return input_; }
  QTabWidget* tabs() const { return tabs_; }
  QLabel* status_label() const { return status_; }
  ConversationView* conversation(const QString& target) const;
  ConversationView* current_conversation() const;
  chat::ChatSession* session() const { return session_.get(); }
  bool session_running() const { return task_ && !task_.done(); }
  const qaio::Task<void>& session_task() const { return task_; }

 signals:
  // Emitted after a line was added to a conversation (key "" is the server tab).
  void lineAdded(const QString& key, const QString& text);
  void statusChanged(const QString& text);
  void dialogOpened();

 private:
  qaio::Coro<void> ask_and_connect();
  qaio::Coro<void> run_session(std::shared_ptr<chat::ChatSession> session);
  void disconnect_session();
  void on_event(const chat::ChatEvent& e);
  void on_status(chat::SessionStatus s, const std::string& detail);
  void on_input();
  ConversationView* ensure_conversation(const QString& target, bool focus);
  void add_line(ConversationView* v, const QString& nick, const QString& text, const QString& css = {});
  void refresh_users(const QString& channel);
  void close_conversation(const QString& target);

  ConnectSettings settings_;
  QAction* connect_action_;
  QAction* disconnect_action_;
  QTabWidget* tabs_;
  QLineEdit* input_;
  QLabel* status_;
  QPointer<ConnectDialog> dialog_;
  ConversationView* server_view_;
  QHash<QString, ConversationView*> views_;  // irc_lower(target) -> tab
  std::shared_ptr<chat::ChatSession> session_;
  qaio::Task<void> task_;
};

}  // namespace qtchat
