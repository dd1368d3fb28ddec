// task_numbers_test.cpp: the N of a task's default name "Task-N" (src/core/task.cpp). Threads take
// numbers in blocks, so naming a task needs no atomic operation; names must still be unique across
// threads and increase, one by one, within a thread, as asyncio's do.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "qaio/qaio.h"

namespace {

qaio::Coro<void> nothing() { co_return; }

// The numbers of `count` tasks made in a row on this thread.
std::vector<long> make_tasks(int count) {
  qaio::SelectorEventLoop loop;
  std::vector<long> numbers;
  std::vector<qaio::Task<void>> tasks;
  for (int i = 0; i < count; ++i) {
    tasks.push_back(loop.create_task(nothing()));
    const std::string& name = tasks.back().get_name();
    EXPECT_EQ(name.rfind("Task-", 0), 0u) << name;
    numbers.push_back(std::stol(name.substr(5)));
  }
  for (auto& t : tasks) loop.run_until_complete(t);
  return numbers;
}

}  // namespace

TEST(TaskNumbers, UniqueAcrossThreadsAndConsecutiveWithinABlock) {
  constexpr int kPerThread = 3000;  // more than one block per thread
  std::vector<std::vector<long>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) threads.emplace_back([&out] { out = make_tasks(kPerThread); });
  for (auto& t : threads) t.join();
  std::set<long> all;
  for (const auto& numbers : per_thread) {
    ASSERT_EQ(numbers.size(), static_cast<std::size_t>(kPerThread));
    for (std::size_t i = 1; i < numbers.size(); ++i) {
      EXPECT_LT(numbers[i - 1], numbers[i]);  // increasing within a thread
    }
    all.insert(numbers.begin(), numbers.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(4 * kPerThread));  // no number given twice
  // A single thread numbers consecutively (asyncio's 1, 2, 3...) until its block runs out.
  const std::vector<long> here = make_tasks(10);
  for (std::size_t i = 1; i < here.size(); ++i) {
    if (here[i] != here[i - 1] + 1) {
      EXPECT_EQ(here[i - 1] % 1024, 0) << "a jump only at a block's end";
    }
  }
}
