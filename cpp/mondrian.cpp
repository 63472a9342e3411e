#include "mondrian.hpp"

#include "cpu.hpp"
#include "encoding.hpp"
#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
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
    if (in.threads < 1) throw std::invalid_argument("threads must be >= 1");
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
    // Values (finite, category codes) and sensitive codes are checked by encode(), in the same pass
    // that encodes them.
}

namespace {

// The rows are the encoded keys (see encoding.hpp), `width` uint32 words
// each: d keys, the sensitive code, the original row index. They live in two
// buffers; a node's rows occupy [b, e) of one of them, and a cut writes the
// two halves into the same range of the other buffer in one sequential pass
// (the source stays intact, so a cut found not diverse costs nothing to
// undo). Nodes own disjoint row ranges, so workers on different subtrees
// never touch the same words.
struct Shared {
    Shared(const MondrianInput& input, EncodedRows enc, ThreadPool& threads, std::int64_t* out)
        : in(input),
          pool(threads),
          n(enc.n),
          d(enc.d),
          cols(std::move(enc.columns)),
          buf0(std::move(enc.rows)),
          buf1(buf0.size()),  // the same words, padding included
          scodes(enc.sensitive_codes),
          code_counts(std::move(enc.code_counts)),
          diverse(input.criterion.kind != Diversity::none),
          avx2(cpu_has_avx2()),
          labels(out) {
        bufs[0] = buf0.data();
        bufs[1] = buf1.data();
        gspan.resize(d);
        for (std::size_t j = 0; j < d; ++j) gspan[j] = cols[j].value(cols[j].max_key) - cols[j].value(0);
    }
    const MondrianInput& in;
    ThreadPool& pool;
    std::size_t n, d;
    std::vector<KeyColumn> cols;
    KeyBuffer buf0, buf1;
    std::uint32_t* bufs[2] = {nullptr, nullptr};
    std::uint32_t scodes;
    std::vector<std::int64_t> code_counts;  // the table's rows of each sensitive code
    bool diverse;
    bool avx2;
    std::vector<double> gspan;            // each numeric column's range over the table
    std::vector<std::int64_t> gdistinct;  // each categorical column's distinct values over the table
    // The output: each row's final partition, by id until the partitions are
    // numbered; ids are handed to the workers in blocks.
    std::int64_t* labels;
    mutable std::atomic<std::uint32_t> next_id{0};
};

// The index of the lowest set bit of v (v != 0).
inline std::size_t lowest_bit(std::uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
    return static_cast<std::size_t>(__builtin_ctzll(v));
#else
    std::size_t i = 0;
    for (; (v & 1) == 0; v >>= 1) ++i;
    return i;
#endif
}

// A node handed between phases or threads: its rows and its bounds (d
// minimum keys, then d maximum keys).
struct Seed {
    std::size_t b, e;
    int buf;
    std::vector<std::uint32_t> bounds;
};

// A final partition: its row count, bounds at `bounds` in the worker's
// final_bounds, its smallest original row index, and its id.
struct Final {
    std::size_t rows, bounds;
    std::uint32_t first, id;
};

// One worker: the scratch of the cut search, so that workers share nothing
// writable but their own row ranges. D is the number of dimensions when
// known at compile time (0: at run time), so that a row's copy and bounds
// loops are unrolled.
template <std::size_t D>
class Partitioner {
  public:
    // Workers that cut one node together, the one that owns the node first.
    using Team = std::vector<Partitioner*>;

    explicit Partitioner(const Shared& sh)
        : sh_(sh),
          in_(sh.in),
          n_(sh.n),
          d_(sh.d),
          cols_(sh.cols),
          bufs_(sh.bufs),
          scodes_(sh.scodes),
          diverse_(sh.diverse),
          avx2_(sh.avx2),
          gspan_(sh.gspan) {
        cnt2_.assign(2 * static_cast<std::size_t>(scodes_), 0);
        kmin_.resize(dims());
        kmax_.resize(dims());
        // 8 words of slack: the AVX2 bounds store whole vectors.
        lo_.resize(2 * dims() + 8);
        hi_.resize(2 * dims() + 8);
        distinct_.assign(dims(), 0);
        span_.resize(dims());
        stamps_.assign(dims(), {});
        plain_.resize(dims());
        for (std::size_t j = 0; j < dims(); ++j) {
            if (in_.categories[j] > 0) stamps_[j].assign(static_cast<std::size_t>(cols_[j].max_key) + 1, 0);
            // value(key) = key + base, integers below 2^52: exact
            plain_[j] = cols_[j].affine && cols_[j].scale == 1.0;
        }
    }

    // The root as a seed, with the table-wide distinct counts; throws when
    // the table as a whole fails the diversity criterion.
    Seed root(std::vector<std::int64_t>& gdistinct) {
        Seed s{0, n_, 0, std::vector<std::uint32_t>(2 * dims(), 0)};
        for (std::size_t j = 0; j < dims(); ++j) s.bounds[dims() + j] = cols_[j].max_key;
        std::copy(s.bounds.begin(), s.bounds.begin() + static_cast<std::ptrdiff_t>(dims()), kmin_.begin());
        std::copy(s.bounds.begin() + static_cast<std::ptrdiff_t>(dims()), s.bounds.end(), kmax_.begin());
        count_distinct(0, n_, 0);
        gdistinct = distinct_;
        // Every code is present in the table, each with its count from the encoding.
        if (diverse_ && !satisfies(in_.criterion, sh_.code_counts, scratch_)) {
            throw std::invalid_argument(
                "the table as a whole fails the diversity criterion: no release can satisfy it "
                "(lower l, or use a sensitive attribute with more well-represented values)");
        }
        return s;
    }

    // Cuts one node once: appends its halves to `out`, or records it as final.
    // With a team (this worker first), its row passes are shared between the
    // team's threads.
    void expand(const Seed& s, std::vector<Seed>& out, const Team* team = nullptr) {
        load(s.bounds.data());
        const std::size_t cut =
            s.e - s.b >= 2 * static_cast<std::size_t>(in_.k) ? try_cut(s.b, s.e, s.buf, team) : 0;
        if (cut == 0) {
            finish(s.b, s.e, s.buf, kmin_.data(), kmax_.data());
            return;
        }
        for (std::size_t side = 0; side < 2; ++side) {
            Seed c{side == 0 ? s.b : cut, side == 0 ? cut : s.e, 1 - s.buf, {}};
            append_bounds(c.bounds, lo_.data() + side * dims(), hi_.data() + side * dims());
            out.push_back(std::move(c));
        }
    }

    // Partitions the whole subtree of a node, depth first, into finals().
    void drain(const Seed& s) {
        work_.clear();
        bounds_.clear();
        // At most one final per k rows: no copies as the finals grow.
        const std::size_t most = (s.e - s.b) / static_cast<std::size_t>(in_.k) + 1;
        finals_.reserve(finals_.size() + most);
        final_bounds_.reserve(final_bounds_.size() + most * 2 * dims());
        work_.push_back({s.b, s.e, push_bounds(s.bounds.data(), s.bounds.data() + dims()), s.buf});
        const auto k = static_cast<std::size_t>(in_.k);
        while (!work_.empty()) {
            const Item it = work_.back();
            work_.pop_back();
            load(bounds_.data() + it.bounds);
            bounds_.resize(it.bounds);  // the stack discipline frees this item's slot
            std::size_t cut = 0;
            if (it.e - it.b >= 2 * k) cut = try_cut(it.b, it.e, it.buf);
            if (cut == 0) {
                finish(it.b, it.e, it.buf, kmin_.data(), kmax_.data());
                continue;
            }
            // A half too small to cut is final at once, without a trip through the stack (half
            // the finals); the other halves go on it, the left on top.
            const int to = 1 - it.buf;
            const bool left_cuttable = cut - it.b >= 2 * k, right_cuttable = it.e - cut >= 2 * k;
            if (!left_cuttable) finish(it.b, cut, to, lo_.data(), hi_.data());
            if (!right_cuttable) finish(cut, it.e, to, lo_.data() + dims(), hi_.data() + dims());
            if (right_cuttable) work_.push_back({cut, it.e, push_bounds(lo_.data() + dims(), hi_.data() + dims()), to});
            if (left_cuttable) work_.push_back({it.b, cut, push_bounds(lo_.data(), hi_.data()), to});
        }
    }

    const std::vector<Final>& finals() const { return finals_; }
    const std::vector<std::uint32_t>& final_bounds() const { return final_bounds_; }

  private:
    // The dimensions and a row's words, known at compile time when D > 0.
    std::size_t dims() const { return D > 0 ? D : d_; }
    std::size_t width() const { return dims() + 2; }

    // Chunk t of rows [b, e) when a team of `size` shares them.
    static std::pair<std::size_t, std::size_t> rows_of(std::size_t b, std::size_t e, std::size_t size,
                                                        std::size_t t) {
        const auto [cb, ce] = chunk(e - b, size, t);
        return {b + cb, b + ce};
    }

    void load(const std::uint32_t* bounds) {
        std::copy(bounds, bounds + dims(), kmin_.begin());
        std::copy(bounds + dims(), bounds + 2 * dims(), kmax_.begin());
    }

    // Records rows [b, e) as a final partition and marks each row with its
    // id, while the rows are still in the cache from the cut that made them.
    void finish(std::size_t b, std::size_t e, int buf, const std::uint32_t* mn, const std::uint32_t* mx) {
        if (next_id_ == end_id_) {
            next_id_ = sh_.next_id.fetch_add(kIdBlock, std::memory_order_relaxed);
            end_id_ = next_id_ + kIdBlock;
        }
        const std::uint32_t id = next_id_++;
        // Cuts keep each side in its order and the root is in row order, so
        // a partition's first row has its smallest index.
        finals_.push_back({e - b, final_bounds_.size(), row(buf, b)[dims() + 1], id});
        append_bounds(final_bounds_, mn, mx);
        const std::size_t w = width();
        const std::uint32_t* index = bufs_[buf] + dims() + 1;
        std::int64_t* const labels = sh_.labels;
        for (std::size_t r = b; r < e; ++r) labels[index[r * w]] = id;
    }
    std::uint32_t* row(int buf, std::size_t r) const { return bufs_[buf] + r * width(); }

    // d minimum keys, then d maximum keys, at the end of `to`.
    void append_bounds(std::vector<std::uint32_t>& to, const std::uint32_t* mn, const std::uint32_t* mx) const {
        // resize and copy, not insert: its general case costs more than the 2d words it moves
        const std::size_t at = to.size();
        to.resize(at + 2 * dims());
        std::memcpy(to.data() + at, mn, dims() * sizeof(std::uint32_t));
        std::memcpy(to.data() + at + dims(), mx, dims() * sizeof(std::uint32_t));
    }

    std::size_t push_bounds(const std::uint32_t* mn, const std::uint32_t* mx) {
        const std::size_t at = bounds_.size();
        append_bounds(bounds_, mn, mx);
        return at;
    }

    // Distinct keys of each categorical dimension over rows [b, e), given
    // kmin_/kmax_. A dimension's count cannot pass its key range, so the
    // scan stops when every key in the range has been seen (within a few
    // dozen rows of a large node, when codes are few).
    void count_distinct(std::size_t b, std::size_t e, int buf) {
        for (std::size_t j = 0; j < dims(); ++j) {
            distinct_[j] = 0;
            if (in_.categories[j] == 0) continue;
            const std::uint32_t lo = kmin_[j], range = kmax_[j] - kmin_[j];
            if (range <= 1) {  // integer codes: both ends present, nothing between
                distinct_[j] = range + 1;
                continue;
            }
            const std::size_t w = width();
            const std::uint32_t* p = bufs_[buf] + j;
            if (range < 64) {
                const std::uint64_t full = ~std::uint64_t{0} >> (63 - range);
                std::uint64_t mask = 0;
                for (std::size_t r = b; r < e && mask != full;) {
                    for (const std::size_t stop = std::min(e, r + kScanBlock); r < stop; ++r) {
                        mask |= std::uint64_t{1} << (p[r * w] - lo);
                    }
                }
                std::int64_t c = 0;
                for (; mask != 0; mask &= mask - 1) ++c;
                distinct_[j] = c;
                continue;
            }
            // Epoch stamps: a code is counted once per pass, without clearing.
            if (++epoch_ == 0) {
                for (auto& st : stamps_) std::fill(st.begin(), st.end(), 0u);
                epoch_ = 1;
            }
            auto& st = stamps_[j];
            std::int64_t c = 0;
            for (std::size_t r = b; r < e && c <= range;) {
                for (const std::size_t stop = std::min(e, r + kScanBlock); r < stop; ++r) {
                    const std::uint32_t key = p[r * w];
                    c += (st[key] != epoch_);
                    st[key] = epoch_;
                }
            }
            distinct_[j] = c;
        }
    }

    // The diversity test on side 0 (left) or 1 (right) of cnt2_, codes in ascending order.
    bool side_diverse(int side) {
        const std::int64_t* c = cnt2_.data() + static_cast<std::size_t>(side) * scodes_;
        if (scodes_ <= kDenseCodes) return satisfies(in_.criterion, c, scodes_, scratch_);
        counts_.clear();
        for (auto s : present_) counts_.push_back(c[s]);
        return satisfies(in_.criterion, counts_, scratch_);
    }

    struct Median {
        std::uint32_t m;  // v[rank] of the sorted keys
        std::size_t l0;   // #(v < m)
        std::size_t l1;   // #(v <= m)
    };

    // The key of rank `rank` among column j's keys over rows [b, e), which lie
    // in [lo, hi], with the counts below and up to it. Counting, not
    // selecting: one histogram pass when the range is narrow (at most twice
    // the rows); few keys over a wide range are counted against each other;
    // otherwise a histogram of the high bits, then only the median's bucket
    // is selected. With a team, its threads share the histogram passes.
    Median select(std::size_t b, std::size_t e, int buf, std::size_t j, std::uint32_t lo, std::uint32_t hi,
                  std::size_t rank, const Team* team) {
        const std::size_t np = e - b, w = width();
        if (team != nullptr && np >= kSelectMin) return select_together(*team, b, e, buf, j, lo, hi, rank);
        const std::uint32_t* p = bufs_[buf] + b * w + j;
        const std::uint64_t range = std::uint64_t{hi} - lo + 1;
        const unsigned shift = shift_for(np, lo, hi);
        if (shift == 0) {
            hist_.assign(range, 0);
            for (std::size_t r = 0; r < np; ++r) ++hist_[p[r * w] - lo];
            const auto [q, below] = bin_of_rank([this](std::size_t bin) { return hist_[bin]; }, rank);
            return {static_cast<std::uint32_t>(lo + q), below, below + hist_[q]};
        }
        if (np < kSelectMin) {
            // Few keys: each one's counts below and up to it, branch-free
            // (vectorised), until the one whose span holds the rank. Fewer
            // cycles than nth_element's mispredicted branches.
            tmp_.resize(np);
            for (std::size_t r = 0; r < np; ++r) tmp_[r] = p[r * w];
            const std::uint32_t* v = tmp_.data();
            for (std::size_t i = 0; i < np; ++i) {
                const std::uint32_t x = v[i];
                std::size_t below = 0, upto = 0;
                for (std::size_t r = 0; r < np; ++r) {
                    below += v[r] < x;
                    upto += v[r] <= x;
                }
                if (below <= rank && rank < upto) return {x, below, upto};
            }
            throw std::logic_error("select: rank " + std::to_string(rank) + " is not below " + std::to_string(np));
        }
        hist_.assign(static_cast<std::size_t>((range - 1) >> shift) + 1, 0);
        for (std::size_t r = 0; r < np; ++r) ++hist_[(p[r * w] - lo) >> shift];
        const auto [q, below] = bin_of_rank([this](std::size_t bin) { return hist_[bin]; }, rank);
        tmp_.resize(hist_[q]);
        std::size_t c = 0;
        for (std::size_t r = 0; r < np && c < tmp_.size(); ++r) {
            const std::uint32_t key = p[r * w];
            tmp_[c] = key;
            c += (((key - lo) >> shift) == q);
        }
        return select_in(tmp_.data(), c, rank - below, below);
    }

    // The histogram of np keys in [lo, hi] counts key >> shift: 0 (one bin a
    // key) when the range is narrow, else enough to leave about two keys a bin.
    static unsigned shift_for(std::size_t np, std::uint32_t lo, std::uint32_t hi) {
        const std::uint64_t range = std::uint64_t{hi} - lo + 1;
        if (range <= 2 * np) return 0;
        unsigned shift = 0;
        std::size_t buckets = 1;
        while (buckets < np / 2) buckets <<= 1;
        while (((range - 1) >> shift) >= buckets) ++shift;
        return shift;
    }

    // The bin holding the key of rank `rank`, and the keys in the bins before
    // it, given each bin's count.
    template <class Count>
    static std::pair<std::size_t, std::size_t> bin_of_rank(Count count, std::size_t rank) {
        std::size_t below = 0, q = 0;
        while (below + count(q) <= rank) below += count(q++);
        return {q, below};
    }

    // select() with the team: each thread counts its chunk's keys, then, if
    // bins hold several keys, gathers its chunk's keys of the median's bin.
    Median select_together(const Team& team, std::size_t b, std::size_t e, int buf, std::size_t j, std::uint32_t lo,
                           std::uint32_t hi, std::size_t rank) {
        const std::size_t w = width(), size = team.size();
        const unsigned shift = shift_for(e - b, lo, hi);
        const std::size_t bins = static_cast<std::size_t>((hi - lo) >> shift) + 1;
        sh_.pool.run(size, [&](std::size_t t) {
            auto& h = team[t]->hist_;
            h.assign(bins, 0);
            const auto [cb, ce] = rows_of(b, e, size, t);
            const std::uint32_t* p = bufs_[buf] + j;
            for (std::size_t r = cb; r < ce; ++r) ++h[(p[r * w] - lo) >> shift];
        });
        auto in_bin = [&](std::size_t bin) {
            std::size_t c = 0;
            for (const auto* m : team) c += m->hist_[bin];
            return c;
        };
        // Plain variables, not a structured binding: the lambda below captures q.
        const std::pair<std::size_t, std::size_t> bin = bin_of_rank(in_bin, rank);
        const std::size_t q = bin.first, below = bin.second;
        if (shift == 0) return {static_cast<std::uint32_t>(lo + q), below, below + in_bin(q)};
        sh_.pool.run(size, [&](std::size_t t) {
            auto& v = team[t]->tmp_;
            v.clear();
            const auto [cb, ce] = rows_of(b, e, size, t);
            const std::uint32_t* p = bufs_[buf] + j;
            for (std::size_t r = cb; r < ce; ++r) {
                if (((p[r * w] - lo) >> shift) == q) v.push_back(p[r * w]);
            }
        });
        std::vector<std::uint32_t> keys;
        for (const auto* m : team) keys.insert(keys.end(), m->tmp_.begin(), m->tmp_.end());
        return select_in(keys.data(), keys.size(), rank - below, below);
    }

    // nth_element inside v[0, count): the key of rank `rank`, counts offset by `below`.
    static Median select_in(std::uint32_t* v, std::size_t count, std::size_t rank, std::size_t below) {
        std::nth_element(v, v + rank, v + count);
        const std::uint32_t m = v[rank];
        std::size_t l0 = below, l1 = below;
        for (std::size_t r = 0; r < count; ++r) {
            l0 += (v[r] < m);
            l1 += (v[r] <= m);
        }
        return {m, l0, l1};
    }

    // Makes the cut when both halves pass the diversity criterion, with
    // lo_/hi_ holding the halves' bounds; false leaves the source buffer
    // untouched, to try the next dimension.
    template <class GoesLeft>
    bool cut_at(std::size_t b, std::size_t e, int buf, std::size_t left, GoesLeft goes_left, const Team* team) {
        const bool have_bounds = team != nullptr ? split_together(*team, b, e, buf, left, goes_left)
                                                 : split(b, e, buf, b, b + left, goes_left, diverse_);
        if (diverse_) {
            if (!halves_diverse()) return false;
        }
        if (!have_bounds) {
            // The left first: the AVX2 bounds write 8 words, past the left's d into the right's.
            bounds(1 - buf, b, b + left, lo_.data(), hi_.data());
            bounds(1 - buf, b + left, e, lo_.data() + dims(), hi_.data() + dims());
        }
        return true;
    }

    // split() with the team: each thread counts its chunk's left rows, then
    // moves its chunk to where those counts place it; the counts and bounds
    // of the threads are then merged into this worker's.
    template <class GoesLeft>
    bool split_together(const Team& team, std::size_t b, std::size_t e, int buf, std::size_t left,
                        GoesLeft goes_left) {
        const std::size_t size = team.size(), w = width();
        std::vector<std::size_t> lefts(size);
        sh_.pool.run(size, [&](std::size_t t) {
            const auto [cb, ce] = rows_of(b, e, size, t);
            std::size_t c = 0;
            for (std::size_t r = cb; r < ce; ++r) c += goes_left(bufs_[buf] + r * w) ? 1 : 0;
            lefts[t] = c;
        });
        std::vector<std::size_t> li(size), ri(size);
        for (std::size_t t = 0, l = b, r = b + left; t < size; ++t) {
            const auto [cb, ce] = rows_of(b, e, size, t);
            li[t] = l;
            ri[t] = r;
            l += lefts[t];
            r += ce - cb - lefts[t];
        }
        std::vector<char> have(size);
        sh_.pool.run(size, [&](std::size_t t) {
            const auto [cb, ce] = rows_of(b, e, size, t);
            have[t] = team[t]->split(cb, ce, buf, li[t], ri[t], goes_left, diverse_) ? 1 : 0;
        });
        for (std::size_t t = 1; t < size; ++t) {
            auto& m = *team[t];
            for (std::size_t c = 0; c < cnt2_.size(); ++c) cnt2_[c] += m.cnt2_[c];
            std::fill(m.cnt2_.begin(), m.cnt2_.end(), 0);
            if (!have[0]) continue;  // the portable split leaves the bounds to cut_at
            for (std::size_t q = 0; q < 2 * dims(); ++q) {
                lo_[q] = std::min(lo_[q], m.lo_[q]);
                hi_[q] = std::max(hi_[q], m.hi_[q]);
            }
        }
        return have[0] != 0;
    }

    // Writes rows [b, e) of buffer `src` into the other buffer, those for
    // which goes_left holds from row li on, the others from row ri on, each
    // side in its order (stable), counting each side's sensitive codes if
    // `count`. On AVX2 it also takes the halves' bounds into lo_/hi_ and says so.
    template <class GoesLeft>
    bool split(std::size_t b, std::size_t e, int src, std::size_t li, std::size_t ri, GoesLeft goes_left,
               bool count) {
#ifdef MEDANON_AVX2
        if constexpr (D > 0 && D <= 8) {
            if (avx2_) {
                // A node that fits in the core's cache is moved first and bounded after, from the
                // cache (cheaper than a masked bound for each half per row); a larger one in one pass.
                if (e - b < kSplitThenBound) {
                    move_avx2(b, e, src, li, ri, goes_left, count);
                    return false;
                }
                split_avx2(b, e, src, li, ri, goes_left, count);
                return true;
            }
        }
#endif
        const std::size_t w = width();
        const std::uint32_t* in = bufs_[src] + b * w;
        std::uint32_t* out = bufs_[1 - src];
        std::int64_t* cnt = cnt2_.data();
        const std::size_t dd = dims(), sc = scodes_;
        // Branch-free: the side is data, not control flow (half the rows go
        // each way, so a branch would be mispredicted half the time).
        for (std::size_t r = b; r < e; ++r, in += w) {
            const std::size_t gl = goes_left(in) ? 1 : 0;
            const std::size_t mask = std::size_t{0} - gl;
            std::uint32_t* dst = out + (ri ^ ((li ^ ri) & mask)) * w;
            if constexpr (D > 0) {
                std::memcpy(dst, in, (D + 2) * sizeof(std::uint32_t));
            } else {
                for (std::size_t q = 0; q < w; ++q) dst[q] = in[q];
            }
            li += gl;
            ri += 1 - gl;
            if (count) ++cnt[(sc & ~mask) + in[dd]];
        }
        return false;
    }

#ifdef MEDANON_AVX2
    // split() for up to 8 keys without the bounds: the portable loop with
    // pointers for the two sides and a row's first 8 words stored from one
    // vector load.
    template <class GoesLeft>
    __attribute__((target("avx2"))) void move_avx2(std::size_t b, std::size_t e, int src, std::size_t li,
                                                   std::size_t ri, GoesLeft goes_left, bool count) {
        constexpr std::size_t w = D + 2;
        const std::uint32_t* in = bufs_[src] + b * w;
        const std::uint32_t* const end = bufs_[src] + e * w;
        std::uint32_t* const out = bufs_[1 - src];
        std::size_t to_left = li * w, to_right = ri * w;  // in words, selected by masks: no branch
        std::int64_t* cnt = cnt2_.data();
        const std::size_t sc = scodes_;
        for (; in != end; in += w) {
            const std::size_t mask = std::size_t{0} - (goes_left(in) ? 1 : 0);
            std::uint32_t* dst = out + (to_right ^ ((to_left ^ to_right) & mask));
            to_left += w & mask;
            to_right += w & ~mask;
            if constexpr (w >= 8) {
                // No store past the row: the words after it may be another row's, already written.
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in)));
                if constexpr (w > 8) std::memcpy(dst + 8, in + 8, (w - 8) * sizeof(std::uint32_t));
            } else {
                std::memcpy(dst, in, w * sizeof(std::uint32_t));
            }
            if (count) ++cnt[(sc & ~mask) + in[D]];
        }
    }

    // bounds() for up to 8 keys: one 8-lane load a row (the buffer's padding
    // keeps the last load inside it). The 8 lanes are stored whole: mn and mx
    // have 8 words, and the lanes past D are overwritten or never read (see
    // cut_at).
    __attribute__((target("avx2"))) void bounds_avx2(int buf, std::size_t b, std::size_t e, std::uint32_t* mn,
                                                     std::uint32_t* mx) const {
        constexpr std::size_t w = D + 2;
        const std::uint32_t* p = bufs_[buf] + b * w;
        const std::uint32_t* const end = bufs_[buf] + e * w;
        __m256i lo = _mm256_set1_epi32(-1), hi = _mm256_setzero_si256();
        for (; p != end; p += w) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
            lo = _mm256_min_epu32(lo, v);
            hi = _mm256_max_epu32(hi, v);
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(mn), lo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(mx), hi);
    }

    // split() for up to 8 keys, with each half's bounds in the same pass: a
    // row's keys are one 8-lane load (lanes past D read the row's tail, the
    // next row or the buffer's padding, and are dropped). A row adds to one
    // half's bounds and leaves the other's alone through its side mask: OR
    // with all ones is neutral for the minimum, AND with zero for the maximum.
    template <class GoesLeft>
    __attribute__((target("avx2"))) void split_avx2(std::size_t b, std::size_t e, int src, std::size_t li,
                                                    std::size_t ri, GoesLeft goes_left, bool count) {
        constexpr std::size_t w = D + 2;
        const std::uint32_t* in = bufs_[src] + b * w;
        std::uint32_t* out = bufs_[1 - src];
        std::int64_t* cnt = cnt2_.data();
        const std::size_t sc = scodes_;
        const __m256i ones = _mm256_set1_epi32(-1);
        __m256i lo_l = ones, lo_r = ones, hi_l = _mm256_setzero_si256(), hi_r = _mm256_setzero_si256();
        for (std::size_t r = b; r < e; ++r, in += w) {
            const std::size_t gl = goes_left(in) ? 1 : 0;
            const std::size_t mask = std::size_t{0} - gl;
            std::uint32_t* dst = out + (ri ^ ((li ^ ri) & mask)) * w;
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
            const __m256i m = _mm256_set1_epi32(-static_cast<int>(gl));
            lo_l = _mm256_min_epu32(lo_l, _mm256_or_si256(v, _mm256_xor_si256(m, ones)));
            lo_r = _mm256_min_epu32(lo_r, _mm256_or_si256(v, m));
            hi_l = _mm256_max_epu32(hi_l, _mm256_and_si256(v, m));
            hi_r = _mm256_max_epu32(hi_r, _mm256_andnot_si256(m, v));
            std::memcpy(dst, in, w * sizeof(std::uint32_t));
            li += gl;
            ri += 1 - gl;
            if (count) ++cnt[(sc & ~mask) + in[D]];
        }
        // Whole vectors, the left before the right, which overwrites the left's lanes past D
        // (lo_ and hi_ have 8 words of slack).
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo_.data()), lo_l);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi_.data()), hi_l);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo_.data() + D), lo_r);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi_.data() + D), hi_r);
    }
#endif

    // min/max of every key over rows [b, e) of buffer `buf` into mn/mx.
    void bounds(int buf, std::size_t b, std::size_t e, std::uint32_t* mn, std::uint32_t* mx) const {
#ifdef MEDANON_AVX2
        if constexpr (D > 0 && D <= 8) {
            if (avx2_) {
                bounds_avx2(buf, b, e, mn, mx);
                return;
            }
        }
#endif
        const std::size_t w = width();
        const std::uint32_t* p = bufs_[buf] + b * w;
#if defined(__GNUC__) || defined(__clang__)
        if constexpr (D > 0) {
            // Keys are below 2^31, so signed 4-lane compares (SSE2 on the
            // x86-64 baseline, NEON on arm64) give the unsigned order. Lanes
            // past the D keys read the row's tail or the buffer's padding and
            // are dropped.
            typedef std::int32_t v4 __attribute__((vector_size(16)));
            constexpr std::size_t C = (D + 3) / 4;
            v4 lo[C], hi[C];
            for (std::size_t c = 0; c < C; ++c) {
                lo[c] = v4{} + std::numeric_limits<std::int32_t>::max();
                hi[c] = v4{} - 1;
            }
            for (std::size_t r = b; r < e; ++r, p += w) {
                for (std::size_t c = 0; c < C; ++c) {
                    v4 v;
                    std::memcpy(&v, p + 4 * c, sizeof v);
                    // Masks and bitwise selects, not ?: on vectors, which older compilers lack.
                    const v4 below = v < lo[c], above = v > hi[c];
                    lo[c] = (v & below) | (lo[c] & ~below);
                    hi[c] = (v & above) | (hi[c] & ~above);
                }
            }
            for (std::size_t j = 0; j < D; ++j) {
                mn[j] = static_cast<std::uint32_t>(lo[j / 4][j % 4]);
                mx[j] = static_cast<std::uint32_t>(hi[j / 4][j % 4]);
            }
            return;
        }
#endif
        for (std::size_t j = 0; j < dims(); ++j) mn[j] = std::numeric_limits<std::uint32_t>::max(), mx[j] = 0;
        for (std::size_t r = b; r < e; ++r, p += w) {
            for (std::size_t j = 0; j < dims(); ++j) {
                mn[j] = p[j] < mn[j] ? p[j] : mn[j];
                mx[j] = p[j] > mx[j] ? p[j] : mx[j];
            }
        }
    }

    // The codes present in rows [b, e) (only for large code domains, where
    // scanning every code per node would cost more than the rows).
    void list_present(std::size_t b, std::size_t e, int buf) {
        present_.clear();
        if (scodes_ <= kDenseCodes) return;
        if (seen_.size() != scodes_) seen_.assign(scodes_, 0);
        for (std::size_t r = b; r < e; ++r) {
            const std::uint32_t s = row(buf, r)[dims()];
            if (!seen_[s]) {
                seen_[s] = 1;
                present_.push_back(s);
            }
        }
        for (auto s : present_) seen_[s] = 0;
        std::sort(present_.begin(), present_.end());
    }

    // The diversity test on both halves' counts in cnt2_, which it leaves
    // cleared for the next cut. Distinct l over a dense count is the common
    // case of a cut near the leaves: counted and cleared in one pass.
    bool halves_diverse() {
        std::int64_t* c = cnt2_.data();
        const std::size_t sc = scodes_;
        if (sc <= kDenseCodes && in_.criterion.kind == Diversity::distinct) {
            std::int64_t left = 0, right = 0;
            for (std::size_t s = 0; s < sc; ++s) {
                left += c[s] > 0;
                right += c[sc + s] > 0;
                c[s] = 0;
                c[sc + s] = 0;
            }
            const double l = in_.criterion.l;
            return static_cast<double>(left) >= l && static_cast<double>(right) >= l;
        }
        const bool ok = side_diverse(0) && side_diverse(1);
        if (sc <= kDenseCodes) {
            std::fill(cnt2_.begin(), cnt2_.end(), 0);
        } else {
            for (auto s : present_) c[s] = c[sc + s] = 0;
        }
        return ok;
    }

    static constexpr std::size_t kSelectMin = 16;
    static constexpr std::uint32_t kIdBlock = 256;  // ids a worker takes at a time: no atomic per final
    static constexpr std::size_t kSplitThenBound = 4096;  // rows: 160 KiB of 8 keys, twice, in a 512 KiB L2
    static constexpr std::size_t kScanBlock = 8;  // rows between the checks of count_distinct's early stop
    static constexpr std::uint32_t kDenseCodes = 256;

    // Cuts rows [b, e) of buffer `buf` (bounds in kmin_/kmax_) at the first
    // allowable dimension; returns the first row of the right half, now in
    // the other buffer, with lo_/hi_ holding the halves' bounds (left then
    // right); returns 0 when no cut is allowable.
    std::size_t try_cut(std::size_t b, std::size_t e, int buf, const Team* team = nullptr) {
        const std::size_t np = e - b;
        const auto k = static_cast<std::size_t>(in_.k);
        count_distinct(b, e, buf);
        order_.clear();
        for (std::size_t j = 0; j < dims(); ++j) {
            if (in_.categories[j] > 0) {
                if (distinct_[j] < 2) continue;
                span_[j] = static_cast<double>(distinct_[j]) / static_cast<double>(sh_.gdistinct[j]);
            } else {
                if (kmax_[j] == kmin_[j]) continue;
                // An integer column's values differ by exactly their keys' difference.
                const double diff = plain_[j] ? static_cast<double>(kmax_[j] - kmin_[j])
                                              : cols_[j].value(kmax_[j]) - cols_[j].value(kmin_[j]);
                span_[j] = diff / gspan_[j];
            }
            order_.push_back(j);
        }
        if (order_.empty()) return 0;
        if (diverse_) list_present(b, e, buf);
        while (!order_.empty()) {
            // Widest first, ties in column order. Taken one at a time, not
            // sorted, as most nodes are cut on the first they try.
            std::size_t widest = 0;
            for (std::size_t q = 1; q < order_.size(); ++q) {
                if (span_[order_[q]] > span_[order_[widest]]) widest = q;
            }
            const std::size_t j = order_[widest];
            order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(widest));
            std::size_t left = 0;
            if (!in_.relaxed) {
                const auto [m, l0, l1] = select(b, e, buf, j, kmin_[j], kmax_[j], (np - 1) / 2, team);
                bool use_le;
                if (l1 < np && l0 > 0) {
                    const auto dev1 = std::abs(2 * static_cast<long long>(l1) - static_cast<long long>(np));
                    const auto dev0 = std::abs(2 * static_cast<long long>(l0) - static_cast<long long>(np));
                    use_le = dev1 <= dev0;
                } else {
                    use_le = l1 < np;
                }
                left = use_le ? l1 : l0;
                if (left < k || np - left < k) continue;
                const std::uint32_t t = use_le ? m : m - 1;  // l0 > 0 when !use_le, so m > 0
                if (!cut_at(b, e, buf, left, [j, t](const std::uint32_t* r) { return r[j] <= t; }, team)) continue;
            } else {
                // Relaxed: the first np/2 rows in (key, original index) order go left.
                left = np / 2;
                if (left < k || np - left < k) continue;
                const auto [m, l0, l1] = select(b, e, buf, j, kmin_[j], kmax_[j], left, team);
                (void)l1;
                // Of the rows whose key is m, the (left - l0) of smallest index go left.
                ties_.clear();
                for (std::size_t r = b; r < e; ++r) {
                    const std::uint32_t* p = row(buf, r);
                    if (p[j] == m) ties_.push_back(p[dims() + 1]);
                }
                const std::size_t need = left - l0;
                std::nth_element(ties_.begin(), ties_.begin() + static_cast<std::ptrdiff_t>(need), ties_.end());
                const std::uint32_t pivot = ties_[need];
                const std::size_t idx = dims() + 1;
                const bool made = cut_at(
                    b, e, buf, left,
                    // Bitwise, not ||: short-circuits become branches in the split's loop.
                    [j, m, pivot, idx](const std::uint32_t* r) { return (r[j] < m) | ((r[j] == m) & (r[idx] < pivot)); },
                    team);
                if (!made) continue;
            }
            return b + left;
        }
        return 0;
    }

    const Shared& sh_;
    const MondrianInput& in_;
    std::size_t n_, d_;  // d_: the dimensions at run time; dims() is D when D > 0
    const std::vector<KeyColumn>& cols_;
    std::uint32_t* const* bufs_;
    std::uint32_t scodes_;
    bool diverse_;
    bool avx2_;
    const std::vector<double>& gspan_;
    std::vector<std::int64_t> cnt2_;  // [2, scodes_]: left then right counts of the cut being tried
    std::vector<double> span_;
    std::vector<char> plain_;  // integer columns (value = key + base)
    std::vector<std::uint32_t> kmin_, kmax_, lo_, hi_;  // the node's bounds; the halves' (left d, right d)
    std::vector<std::uint32_t> bounds_;                 // the work stack's bounds, 2d keys per item
    std::vector<std::int64_t> distinct_;
    std::vector<std::vector<std::uint32_t>> stamps_;
    std::uint32_t epoch_ = 0;
    std::vector<std::int64_t> counts_, scratch_;
    std::vector<std::uint32_t> present_, tmp_, hist_, ties_;
    std::vector<char> seen_;
    std::vector<std::size_t> order_;
    struct Item {
        std::size_t b, e, bounds;
        int buf;
    };
    std::vector<Item> work_;
    std::vector<Final> finals_;
    std::vector<std::uint32_t> final_bounds_;
    std::uint32_t next_id_ = 0, end_id_ = 0;
};

template <std::size_t D>
MondrianResult run_fixed(const MondrianInput& input, EncodedRows enc, ThreadPool& pool, std::int64_t* labels) {
    Shared sh(input, std::move(enc), pool, labels);
    const std::size_t n = sh.n, d = sh.d;
    const std::size_t threads = pool.size();
    std::vector<std::unique_ptr<Partitioner<D>>> workers;
    workers.push_back(std::make_unique<Partitioner<D>>(sh));
    std::vector<Seed> seeds{workers[0]->root(sh.gdistinct)};
    if (threads > 1) {
        // The root cut by every thread together, then breadth first until
        // there are two subtrees per thread (median cuts make them nearly
        // equal), each level's nodes shared between the threads, then the
        // largest first, each to the next free worker.
        for (std::size_t t = 1; t < threads; ++t) workers.push_back(std::make_unique<Partitioner<D>>(sh));
        typename Partitioner<D>::Team team;
        for (auto& w : workers) team.push_back(w.get());
        std::vector<Seed> halves;
        workers[0]->expand(seeds[0], halves, &team);
        seeds = std::move(halves);
        std::vector<std::vector<Seed>> next(threads);
        while (!seeds.empty() && seeds.size() < 2 * threads) {
            const std::size_t busy = std::min(threads, seeds.size());
            pool.run(busy, [&](std::size_t t) {
                next[t].clear();
                for (std::size_t i = t; i < seeds.size(); i += busy) workers[t]->expand(seeds[i], next[t]);
            });
            seeds.clear();
            for (std::size_t t = 0; t < busy; ++t) {
                for (auto& c : next[t]) seeds.push_back(std::move(c));
            }
        }
        std::sort(seeds.begin(), seeds.end(), [](const Seed& a, const Seed& c) { return a.e - a.b > c.e - c.b; });
    }
    std::atomic<std::size_t> taken{0};
    pool.run(workers.size(), [&](std::size_t t) {
        for (std::size_t i = taken++; i < seeds.size(); i = taken++) workers[t]->drain(seeds[i]);
    });

    // The final partitions are numbered by their smallest row index: each
    // one's first row is marked in a bit set, and the marks are read in index
    // order (no sort), the row's label holding its partition's id until then.
    std::size_t parts = 0;
    for (const auto& w : workers) parts += w->finals().size();
    std::vector<std::uint64_t> firsts((n + 63) / 64, 0);
    for (const auto& w : workers) {
        for (const Final& f : w->finals()) firsts[f.first / 64] |= std::uint64_t{1} << (f.first % 64);
    }
    std::vector<std::int64_t> label_of(sh.next_id.load());
    std::int64_t p = 0;
    for (std::size_t word = 0; word < firsts.size(); ++word) {
        for (std::uint64_t bits = firsts[word]; bits != 0; bits &= bits - 1) {
            label_of[static_cast<std::size_t>(labels[word * 64 + lowest_bit(bits)])] = p++;
        }
    }
    MondrianResult res;
    res.partitions = parts;
    res.counts.resize(parts);
    res.mins.resize(parts * d);
    res.maxs.resize(parts * d);
    pool.run(workers.size(), [&](std::size_t t) {
        const auto& w = *workers[t];
        for (const Final& f : w.finals()) {
            const std::uint32_t* fb = w.final_bounds().data() + f.bounds;
            const auto q = static_cast<std::size_t>(label_of[f.id]);
            res.counts[q] = static_cast<std::int64_t>(f.rows);
            for (std::size_t j = 0; j < d; ++j) {
                res.mins[q * d + j] = sh.cols[j].value(fb[j]);
                res.maxs[q * d + j] = sh.cols[j].value(fb[d + j]);
            }
        }
        const auto [begin, end] = chunk(n, workers.size(), t);
        for (std::size_t i = begin; i < end; ++i) labels[i] = label_of[static_cast<std::size_t>(labels[i])];
    });
    return res;
}

}  // namespace

const char* split_kernel() { return cpu_has_avx2() ? "avx2" : "portable"; }

MondrianResult mondrian(const MondrianInput& input, std::int64_t* labels) {
    validate(input);
    ThreadPool pool(threads_for(input.threads, input.n));
    EncodedRows enc = encode(input, pool);
    switch (input.d) {
        case 1: return run_fixed<1>(input, std::move(enc), pool, labels);
        case 2: return run_fixed<2>(input, std::move(enc), pool, labels);
        case 3: return run_fixed<3>(input, std::move(enc), pool, labels);
        case 4: return run_fixed<4>(input, std::move(enc), pool, labels);
        case 5: return run_fixed<5>(input, std::move(enc), pool, labels);
        case 6: return run_fixed<6>(input, std::move(enc), pool, labels);
        case 7: return run_fixed<7>(input, std::move(enc), pool, labels);
        case 8: return run_fixed<8>(input, std::move(enc), pool, labels);
        default: return run_fixed<0>(input, std::move(enc), pool, labels);
    }
}

}  // namespace medanon
