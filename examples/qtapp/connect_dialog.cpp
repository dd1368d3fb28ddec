// connect_dialog.cpp: the connect form; OK is enabled only for a valid nick and a host.
#include "connect_dialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

#include "chat/names.h"

namespace qtchat {

ConnectDialog::ConnectDialog(QWidget* parent, const ConnectSettings& initial) : QDialog(parent) {
  setWindowTitle(tr("Connect to an IRC server"));
  host_ = new QLineEdit(initial.host, this);
  port_ = new QSpinBox(this);
  port_->setRange(1, 65535);
  port_->setValue(initial.port);
  nick_ = new QLineEdit(initial.nick, this);
  channels_ = new QLineEdit(initial.channels, this);
  host_->setObjectName("host");
  port_->setObjectName("port");
  nick_->setObjectName("nick");
  channels_->setObjectName("channels");
  buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons_->button(QDialogButtonBox::Ok)->setText(tr("Connect"));
  auto* form = new QFormLayout(this);
  form->addRow(tr("Server"), host_);
  form->addRow(tr("Port"), port_);
  form->addRow(tr("Nickname"), nick_);
  form->addRow(tr("Channels"), channels_);
  form->addRow(buttons_);
  connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(nick_, &QLineEdit::textChanged, this, &ConnectDialog::validate);
  connect(host_, &QLineEdit::textChanged, this, &ConnectDialog::validate);
  validate();
}

void ConnectDialog::validate() {
  bool ok = chat::is_valid_nick(nick_->text().toStdString()) && !host_->text().trimmed().isEmpty();
  buttons_->button(QDialogButtonBox::Ok)->setEnabled(ok);
}

ConnectSettings ConnectDialog::settings() const {
  return ConnectSettings{host_->text().trimmed(), port_->value(), nick_->text().trimmed(), channels_->text()};
}

}  // namespace qtchat
