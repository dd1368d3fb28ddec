// connect_dialog.h: ConnectDialog, the "where and who" form the Qt chat client opens first.
#pragma once

#include <QDialog>
#include <QString>

class QLineEdit;
class QSpinBox;
class QDialogButtonBox;

namespace qtchat {

struct ConnectSettings {
  QString host = QStringLiteral("127.0.0.1");
  int port = 6667;
  QString nick = QStringLiteral("qaio");
  QString channels = QStringLiteral("#qaio");  // comma or space separated
};

class ConnectDialog : public QDialog {
  Q_OBJECT
 public:
  ConnectDialog(QWidget* parent, const ConnectSettings& initial);
  ConnectSettings settings() const;

  // The fields, for keyboard-free automation (tests) and accessibility names.
  QLineEdit* host_edit() const { return host_; }
  QSpinBox* port_edit() const { return port_; }
  QLineEdit* nick_edit() const { return nick_; }
  QLineEdit* channels_edit() const { return channels_; }

 private:
  void validate();

  QLineEdit* host_;
  QSpinBox* port_;
  QLineEdit* nick_;
  QLineEdit* channels_;
  QDialogButtonBox* buttons_;
};

}  // namespace qtchat
