// Out-of-tree consumer of an installed qaio: built against the installed package by run_consumer.cmake.
#include <qaio/qaio.h>

#include <cstdio>

int main() {
  qaio::SelectorEventLoop loop;
  loop.call_soon([&] {
    std::puts("consumer ok");
    loop.stop();
  });
  loop.run_forever();
  loop.close();
  return 0;
}
