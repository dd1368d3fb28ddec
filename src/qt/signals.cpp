// signals.cpp: the non-template parts of qaio/qt/signals.h: binding tasks to a QObject's lifetime
// and reporting async-slot failures.
#include "qaio/qt/signals.h"

namespace qaio::qt::detail {

void bind_task_to_object(const QObject* context, const AnyTask& task) {
  if (task.done()) return;
  // Direct: the context dies in the loop's thread (it is the task's owner), and the cancel must
  // happen before its members are gone.
  auto connection = std::make_shared<QMetaObject::Connection>();
  *connection = QObject::connect(
      context, &QObject::destroyed, context, [task](QObject*) { task.cancel("context destroyed"); }, Qt::DirectConnection);
  task.future()->add_done_callback([connection](qaio::detail::FutureBase&) { QObject::disconnect(*connection); });
}

void report_task_failure(const AnyTask& task, const char* what) {
  task.future()->add_done_callback([what](qaio::detail::FutureBase& fut) {
    if (fut.cancelled()) return;
    if (std::exception_ptr e = fut.exception()) {
      ErrorContext ctx;
      ctx.message = what;
      ctx.exception = e;
      ctx.task = AnyTask(qaio::detail::ref_to(fut));
      ctx.future = qaio::detail::ref_to(fut);
      fut.loop().call_exception_handler(ctx);
    }
  });
}

}  // namespace qaio::qt::detail
