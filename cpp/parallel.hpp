// Runs one function on a few threads and joins them. Plain C++17, no Python.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

namespace medanon {

// Calls f(t) for t = 0 .. threads - 1, t = 0 on the calling thread, the rest
// on new threads, and returns when all have returned. The first exception
// thrown by any of them is rethrown here, after every thread has joined.
template <class F>
void parallel_for(std::size_t threads, F&& f) {
    if (threads <= 1) {
        f(std::size_t{0});
        return;
    }
    std::vector<std::exception_ptr> errors(threads);
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) {
        pool.emplace_back([&f, &errors, t] {
            try {
                f(t);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    }
    try {
        f(std::size_t{0});
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto& th : pool) th.join();
    for (auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }
}

// Threads worth starting for n rows when `requested` are allowed: below
// this many rows a thread, starting it costs more than the work it shares.
inline constexpr std::size_t kRowsPerThread = 16384;
inline std::size_t threads_for(std::size_t requested, std::size_t n) {
    const std::size_t useful = n / kRowsPerThread;
    return std::max<std::size_t>(1, requested < useful ? requested : useful);
}

// [begin, end) of chunk t of n items cut into `chunks` nearly equal parts.
inline std::pair<std::size_t, std::size_t> chunk(std::size_t n, std::size_t chunks, std::size_t t) {
    return {n * t / chunks, n * (t + 1) / chunks};
}

}  // namespace medanon
