// conversation_view.cpp: message rendering and the user list of one conversation tab.
#include "conversation_view.h"

#include <QColor>
#include <QTimer>
#include <QHBoxLayout>
#include <QListWidget>
#include <QScrollBar>
#include <QSplitter>
#include <QTextBrowser>
#include <QTime>

namespace qtchat {

namespace {
constexpr qsizetype kLinesPerFlush = 25;
}

ConversationView::ConversationView(QString key, QString title, bool channel, QWidget* parent)
    : QWidget(parent), key_(std::move(key)), title_(std::move(title)), channel_(channel) {
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* split = new QSplitter(this);
  view_ = new QTextBrowser(split);
  view_->setOpenExternalLinks(true);
  view_->document()->setDefaultStyleSheet(
      ".time { color: #888; } .error { color: #c0392b; } .status { color: #2c7a7b; } .action { font-style: italic; }");
  split->addWidget(view_);
  if (channel_) {
    users_ = new QListWidget(split);
    users_->setObjectName("users");
    users_->setSortingEnabled(true);
    split->addWidget(users_);
    split->setStretchFactor(0, 4);
    split->setStretchFactor(1, 1);
  }
  layout->addWidget(split);
}

QString ConversationView::nick_color(const QString& nick) {
  // A stable colour per nick: the same person keeps the same colour across tabs and sessions.
  uint h = qHash(nick.toLower()) % 360;
  return QColor::fromHsv(static_cast<int>(h), 190, 170).name();
}

void ConversationView::add_line(const QString& nick, const QString& text, const QString& css_class) {
  const QString time = QTime::currentTime().toString("HH:mm:ss");
  pending_plain_ << QStringLiteral("[%1] %2%3").arg(time, nick.isEmpty() ? QString() : "<" + nick + "> ", text);
  QString html = QStringLiteral("<span class=\"time\">[%1]</span> ").arg(time);
  if (!nick.isEmpty())
    html += QStringLiteral("<b style=\"color:%1\">&lt;%2&gt;</b> ").arg(nick_color(nick), nick.toHtmlEscaped());
  QString body = text.toHtmlEscaped();
  html += css_class.isEmpty() ? body : QStringLiteral("<span class=\"%1\">%2</span>").arg(css_class, body);
  pending_ << html;
  ++lines_;
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    QMetaObject::invokeMethod(this, [this] { flush(); }, Qt::QueuedConnection);
  }
}

void ConversationView::flush() {
  flush_scheduled_ = false;
  if (pending_.isEmpty()) return;
  auto* bar = view_->verticalScrollBar();
  bool at_bottom = bar->value() >= bar->maximum() - 4;
  // At most 25 lines per pass, so even a flood of lines costs Qt only short layouts between
  // which input and paint events are served.
  const qsizetype n = std::min<qsizetype>(pending_.size(), kLinesPerFlush);
  view_->append(pending_.mid(0, n).join(QStringLiteral("<br>")));
  pending_.remove(0, n);
  pending_plain_.remove(0, n);
  if (!pending_.isEmpty()) {
    // The rest goes through a zero timer, not a posted event: Qt may deliver every posted event
    // in one pass, while its timers (the user's too) get their turn between two zero timers.
    flush_scheduled_ = true;
    QTimer::singleShot(0, this, [this] { flush(); });
  }
  if (at_bottom) bar->setValue(bar->maximum());  // follow new lines unless the user scrolled up
}

void ConversationView::set_users(QStringList users) {
  if (!users_) return;
  users_->clear();
  users_->addItems(users);
}

QStringList ConversationView::users() const {
  QStringList out;
  if (!users_) return out;
  for (int i = 0; i < users_->count(); ++i) out << users_->item(i)->text();
  return out;
}

QString ConversationView::plain_text() const {
  QString text = view_->toPlainText();
  for (const QString& line : pending_plain_) text += '\n' + line;
  return text;
}

}  // namespace qtchat
