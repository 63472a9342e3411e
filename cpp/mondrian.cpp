#include "mondrian.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

namespace medanon {

void validate(const MondrianInput& in) {
    if (in.n == 0) throw std::invalid_argument("the table is empty (0 rows)");
    if (in.d == 0) throw std::invalid_argument("at least one quasi-identifier column is required");
    if (in.x == nullptr) throw std::invalid_argument("quasi_identifiers array is missing");
    if (in.categories == nullptr) throw std::invalid_argument("categories array is missing");
    if (in.k < 1) throw std::invalid_argument("k must be >= 1, got " + std::to_string(in.k));
    if (static_cast<std::uint64_t>(in.k) > in.n) {
        throw std::invalid_argument("k = " + std::to_string(in.k) + " is larger than the number of rows (" +
                                    std::to_string(in.n) + ")");
    }
    validate(in.criterion);
    if (in.criterion.kind != Diversity::none && in.sensitive == nullptr) {
        throw std::invalid_argument("a diversity criterion needs the sensitive codes");
    }
    for (std::size_t j = 0; j < in.d; ++j) {
        if (in.categories[j] < 0) {
            throw std::invalid_argument("categories[" + std::to_string(j) + "] must be >= 0");
        }
    }
    for (std::size_t i = 0; i < in.n; ++i) {
        const double* row = in.x + i * in.d;
        for (std::size_t j = 0; j < in.d; ++j) {
            const double v = row[j];
            if (!std::isfinite(v)) {
                throw std::invalid_argument("quasi_identifiers[" + std::to_string(i) + ", " + std::to_string(j) +
                                            "] is not finite (NaN or infinity)");
            }
            const std::int64_t dom = in.categories[j];
            if (dom > 0 && (v < 0.0 || v >= static_cast<double>(dom) || v != std::floor(v))) {
                throw std::invalid_argument("quasi_identifiers[" + std::to_string(i) + ", " + std::to_string(j) +
                                            "] is not a category code in [0, " + std::to_string(dom) + ")");
            }
        }
    }
    if (in.sensitive != nullptr) {
        for (std::size_t i = 0; i < in.n; ++i) {
            if (in.sensitive[i] < 0) {
                throw std::invalid_argument("sensitive[" + std::to_string(i) + "] is negative; codes must be >= 0");
            }
        }
    }
}

namespace {

// Everything one run needs, owned here so that concurrent runs share nothing.
class Partitioner {
  public:
    Partitioner(const MondrianInput& in)
        : in_(in), n_(in.n), d_(in.d), w_(in.x, in.x + in.n * in.d), ws_(in.n, 0), wi_(in.n) {
        if (in.sensitive != nullptr && in.criterion.kind != Diversity::none) {
            std::copy(in.sensitive, in.sensitive + n_, ws_.begin());
        }
        std::iota(wi_.begin(), wi_.end(), std::int64_t{0});
        std::int32_t max_code = 0;
        for (auto s : ws_) max_code = std::max(max_code, s);
        cnt_.assign(static_cast<std::size_t>(max_code) + 1, 0);
        lcnt_.assign(cnt_.size(), 0);
        pmin_.resize(d_);
        pmax_.resize(d_);
        lmin_.resize(d_);
        lmax_.resize(d_);
        rmin_.resize(d_);
        rmax_.resize(d_);
        distinct_.resize(d_);
        span_.resize(d_);
        stamps_.resize(d_);
        for (std::size_t j = 0; j < d_; ++j) {
            if (in.categories[j] > 0) stamps_[j].assign(static_cast<std::size_t>(in.categories[j]), 0);
        }
        scan_bounds(0, n_);
        count_distinct(0, n_);
        gmin_ = pmin_;
        gmax_ = pmax_;
        gdistinct_ = distinct_;
    }

    MondrianResult run(std::int64_t* labels) {
        count_sensitive(0, n_);
        const bool root_ok = diverse_whole();
        clear_sensitive();
        if (!root_ok) {
            throw std::invalid_argument(
                "the table as a whole fails the diversity criterion: no release can satisfy it "
                "(lower l, or use a sensitive attribute with more well-represented values)");
        }
        // A work item is a row range plus its bounds (d mins then d maxs) in bounds_.
        struct Item {
            std::size_t b, e, bounds;
        };
        std::vector<Item> work{{0, n_, push_bounds(gmin_.data(), gmax_.data())}};
        struct Final {
            std::size_t b, e, bounds;
            std::int64_t first;
        };
        std::vector<Final> finals;
        std::vector<double> final_bounds;
        while (!work.empty()) {
            const Item it = work.back();
            work.pop_back();
            std::copy(bounds_.begin() + static_cast<std::ptrdiff_t>(it.bounds),
                      bounds_.begin() + static_cast<std::ptrdiff_t>(it.bounds + d_), pmin_.begin());
            std::copy(bounds_.begin() + static_cast<std::ptrdiff_t>(it.bounds + d_),
                      bounds_.begin() + static_cast<std::ptrdiff_t>(it.bounds + 2 * d_), pmax_.begin());
            bounds_.resize(it.bounds);  // the stack discipline frees this item's slot
            std::size_t cut = 0;
            if (it.e - it.b >= 2 * static_cast<std::size_t>(in_.k)) cut = try_cut(it.b, it.e);
            if (cut != 0) {
                work.push_back({it.b, cut, push_bounds(lmin_.data(), lmax_.data())});
                work.push_back({cut, it.e, push_bounds(rmin_.data(), rmax_.data())});
            } else {
                std::int64_t first = wi_[it.b];
                for (std::size_t r = it.b + 1; r < it.e; ++r) first = std::min(first, wi_[r]);
                finals.push_back({it.b, it.e, final_bounds.size(), first});
                final_bounds.insert(final_bounds.end(), pmin_.begin(), pmin_.end());
                final_bounds.insert(final_bounds.end(), pmax_.begin(), pmax_.end());
            }
        }
        std::sort(finals.begin(), finals.end(), [](const Final& a, const Final& c) { return a.first < c.first; });

        MondrianResult res;
        res.partitions = finals.size();
        res.counts.resize(finals.size());
        res.mins.resize(finals.size() * d_);
        res.maxs.resize(finals.size() * d_);
        for (std::size_t p = 0; p < finals.size(); ++p) {
            const auto& f = finals[p];
            res.counts[p] = static_cast<std::int64_t>(f.e - f.b);
            const auto fb = final_bounds.begin() + static_cast<std::ptrdiff_t>(f.bounds);
            std::copy(fb, fb + static_cast<std::ptrdiff_t>(d_), res.mins.begin() + static_cast<std::ptrdiff_t>(p * d_));
            std::copy(fb + static_cast<std::ptrdiff_t>(d_), fb + static_cast<std::ptrdiff_t>(2 * d_),
                      res.maxs.begin() + static_cast<std::ptrdiff_t>(p * d_));
            const auto label = static_cast<std::int64_t>(p);
            for (std::size_t r = f.b; r < f.e; ++r) labels[wi_[r]] = label;
        }
        return res;
    }

  private:
    // min and max of every dimension over rows [b, e) (the root only: children
    // get theirs from the partition pass that creates them).
    void scan_bounds(std::size_t b, std::size_t e) {
        const double* row0 = w_.data() + b * d_;
        std::copy(row0, row0 + d_, pmin_.begin());
        std::copy(row0, row0 + d_, pmax_.begin());
        for (std::size_t r = b + 1; r < e; ++r) {
            const double* row = w_.data() + r * d_;
            for (std::size_t j = 0; j < d_; ++j) {
                pmin_[j] = std::min(pmin_[j], row[j]);
                pmax_[j] = std::max(pmax_[j], row[j]);
            }
        }
    }

    // distinct codes of each categorical dimension over rows [b, e), given pmin_/pmax_.
    void count_distinct(std::size_t b, std::size_t e) {
        for (std::size_t j = 0; j < d_; ++j) {
            distinct_[j] = 0;
            if (in_.categories[j] == 0) continue;
            if (pmax_[j] - pmin_[j] <= 1.0) {  // integer codes: both ends present, nothing between
                distinct_[j] = pmin_[j] == pmax_[j] ? 1 : 2;
                continue;
            }
            // Epoch stamps: a code is counted once per pass, without clearing.
            if (++epoch_ == 0) {
                for (auto& st : stamps_) std::fill(st.begin(), st.end(), 0u);
                epoch_ = 1;
            }
            auto& st = stamps_[j];
            std::int64_t dcount = 0;
            for (std::size_t r = b; r < e; ++r) {
                const auto code = static_cast<std::size_t>(w_[r * d_ + j]);
                if (st[code] != epoch_) {
                    st[code] = epoch_;
                    ++dcount;
                }
            }
            distinct_[j] = dcount;
        }
    }

    std::size_t push_bounds(const double* mn, const double* mx) {
        const std::size_t at = bounds_.size();
        bounds_.insert(bounds_.end(), mn, mn + d_);
        bounds_.insert(bounds_.end(), mx, mx + d_);
        return at;
    }

    void count_sensitive(std::size_t b, std::size_t e) {
        present_.clear();
        for (std::size_t r = b; r < e; ++r) {
            const auto s = static_cast<std::size_t>(ws_[r]);
            if (cnt_[s]++ == 0) present_.push_back(static_cast<std::int32_t>(s));
        }
        std::sort(present_.begin(), present_.end());
    }

    void clear_sensitive() {
        for (auto s : present_) cnt_[static_cast<std::size_t>(s)] = 0;
        present_.clear();
    }

    bool diverse_whole() {
        left_.clear();
        for (auto s : present_) left_.push_back(cnt_[static_cast<std::size_t>(s)]);
        return satisfies(in_.criterion, left_, scratch_);
    }

    // Both sides diverse, given lcnt_ holds the left side's counts.
    bool diverse_split() {
        left_.clear();
        right_.clear();
        for (auto s : present_) {
            const auto si = static_cast<std::size_t>(s);
            left_.push_back(lcnt_[si]);
            right_.push_back(cnt_[si] - lcnt_[si]);
        }
        return satisfies(in_.criterion, left_, scratch_) && satisfies(in_.criterion, right_, scratch_);
    }

    void swap_rows(std::size_t a, std::size_t c) {
        std::swap_ranges(w_.begin() + static_cast<std::ptrdiff_t>(a * d_),
                         w_.begin() + static_cast<std::ptrdiff_t>((a + 1) * d_),
                         w_.begin() + static_cast<std::ptrdiff_t>(c * d_));
        std::swap(ws_[a], ws_[c]);
        std::swap(wi_[a], wi_[c]);
    }

    // min/max of every dimension over rows [b, e) into mn/mx (a sequential,
    // branch-free pass; a compile-time width for common d).
    template <std::size_t D>
    void bounds_fixed(std::size_t b, std::size_t e, double* mn, double* mx) const {
        const std::size_t d = D > 0 ? D : d_;
        constexpr double inf = std::numeric_limits<double>::infinity();
        for (std::size_t j = 0; j < d; ++j) mn[j] = inf, mx[j] = -inf;
        const double* w = w_.data();
        for (std::size_t r = b; r < e; ++r) {
            const double* row = w + r * d;
            for (std::size_t j = 0; j < d; ++j) {
                mn[j] = row[j] < mn[j] ? row[j] : mn[j];
                mx[j] = row[j] > mx[j] ? row[j] : mx[j];
            }
        }
    }

    void bounds(std::size_t b, std::size_t e, double* mn, double* mx) const {
        switch (d_) {
            case 1: return bounds_fixed<1>(b, e, mn, mx);
            case 2: return bounds_fixed<2>(b, e, mn, mx);
            case 3: return bounds_fixed<3>(b, e, mn, mx);
            case 4: return bounds_fixed<4>(b, e, mn, mx);
            case 5: return bounds_fixed<5>(b, e, mn, mx);
            case 6: return bounds_fixed<6>(b, e, mn, mx);
            case 7: return bounds_fixed<7>(b, e, mn, mx);
            case 8: return bounds_fixed<8>(b, e, mn, mx);
            default: return bounds_fixed<0>(b, e, mn, mx);
        }
    }

    // Partition rows [b, e) by pred; returns the first row of the right side.
    // Block-wise Hoare partition (Edelkamp & Weiss, BlockQuicksort, 2016):
    // predicates of a block are evaluated branch-free into offset buffers and
    // only misplaced rows are swapped, so mispredicted branches do not
    // dominate. Then one pass gathers each side's bounds (the children's
    // scan) and, when a diversity criterion is set, the left side's counts.
    template <class Pred>
    std::size_t partition_rows(std::size_t b, std::size_t e, bool count_left, Pred pred) {
        constexpr std::size_t B = 128;
        std::uint8_t offl[B], offr[B];
        std::size_t l = b, r = e, nl = 0, nr = 0, sl = 0, sr = 0;
        while (r - l > 2 * B) {
            if (nl == 0) {
                sl = 0;
                for (std::size_t i = 0; i < B; ++i) {
                    offl[nl] = static_cast<std::uint8_t>(i);
                    nl += !pred(l + i);
                }
            }
            if (nr == 0) {
                sr = 0;
                for (std::size_t i = 0; i < B; ++i) {
                    offr[nr] = static_cast<std::uint8_t>(i);
                    nr += pred(r - 1 - i);
                }
            }
            const std::size_t num = std::min(nl, nr);
            for (std::size_t t = 0; t < num; ++t) swap_rows(l + offl[sl + t], r - 1 - offr[sr + t]);
            nl -= num;
            nr -= num;
            sl += num;
            sr += num;
            if (nl == 0) l += B;
            if (nr == 0) r -= B;
        }
        // Rows outside [l, r) are on their side; finish with the plain loop.
        std::size_t i = l, j = r;
        while (true) {
            while (i < j && pred(i)) ++i;
            while (i < j && !pred(j - 1)) --j;
            if (i >= j) break;
            swap_rows(i, j - 1);
            ++i;
            --j;
        }
        bounds(b, i, lmin_.data(), lmax_.data());
        bounds(i, e, rmin_.data(), rmax_.data());
        if (count_left) {
            for (std::size_t q = b; q < i; ++q) ++lcnt_[static_cast<std::size_t>(ws_[q])];
        }
        return i;
    }

    struct Median {
        double m;        // v[(n-1)/2] of the sorted values
        std::size_t l0;  // #(v < m)
        std::size_t l1;  // #(v <= m)
    };

    // The lower median of column `col` over rows [b, e), whose values lie in
    // [lo, hi], with the counts below and up to it. Large partitions first
    // bucket the values linearly between lo and hi (a monotone map, so every
    // value in a lower bucket is smaller than every value in a higher one)
    // and select only inside the median's bucket; small ones use nth_element.
    Median lower_median(std::size_t b, std::size_t e, const double* col, double lo, double hi) {
        const std::size_t np = e - b;
        const std::size_t mid = (np - 1) / 2;
        tmp_.resize(np);
        if (np < kBucketMin) {
            for (std::size_t r = 0; r < np; ++r) tmp_[r] = col[(b + r) * d_];
            return select_in(tmp_.data(), np, mid, 0);
        }
        const std::size_t buckets = std::min(kBuckets, np / 8);
        const double scale = static_cast<double>(buckets) / (hi - lo);
        hist_.assign(buckets + 1, 0);
        bucket_.resize(np);
        for (std::size_t r = 0; r < np; ++r) {
            const double v = col[(b + r) * d_];
            tmp_[r] = v;
            auto q = static_cast<std::size_t>((v - lo) * scale);
            q = std::min(q, buckets - 1);
            bucket_[r] = static_cast<std::uint16_t>(q);
            ++hist_[q];
        }
        std::size_t below = 0, q = 0;
        while (below + hist_[q] <= mid) below += hist_[q++];
        std::size_t w = 0;
        const auto target = static_cast<std::uint16_t>(q);
        for (std::size_t r = 0; r < np; ++r) {
            tmp_[w] = tmp_[r];
            w += (bucket_[r] == target);
        }
        return select_in(tmp_.data(), w, mid - below, below);
    }

    // nth_element inside v[0, count): the value of rank `rank`, counts offset by `below`.
    static Median select_in(double* v, std::size_t count, std::size_t rank, std::size_t below) {
        std::nth_element(v, v + rank, v + count);
        const double m = v[rank];
        std::size_t l0 = below, l1 = below;
        for (std::size_t r = 0; r < count; ++r) {
            l0 += (v[r] < m);
            l1 += (v[r] <= m);
        }
        return {m, l0, l1};
    }

    static constexpr std::size_t kBuckets = 4096;
    static constexpr std::size_t kBucketMin = 512;

    // Cuts rows [b, e) (bounds in pmin_/pmax_) at the first allowable
    // dimension; returns the first row of the right half, or 0 when none is.
    // On success lmin_/lmax_ and rmin_/rmax_ hold the halves' bounds.
    std::size_t try_cut(std::size_t b, std::size_t e) {
        const std::size_t np = e - b;
        const auto k = static_cast<std::size_t>(in_.k);
        count_distinct(b, e);
        order_.clear();
        for (std::size_t j = 0; j < d_; ++j) {
            if (in_.categories[j] > 0) {
                if (distinct_[j] < 2) continue;
                span_[j] = static_cast<double>(distinct_[j]) / static_cast<double>(gdistinct_[j]);
            } else {
                if (!(pmax_[j] > pmin_[j])) continue;
                span_[j] = (pmax_[j] - pmin_[j]) / (gmax_[j] - gmin_[j]);
            }
            order_.push_back(j);
        }
        if (order_.empty()) return 0;
        std::stable_sort(order_.begin(), order_.end(),
                         [this](std::size_t a, std::size_t c) { return span_[a] > span_[c]; });
        const bool diverse = in_.criterion.kind != Diversity::none;
        if (diverse) count_sensitive(b, e);
        std::size_t result = 0;
        for (const std::size_t j : order_) {
            const double* col = w_.data() + j;
            std::size_t cut = 0;
            if (!in_.relaxed) {
                const auto [m, l0, l1] = lower_median(b, e, col, pmin_[j], pmax_[j]);
                bool use_le;
                if (l1 < np && l0 > 0) {
                    const auto dev1 = std::abs(2 * static_cast<long long>(l1) - static_cast<long long>(np));
                    const auto dev0 = std::abs(2 * static_cast<long long>(l0) - static_cast<long long>(np));
                    use_le = dev1 <= dev0;
                } else {
                    use_le = l1 < np;
                }
                const std::size_t left = use_le ? l1 : l0;
                if (left < k || np - left < k) continue;
                cut = use_le ? partition_rows(b, e, diverse, [&](std::size_t r) { return col[r * d_] <= m; })
                             : partition_rows(b, e, diverse, [&](std::size_t r) { return col[r * d_] < m; });
            } else {
                // Relaxed: the first np/2 rows in (value, original index) order go left.
                const std::size_t h = np / 2;
                if (h < k || np - h < k) continue;
                keyed_.resize(np);
                for (std::size_t r = 0; r < np; ++r) keyed_[r] = {col[(b + r) * d_], wi_[b + r]};
                std::nth_element(keyed_.begin(), keyed_.begin() + static_cast<std::ptrdiff_t>(h), keyed_.end());
                const auto pivot = keyed_[h];
                cut = partition_rows(b, e, diverse, [&](std::size_t r) {
                    const double v = col[r * d_];
                    return v < pivot.first || (v == pivot.first && wi_[r] < pivot.second);
                });
            }
            if (diverse) {
                const bool ok = diverse_split();
                for (auto s : present_) lcnt_[static_cast<std::size_t>(s)] = 0;
                if (!ok) continue;  // rows were reordered, but each side's set is what it was
            }
            result = cut;
            break;
        }
        if (diverse) clear_sensitive();
        return result;
    }

    const MondrianInput& in_;
    std::size_t n_, d_;
    std::vector<double> w_;         // working copy of the rows, reordered in place
    std::vector<std::int32_t> ws_;  // sensitive codes, reordered with the rows
    std::vector<std::int64_t> wi_;  // original row index, reordered with the rows
    std::vector<double> pmin_, pmax_, gmin_, gmax_, span_, lmin_, lmax_, rmin_, rmax_;
    std::vector<double> bounds_;  // the work stack's bounds, 2d values per item
    std::vector<std::int64_t> distinct_, gdistinct_;
    std::vector<std::vector<std::uint32_t>> stamps_;
    std::uint32_t epoch_ = 0;
    std::vector<std::int64_t> cnt_, lcnt_, left_, right_, scratch_;
    std::vector<std::int32_t> present_;
    std::vector<std::size_t> order_;
    std::vector<double> tmp_;
    std::vector<std::size_t> hist_;
    std::vector<std::uint16_t> bucket_;
    std::vector<std::pair<double, std::int64_t>> keyed_;
};

}  // namespace

MondrianResult mondrian(const MondrianInput& input, std::int64_t* labels) {
    validate(input);
    Partitioner p(input);
    return p.run(labels);
}

}  // namespace medanon
