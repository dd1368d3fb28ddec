// vector_state_test.cpp: on Qt's own (glib) dispatcher, qaio's callbacks run with clean AVX upper
// halves even when Qt's code left them dirty (vector_state_check.h has the check and why).
#include "vector_state_check.h"

TEST(VectorState, CallbacksRunWithCleanUpperHalvesAfterQtDirtiedThem) { expect_callbacks_see_clean_upper_state(); }
