// Mondrian median-split partitioning (LeFevre, DeWitt, Ramakrishnan 2006),
// strict multidimensional, greedy top-down, with a diversity criterion on
// the allowable cut. Plain C++17, no Python; re-entrant (no globals).
//
// The exact rules, shared with python/medanon/reference.py:
//  * A partition is a set of rows; the work starts with all rows.
//  * A partition with fewer than 2k rows is final (no cut can leave k a side).
//  * Cuttable dimensions hold at least two distinct values in the partition.
//    They are ranked by normalised span, widest first, ties by column order:
//      numeric:      (max - min) / (table max - table min)
//      categorical:  distinct values in the partition / distinct in the table
//  * Strict mode: v sorted ascending, m = v[(n-1)/2] (lower median),
//    L1 = #(v <= m), L0 = #(v < m). Candidates: "v <= m" if L1 < n and
//    "v < m" if L0 > 0; take the one whose left size L minimises |2L - n|,
//    ties to "v <= m". Rows with equal values always stay together.
//  * Relaxed mode: rows ordered by (value, original row index); the first
//    n/2 (integer division) go left.
//  * A cut is allowable when both sides hold >= k rows and both satisfy the
//    diversity criterion; the first allowable dimension in rank order is cut,
//    with none allowable the partition is final.
//  * Final partitions are numbered 0, 1, ... in ascending order of the
//    smallest original row index they contain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "diversity.hpp"

namespace medanon {

struct MondrianInput {
    const double* x = nullptr;          // [n, d] row-major, finite
    std::size_t n = 0;
    std::size_t d = 0;
    const std::int32_t* sensitive = nullptr;  // [n] codes >= 0; may be null when criterion is none
    const std::int64_t* categories = nullptr; // [d]: 0 numeric, else the size of the code domain
    std::int64_t k = 1;
    Criterion criterion{};
    bool relaxed = false;
    // Worker threads (>= 1). Subtrees are independent, so after the first
    // cuts they are shared out; the result does not depend on the count.
    std::size_t threads = 1;
};

struct MondrianResult {
    std::size_t partitions = 0;
    std::vector<std::int64_t> counts;  // [partitions]
    std::vector<double> mins;          // [partitions, d]
    std::vector<double> maxs;          // [partitions, d]
};

// Throws std::invalid_argument with a message naming the problem.
void validate(const MondrianInput& input);

// Partitions the rows; writes each row's partition number into labels[n].
MondrianResult mondrian(const MondrianInput& input, std::int64_t* labels);

// The instruction set the row split and the key encoding use on this
// machine: "avx2" or "portable" (read from the CPU and MEDANON_DISABLE_AVX2
// on each call).
const char* split_kernel();

}  // namespace medanon
