// chat_window.cpp: the main window's coroutines (connect, session), event routing and input.
#include "chat_window.h"

#include <QAction>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QRegularExpression>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>

#include "chat/names.h"
#include "conversation_view.h"
#include "qaio/qt/signals.h"

namespace qtchat {

namespace {
QString q(const std::string& s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }
QString key_of(const QString& target) { return q(chat::irc_lower(target.toStdString())); }
}  // namespace

ChatWindow::ChatWindow(ConnectSettings initial, QWidget* parent) : QMainWindow(parent), settings_(std::move(initial)) {
  setWindowTitle(tr("qaio chat"));
  resize(900, 600);
  connect_action_ = new QAction(tr("&Connect..."), this);
  disconnect_action_ = new QAction(tr("&Disconnect"), this);
  disconnect_action_->setEnabled(false);
  auto* quit_action = new QAction(tr("&Quit"), this);
  auto* menu = menuBar()->addMenu(tr("&Server"));
  menu->addAction(connect_action_);
  menu->addAction(disconnect_action_);
  menu->addSeparator();
  menu->addAction(quit_action);
  auto* bar = addToolBar(tr("Connection"));
  bar->addAction(connect_action_);
  bar->addAction(disconnect_action_);

  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  tabs_ = new QTabWidget(central);
  tabs_->setDocumentMode(true);
  input_ = new QLineEdit(central);
  input_->setPlaceholderText(tr("Message, or /join #channel, /msg nick text, /me, /nick, /part, /quit"));
  layout->addWidget(tabs_);
  layout->addWidget(input_);
  setCentralWidget(central);
  status_ = new QLabel(tr("Not connected"), this);
  statusBar()->addWidget(status_, 1);

  server_view_ = new ConversationView(QString(), tr("Server"), false, tabs_);
  tabs_->addTab(server_view_, tr("Server"));
  views_.insert(QString(), server_view_);

  // The Connect button is an async slot: each click runs ask_and_connect() as a task owned by
  // the window, so the dialog is awaited without a nested event loop and the UI never blocks.
  qaio::qt::connect(connect_action_, &QAction::triggered, this,
                    [this](bool) -> qaio::Coro<void> { return ask_and_connect(); });
  connect(disconnect_action_, &QAction::triggered, this, [this] { disconnect_session(); });
  connect(quit_action, &QAction::triggered, this, &QWidget::close);
  connect(input_, &QLineEdit::returnPressed, this, [this] { on_input(); });
}

ChatWindow::~ChatWindow() {
  // The session task is cancelled when this window is destroyed (it is bound to it) and unwinds
  // later, from the loop: it must not call back into a window that no longer exists.
  if (session_) session_->detach_handlers();
  if (task_ && !task_.done()) task_.cancel();
}

ConversationView* ChatWindow::conversation(const QString& target) const { return views_.value(key_of(target)); }

ConversationView* ChatWindow::current_conversation() const {
  return qobject_cast<ConversationView*>(tabs_->currentWidget());
}

qaio::Coro<void> ChatWindow::ask_and_connect() {
  if (dialog_) {
    dialog_->raise();
    co_return;
  }
  QPointer<ConnectDialog> dlg = new ConnectDialog(this, settings_);
  dialog_ = dlg;
  dlg->open();  // window-modal but not exec(): the loop keeps running while it is shown
  emit dialogOpened();
  int result = co_await qaio::qt::signal(dlg.data(), &QDialog::finished);
  ConnectSettings chosen = dlg->settings();
  dlg->deleteLater();
  dialog_ = nullptr;
  if (result != QDialog::Accepted) co_return;
  connect_to(chosen);
}

void ChatWindow::connect_to(const ConnectSettings& s) {
  settings_ = s;
  if (session_) session_->detach_handlers();
  if (task_ && !task_.done()) task_.cancel("reconnecting elsewhere");
  chat::SessionOptions opts;
  opts.host = s.host.toStdString();
  opts.port = static_cast<std::uint16_t>(s.port);
  opts.identity.nick = s.nick.toStdString();
  opts.identity.user = "qaio";
  opts.identity.realname = "qaio-chat (Qt)";
  for (const QString& c : s.channels.split(QRegularExpression("[ ,]+"), Qt::SkipEmptyParts))
    opts.identity.channels.push_back((c.startsWith('#') || c.startsWith('&') ? c : "#" + c).toStdString());
  session_ = std::make_shared<chat::ChatSession>(
      std::move(opts), [this](const chat::ChatEvent& e) { on_event(e); },
      [this](chat::SessionStatus st, const std::string& d) { on_status(st, d); });
  task_ = qaio::qt::create_task(this, run_session(session_), "chat-session");
  disconnect_action_->setEnabled(true);
}

qaio::Coro<void> ChatWindow::run_session(std::shared_ptr<chat::ChatSession> session) {
  // The frame owns its session: a replaced or cancelled session finishes unwinding safely.
  co_await session->run();
  if (session == session_) disconnect_action_->setEnabled(false);
}

void ChatWindow::disconnect_session() {
  if (task_ && !task_.done()) task_.cancel("Disconnect");
  disconnect_action_->setEnabled(false);
}

void ChatWindow::on_status(chat::SessionStatus s, const std::string& detail) {
  QString text;
  switch (s) {
    case chat::SessionStatus::connecting: text = tr("Connecting to %1...").arg(q(detail)); break;
    case chat::SessionStatus::registering: text = tr("Registering on %1...").arg(q(detail)); break;
    case chat::SessionStatus::connected: text = tr("Connected to %1").arg(q(detail)); break;
    case chat::SessionStatus::waiting: text = tr("Connection lost; %1").arg(q(detail)); break;
    case chat::SessionStatus::disconnected: text = tr("Disconnected (%1)").arg(q(detail)); break;
  }
  status_->setText(text);
  add_line(server_view_, {}, text, "status");
  if (s == chat::SessionStatus::disconnected) disconnect_action_->setEnabled(false);
  emit statusChanged(text);
}

ConversationView* ChatWindow::ensure_conversation(const QString& target, bool focus) {
  QString key = key_of(target);
  ConversationView* v = views_.value(key);
  if (!v) {
    bool channel = chat::is_channel_name(target.toStdString());
    v = new ConversationView(key, target, channel, tabs_);
    views_.insert(key, v);
    tabs_->addTab(v, target);
  }
  if (focus) tabs_->setCurrentWidget(v);
  return v;
}

void ChatWindow::close_conversation(const QString& target) {
  ConversationView* v = views_.take(key_of(target));
  if (!v || v == server_view_) return;
  tabs_->removeTab(tabs_->indexOf(v));
  v->deleteLater();
}

void ChatWindow::add_line(ConversationView* v, const QString& nick, const QString& text, const QString& css) {
  v->add_line(nick, text, css);
  emit lineAdded(v->key(), (nick.isEmpty() ? QString() : "<" + nick + "> ") + text);
}

void ChatWindow::refresh_users(const QString& channel) {
  ConversationView* v = conversation(channel);
  if (!v || !session_) return;
  const auto& chans = session_->state().channels();
  auto it = chans.find(chat::irc_lower(channel.toStdString()));
  if (it == chans.end()) return;
  QStringList users;
  for (const std::string& n : it->second.members) users << q(n);
  v->set_users(users);
}

void ChatWindow::on_event(const chat::ChatEvent& e) {
  using K = chat::ChatEvent::Kind;
  const QString target = q(e.target), nick = q(e.nick), text = q(e.text);
  switch (e.kind) {
    case K::registered: add_line(server_view_, {}, tr("Registered as %1").arg(nick), "status"); break;
    case K::message:
    case K::action:
    case K::notice: {
      ConversationView* v = target.isEmpty() ? server_view_ : ensure_conversation(target, false);
      if (e.kind == K::action) {
        add_line(v, {}, "* " + nick + " " + text, "action");
      } else if (e.kind == K::notice) {
        add_line(v, {}, "-" + (nick.isEmpty() ? tr("server") : nick) + "- " + text);
      } else {
        add_line(v, nick, text);
      }
      break;
    }
    case K::join:
      add_line(ensure_conversation(target, e.self), {}, tr("%1 joined %2").arg(nick, target), "status");
      refresh_users(target);
      break;
    case K::part:
      if (e.self) {
        close_conversation(target);
        add_line(server_view_, {}, tr("You left %1").arg(target), "status");
      } else if (ConversationView* v = conversation(target)) {
        add_line(v, {}, tr("%1 left (%2)").arg(nick, text), "status");
        refresh_users(target);
      }
      break;
    case K::quit:
      if (ConversationView* v = conversation(target)) {
        add_line(v, {}, tr("%1 quit (%2)").arg(nick, text), "status");
        refresh_users(target);
      }
      break;
    case K::nick:
      add_line(target.isEmpty() ? server_view_ : ensure_conversation(target, false), {},
               tr("%1 is now known as %2").arg(nick, text), "status");
      if (!target.isEmpty()) refresh_users(target);
      break;
    case K::topic:
      if (ConversationView* v = conversation(target)) {
        add_line(v, {}, nick.isEmpty() ? tr("Topic: %1").arg(text) : tr("%1 set the topic: %2").arg(nick, text),
                 "status");
        tabs_->setTabToolTip(tabs_->indexOf(v), text);
      }
      break;
    case K::names: refresh_users(target); break;
    case K::error: {
      ConversationView* v = current_conversation() ? current_conversation() : server_view_;
      add_line(v, {}, text, "error");
      break;
    }
    case K::server: add_line(server_view_, {}, text); break;
  }
}

void ChatWindow::on_input() {
  QString text = input_->text();
  input_->clear();
  if (text.trimmed().isEmpty()) return;
  ConversationView* v = current_conversation();
  if (!session_ || !session_running()) {
    add_line(v ? v : server_view_, {}, tr("Not connected: use Server > Connect"), "error");
    return;
  }
  std::string current = v && v != server_view_ ? v->title().toStdString() : std::string();
  chat::InputResult r = session_->input(text.toStdString(), current);
  if (!r.error.empty()) add_line(v ? v : server_view_, {}, q(r.error), "error");
  if (!r.open.empty() && !chat::is_channel_name(r.open)) ensure_conversation(q(r.open), true);
}

}  // namespace qtchat
