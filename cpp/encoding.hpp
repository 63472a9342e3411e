// Order-preserving integer keys for the quasi-identifiers and the sensitive
// codes, so that Mondrian moves 4-byte keys instead of 8-byte doubles and
// finds medians by counting instead of selecting. Plain C++17, no Python.
//
// For every column: a < b  <=>  key(a) < key(b), a == b  <=>  key(a) == key(b),
// and value(key(a)) returns a's double exactly (+0.0 for -0.0, which compares
// equal). Partitions, medians, spans and bounds computed on keys are therefore
// exactly those computed on the doubles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mondrian.hpp"
#include "parallel.hpp"

namespace medanon {

struct KeyColumn {
    // A column of decimals with at most 6 digits after the point (integers,
    // codes, dates, ages, weights to 0.1 kg, ...) is keyed by the integer
    // q = round(v * scale) minus its minimum: one pass, no sort. Its value is
    // (key + base) / scale, checked to reproduce every input value exactly.
    bool affine = true;
    double scale = 1.0;
    double base = 0.0;            // integer-valued
    std::vector<double> values;   // otherwise: the sorted distinct values, key = rank
    std::uint32_t max_key = 0;

    double value(std::uint32_t key) const {
        if (!affine) return values[key];
        const double q = static_cast<double>(key) + base;
        return scale == 1.0 ? q : q / scale;  // q / 1.0 is q: integer columns skip the division
    }
};

// Words that are not zero-filled on allocation (every one is written before
// it is read); large ones are 2 MiB aligned for transparent huge pages.
class KeyBuffer {
  public:
    KeyBuffer() = default;
    explicit KeyBuffer(std::size_t words);
    KeyBuffer(const KeyBuffer&) = delete;
    KeyBuffer& operator=(const KeyBuffer&) = delete;
    KeyBuffer(KeyBuffer&& o) noexcept : data_(o.data_), size_(o.size_), aligned_(o.aligned_) {
        o.data_ = nullptr;
        o.size_ = 0;
    }
    KeyBuffer& operator=(KeyBuffer&& o) noexcept {
        if (this != &o) {
            release();
            data_ = o.data_;
            size_ = o.size_;
            aligned_ = o.aligned_;
            o.data_ = nullptr;
            o.size_ = 0;
        }
        return *this;
    }
    ~KeyBuffer() { release(); }
    std::uint32_t* data() const { return data_; }
    std::size_t size() const { return size_; }

  private:
    void release() noexcept;
    std::uint32_t* data_ = nullptr;
    std::size_t size_ = 0;
    bool aligned_ = false;
};

// Words after the last row, so that an 8-word vector load at the start of
// any row (or a 4-word load at any of its keys) stays inside the buffer.
inline constexpr std::size_t kRowPadding = 8;

struct EncodedRows {
    std::size_t n = 0;
    std::size_t d = 0;
    std::size_t width = 0;                // d + 2
    KeyBuffer rows;                       // [n, width] + kRowPadding; keys < 2^31: d keys, the sensitive code, the original row index
    std::vector<KeyColumn> columns;       // [d]
    std::uint32_t sensitive_codes = 1;    // dense codes 0 .. sensitive_codes - 1, in the input codes' order
    std::vector<std::int64_t> code_counts;  // [sensitive_codes]: the table's rows of each (empty without codes)
};

// Checks every value (finite; categorical columns hold codes in [0, domain))
// and encodes, on the pool's threads. Throws std::invalid_argument naming the
// first bad value in row-major order.
EncodedRows encode(const MondrianInput& input, ThreadPool& pool);

}  // namespace medanon
