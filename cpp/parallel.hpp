// Threads for one call of the core. Plain C++17, no Python.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace medanon {

// Started once per call, the helper threads run each parallel section that
// run() hands them and wait between sections, as run() waits for them to
// finish one: spinning for a short while, so that a section that follows
// soon starts at once, then asleep, so that a busy machine's other work (or
// this call's, when the helpers outnumber the free cores) gets the core.
// Starting threads for every section, or waking sleeping ones, cost about
// 50 us a section on a 2-core VM, and a 100k-row call has about ten.
class ThreadPool {
  public:
    explicit ThreadPool(std::size_t threads) : errors_(std::max<std::size_t>(threads, 1)) {
        try {
            for (std::size_t t = 1; t < threads; ++t) helpers_.emplace_back([this, t] { serve(t); });
        } catch (...) {
            stop();
            throw;
        }
    }
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;
    ~ThreadPool() { stop(); }

    std::size_t size() const { return helpers_.size() + 1; }

    // Calls f(t) for t = 0 .. count - 1 (at most size()), t = 0 on the
    // calling thread, and returns when all have returned. The first exception
    // thrown by any of them is rethrown here, after all have returned. One
    // section at a time: f must not call run().
    template <class F>
    void run(std::size_t count, F&& f) {
        if (count <= 1 || helpers_.empty()) {
            if (count >= 1) f(std::size_t{0});
            return;
        }
        using Fn = std::remove_reference_t<F>;
        count_ = std::min(count, size());
        call_ = [](const void* fn, std::size_t t) { (*static_cast<Fn*>(const_cast<void*>(fn)))(t); };
        fn_ = std::addressof(f);
        pending_.store(helpers_.size(), std::memory_order_relaxed);
        post();
        try {
            f(std::size_t{0});
        } catch (...) {
            errors_[0] = std::current_exception();
        }
        wait_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
        for (auto& e : errors_) {
            if (e) {
                std::exception_ptr first = e;
                for (auto& other : errors_) other = nullptr;
                std::rethrow_exception(first);
            }
        }
    }

  private:
    static constexpr std::chrono::microseconds kSpinFor{300};

    static void pause() {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
        __asm__ __volatile__("yield");
#else
        std::this_thread::yield();
#endif
    }

    void post() {
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
    }

    void stop() {
        stopping_.store(true, std::memory_order_relaxed);
        post();
        for (auto& th : helpers_) th.join();
        helpers_.clear();
    }

    // Returns once done() holds (it is made true under mutex_, then wake_
    // is notified): spins for kSpinFor, then sleeps.
    template <class Done>
    void wait_until(Done done) {
        const auto start = std::chrono::steady_clock::now();
        for (unsigned spin = 1; !done(); ++spin) {
            pause();
            if (spin % 64 == 0 && std::chrono::steady_clock::now() - start > kSpinFor) {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, done);
                return;
            }
        }
    }

    void serve(std::size_t t) {
        for (std::uint64_t seen = 0;;) {
            wait_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
            seen = generation_.load(std::memory_order_acquire);
            if (stopping_.load(std::memory_order_relaxed)) return;
            if (t < count_) {
                try {
                    call_(fn_, t);
                } catch (...) {
                    errors_[t] = std::current_exception();
                }
            }
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                // The last one: run() may be asleep.
                { const std::lock_guard<std::mutex> lock(mutex_); }
                wake_.notify_all();
            }
        }
    }

    std::vector<std::thread> helpers_;
    std::vector<std::exception_ptr> errors_;  // [size()]
    // The section being run, written before its generation is posted.
    std::size_t count_ = 0;
    void (*call_)(const void*, std::size_t) = nullptr;
    const void* fn_ = nullptr;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<std::size_t> pending_{0};
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
};

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
