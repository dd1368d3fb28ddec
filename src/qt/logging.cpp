// logging.cpp: the "qaio" QLoggingCategory that the Qt loop's errors and warnings go through
// (issue 3 item 7), so Qt users filter qaio's messages with QT_LOGGING_RULES like any other category.
#include <QLoggingCategory>

#include "qaio/qt/qt_event_loop.h"

namespace qaio::qt {

namespace {
Q_LOGGING_CATEGORY(lc_qaio, "qaio")
}

const QLoggingCategory& log_category() { return lc_qaio(); }

void QtEventLoop::log_error(const std::string& text) { qCCritical(lc_qaio, "%s", text.c_str()); }

void QtEventLoop::log_warning(const std::string& text) { qCWarning(lc_qaio, "%s", text.c_str()); }

}  // namespace qaio::qt
