// Diversity criteria on the sensitive-value counts of one group of rows.
//
// Machanavajjhala et al., "l-Diversity: Privacy Beyond k-Anonymity" (2007):
// distinct l, entropy l and recursive (c,l). Plain C++17, no Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace medanon {

enum class Diversity { none, distinct, entropy, recursive };

struct Criterion {
    Diversity kind = Diversity::none;
    double l = 1.0;  // distinct and recursive: an integer; entropy: any value >= 1
    double c = 1.0;  // recursive (c,l) only
};

// Parses "none", "distinct", "entropy" or "recursive"; throws
// std::invalid_argument naming the bad value otherwise.
Diversity parse_diversity(const std::string& name);

// Throws std::invalid_argument if l or c are out of range for the criterion.
void validate(const Criterion& criterion);

// The entropy test allows this much rounding: a group whose entropy is
// mathematically exactly log(l) (l values, equally often) must pass whatever
// the summation order. reference.py uses the same constant.
inline constexpr double kEntropyTolerance = 1e-12;

// True when a group whose present sensitive values occur `counts` times
// (one entry per value present, in ascending code order, zeros ignored)
// satisfies the criterion. `scratch` is reused to avoid allocations; its
// contents on return are unspecified.
bool satisfies(const Criterion& criterion, const std::int64_t* counts, std::size_t size,
               std::vector<std::int64_t>& scratch);
inline bool satisfies(const Criterion& criterion, const std::vector<std::int64_t>& counts,
                      std::vector<std::int64_t>& scratch) {
    return satisfies(criterion, counts.data(), counts.size(), scratch);
}

}  // namespace medanon
