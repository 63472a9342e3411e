#include "diversity.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

namespace medanon {

Diversity parse_diversity(const std::string& name) {
    if (name == "none") return Diversity::none;
    if (name == "distinct") return Diversity::distinct;
    if (name == "entropy") return Diversity::entropy;
    if (name == "recursive") return Diversity::recursive;
    throw std::invalid_argument("diversity must be 'none', 'distinct', 'entropy' or 'recursive', got '" +
                                name + "'");
}

void validate(const Criterion& criterion) {
    if (!std::isfinite(criterion.l) || criterion.l < 1.0) {
        throw std::invalid_argument("l must be a finite number >= 1");
    }
    if ((criterion.kind == Diversity::distinct || criterion.kind == Diversity::recursive) &&
        criterion.l != std::floor(criterion.l)) {
        throw std::invalid_argument("l must be an integer for distinct and recursive diversity");
    }
    if (criterion.kind == Diversity::recursive && (!std::isfinite(criterion.c) || criterion.c <= 0.0)) {
        throw std::invalid_argument("c must be a finite number > 0 for recursive (c,l)-diversity");
    }
}

bool satisfies(const Criterion& criterion, const std::int64_t* values, std::size_t size,
               std::vector<std::int64_t>& scratch) {
    const std::int64_t* const end = values + size;
    switch (criterion.kind) {
        case Diversity::none:
            return true;
        case Diversity::distinct: {
            std::int64_t present = 0;
            for (const std::int64_t* p = values; p != end; ++p) present += (*p > 0);
            return static_cast<double>(present) >= criterion.l;
        }
        case Diversity::entropy: {
            // H = log(N) - (1/N) sum c_i log c_i, summed in ascending code order.
            std::int64_t total = 0;
            double s = 0.0;
            for (const std::int64_t* p = values; p != end; ++p) {
                if (*p > 0) {
                    total += *p;
                    const double x = static_cast<double>(*p);
                    s += x * std::log(x);
                }
            }
            if (total == 0) return false;
            const double n = static_cast<double>(total);
            const double h = std::log(n) - s / n;
            return h >= std::log(criterion.l) - kEntropyTolerance;
        }
        case Diversity::recursive: {
            // r_1 >= r_2 >= ... >= r_m; need m >= l and r_1 < c * (r_l + ... + r_m).
            scratch.clear();
            for (const std::int64_t* p = values; p != end; ++p) {
                if (*p > 0) scratch.push_back(*p);
            }
            const auto l = static_cast<std::size_t>(criterion.l);
            if (scratch.size() < l || scratch.empty()) return false;
            std::sort(scratch.begin(), scratch.end(), std::greater<std::int64_t>());
            std::int64_t tail = 0;
            for (std::size_t i = l - 1; i < scratch.size(); ++i) tail += scratch[i];
            return static_cast<double>(scratch[0]) < criterion.c * static_cast<double>(tail);
        }
    }
    return false;
}

}  // namespace medanon
