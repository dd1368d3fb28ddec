// gui_test.cpp: being written (Qt driver tests).
#include <gtest/gtest.h>
