#include "encoding.hpp"

#include "cpu.hpp"
#include "parallel.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#ifdef __linux__
#include <sys/mman.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace medanon {

namespace {

constexpr double kTwo52 = 4503599627370496.0;             // 2^52: every double at or above is an integer
constexpr double kRoundMagic = 6755399441055744.0;        // 1.5 * 2^52
constexpr double kMaxScaled = 2251799813685248.0;         // 2^51: where kRoundMagic rounds exactly
constexpr double kMaxKeyRange = 2147483646.0;             // keys below 2^31: signed vector compares
constexpr std::size_t kDecimalSample = 4096;

// Branch-free and library-free (std::floor and std::nearbyint are calls on
// the SSE2 baseline that x86-64 wheels target): adding and removing 1.5 * 2^52
// rounds to the nearest integer, ties to even, exactly for |t| < 2^51, and is
// monotone, which is all the keys need.
inline double round_scaled(double t) { return (t + kRoundMagic) - kRoundMagic; }

inline bool is_integer(double v) {
    const double a = std::fabs(v);
    return a >= kTwo52 || (a + kTwo52) - kTwo52 == a;
}

std::string at(std::size_t i, std::size_t j) {
    return "quasi_identifiers[" + std::to_string(i) + ", " + std::to_string(j) + "]";
}

[[noreturn]] void throw_first_bad(const MondrianInput& in) {
    for (std::size_t i = 0; i < in.n; ++i) {
        for (std::size_t j = 0; j < in.d; ++j) {
            const double v = in.x[i * in.d + j];
            if (!std::isfinite(v)) throw std::invalid_argument(at(i, j) + " is not finite (NaN or infinity)");
            const std::int64_t dom = in.categories[j];
            if (dom > 0 && (v < 0.0 || v >= static_cast<double>(dom) || !is_integer(v))) {
                throw std::invalid_argument(at(i, j) + " is not a category code in [0, " + std::to_string(dom) +
                                            ")");
            }
        }
    }
    throw std::logic_error("encode: a bad value was flagged but not found");
}

// One row-major pass: each column's range, and `odd`, which is 0 when the
// column holds only finite integers, NaN when it holds a value that is not
// finite (inf - inf is NaN, and NaN stays in a sum), positive otherwise (the
// sum of each value's distance to the integer that adding and removing 2^52
// rounds it to; that rounding is exact below 2^52, and scan() re-checks
// columns that reach it). Accumulators are locals, so that the compiler sees
// they are not the input; no branches.
template <class Acc>
void scan_rows(const double* x, std::size_t n, std::size_t d, Acc& lo_out, Acc& hi_out, Acc& odd_out) {
    Acc lo = lo_out, hi = hi_out, odd = odd_out;
    for (std::size_t i = 0; i < n; ++i) {
        const double* row = x + i * d;
        for (std::size_t j = 0; j < d; ++j) {
            const double v = row[j];
            const double a = std::fabs(v);
            odd[j] += std::fabs(((a + kTwo52) - kTwo52) - a);
            lo[j] = v < lo[j] ? v : lo[j];
            hi[j] = v > hi[j] ? v : hi[j];
        }
    }
    lo_out = lo;
    hi_out = hi;
    odd_out = odd;
}

#if defined(__GNUC__) || defined(__clang__)
// The same with two columns to a vector (SSE2 on the x86-64 baseline, NEON
// on arm64), which the compiler does not find by itself in the row loop.
template <std::size_t D>
void scan_rows(const double* x, std::size_t n, std::size_t, std::array<double, D>& lo_out,
               std::array<double, D>& hi_out, std::array<double, D>& odd_out) {
    typedef double v2d __attribute__((vector_size(16)));
    typedef long long v2l __attribute__((vector_size(16)));
    constexpr std::size_t C = (D + 1) / 2;
    const v2d two52 = v2d{} + kTwo52;
    const v2l magnitude = v2l{} + 0x7fffffffffffffffLL;
    v2d lo[C], hi[C], odd[C];
    for (std::size_t c = 0; c < C; ++c) {
        const std::size_t j1 = 2 * c + 1 < D ? 2 * c + 1 : 2 * c;  // a lone last column fills both lanes
        lo[c] = v2d{lo_out[2 * c], lo_out[j1]};
        hi[c] = v2d{hi_out[2 * c], hi_out[j1]};
        odd[c] = v2d{odd_out[2 * c], odd_out[j1]};
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double* row = x + i * D;
        for (std::size_t c = 0; c < C; ++c) {
            v2d v;
            if (2 * c + 1 < D) {
                std::memcpy(&v, row + 2 * c, sizeof v);
            } else {
                v = v2d{} + row[2 * c];  // never read past the row: the input has no padding
            }
            const v2d a = (v2d)((v2l)v & magnitude);
            odd[c] += (v2d)((v2l)(((a + two52) - two52) - a) & magnitude);
#ifdef __SSE2__
            // (v < lo ? v : lo) in one instruction; a NaN leaves lo, as below, and is caught by odd.
            lo[c] = _mm_min_pd(v, lo[c]);
            hi[c] = _mm_max_pd(v, hi[c]);
#else
            const v2l below = v < lo[c], above = v > hi[c];
            lo[c] = (v2d)(((v2l)v & below) | ((v2l)lo[c] & ~below));
            hi[c] = (v2d)(((v2l)v & above) | ((v2l)hi[c] & ~above));
#endif
        }
    }
    for (std::size_t j = 0; j < D; ++j) {
        lo_out[j] = lo[j / 2][j % 2];
        hi_out[j] = hi[j / 2][j % 2];
        odd_out[j] = odd[j / 2][j % 2];
    }
}
#endif

#ifdef MEDANON_AVX2
// scan_rows() four columns to a vector, for D <= 8 known columns; a group
// past the row's end is loaded through a mask (its lanes past D are dropped).
template <std::size_t D>
__attribute__((target("avx2"))) void scan_rows_avx2(const double* x, std::size_t n, std::array<double, D>& lo_out,
                                                    std::array<double, D>& hi_out, std::array<double, D>& odd_out) {
    constexpr std::size_t G = (D + 3) / 4;
    const __m256d two52 = _mm256_set1_pd(kTwo52);
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    __m256d lo[G], hi[G], odd[G];
    __m256i lanes[G];
    for (std::size_t g = 0; g < G; ++g) {
        alignas(32) double l4[4], h4[4], o4[4];
        alignas(32) std::int64_t in4[4];
        for (std::size_t q = 0; q < 4; ++q) {
            const std::size_t j = 4 * g + q < D ? 4 * g + q : D - 1;
            l4[q] = lo_out[j];
            h4[q] = hi_out[j];
            o4[q] = odd_out[j];
            in4[q] = 4 * g + q < D ? -1 : 0;
        }
        lo[g] = _mm256_load_pd(l4);
        hi[g] = _mm256_load_pd(h4);
        odd[g] = _mm256_load_pd(o4);
        lanes[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(in4));
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double* row = x + i * D;
        for (std::size_t g = 0; g < G; ++g) {
            const __m256d v = 4 * g + 4 <= D ? _mm256_loadu_pd(row + 4 * g) : _mm256_maskload_pd(row + 4 * g, lanes[g]);
            const __m256d a = _mm256_and_pd(v, magnitude);
            odd[g] = _mm256_add_pd(odd[g], _mm256_and_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_add_pd(a, two52), two52), a),
                                                         magnitude));
            // (v < lo ? v : lo): a NaN leaves lo, as in scan_rows, and is caught by odd.
            lo[g] = _mm256_min_pd(v, lo[g]);
            hi[g] = _mm256_max_pd(v, hi[g]);
        }
    }
    for (std::size_t g = 0; g < G; ++g) {
        alignas(32) double l4[4], h4[4], o4[4];
        _mm256_store_pd(l4, lo[g]);
        _mm256_store_pd(h4, hi[g]);
        _mm256_store_pd(o4, odd[g]);
        for (std::size_t q = 0; q < 4 && 4 * g + q < D; ++q) {
            lo_out[4 * g + q] = l4[q];
            hi_out[4 * g + q] = h4[q];
            odd_out[4 * g + q] = o4[q];
        }
    }
}
#endif

template <std::size_t D>
bool scan(const MondrianInput& in, ThreadPool& pool, double* lo, double* hi, bool* integer) {
    const std::size_t threads = pool.size();
    const std::size_t d = D > 0 ? D : in.d;
    constexpr double inf = std::numeric_limits<double>::infinity();
    using Acc = std::conditional_t<(D > 0), std::array<double, D>, std::vector<double>>;
    struct Part {
        Acc l{}, h{}, odd{};
    };
    std::vector<Part> parts(threads);
    [[maybe_unused]] const bool avx2 = cpu_has_avx2();
    pool.run(threads, [&](std::size_t t) {
        Part& p = parts[t];
        if constexpr (D == 0) {
            for (auto* a : {&p.l, &p.h, &p.odd}) a->resize(d);
        }
        for (std::size_t j = 0; j < d; ++j) {
            p.l[j] = inf;
            p.h[j] = -inf;
            p.odd[j] = 0.0;
        }
        const auto [b, e] = chunk(in.n, threads, t);
#ifdef MEDANON_AVX2
        if constexpr (D > 0 && D <= 8) {
            if (avx2) {
                scan_rows_avx2<D>(in.x + b * d, e - b, p.l, p.h, p.odd);
                return;
            }
        }
#endif
        scan_rows(in.x + b * d, e - b, d, p.l, p.h, p.odd);
    });
    bool ok = true;
    for (std::size_t j = 0; j < d; ++j) {
        lo[j] = inf;
        hi[j] = -inf;
        double odd = 0.0;
        for (const Part& p : parts) {
            lo[j] = std::min(lo[j], p.l[j]);
            hi[j] = std::max(hi[j], p.h[j]);
            odd += p.odd[j];
        }
        const bool finite = !std::isnan(odd);
        integer[j] = odd == 0.0;
        if (finite && !integer[j] && std::max(std::fabs(lo[j]), std::fabs(hi[j])) >= kTwo52) {
            integer[j] = true;  // the rounding in scan_rows is not exact up there: check each value
            for (std::size_t i = 0; i < in.n && integer[j]; ++i) integer[j] = is_integer(in.x[i * d + j]);
        }
        // Every value lies in [lo, hi]: a categorical column's codes are in range when its ends are.
        const auto dom = in.categories[j];
        const bool codes = dom == 0 || (integer[j] && lo[j] >= 0.0 && hi[j] < static_cast<double>(dom));
        ok = ok && finite && codes;
    }
    return ok;
}

// Column j holds decimals with p digits after the point, 1 <= p <= 6, judged
// on a sample (write_keys checks every value and falls back to ranks).
bool find_decimal(const MondrianInput& in, std::size_t j, double lo, double hi, KeyColumn& col) {
    const std::size_t sample = std::min(in.n, kDecimalSample);
    double scale = 1.0;
    for (int p = 1; p <= 6; ++p) {
        scale *= 10.0;
        if (!(std::fabs(lo * scale) < kMaxScaled && std::fabs(hi * scale) < kMaxScaled)) return false;
        bool ok = true;
        for (std::size_t i = 0; i < sample && ok; ++i) {
            const double v = in.x[i * in.d + j];
            ok = round_scaled(v * scale) / scale == v;
        }
        if (!ok) continue;
        const double qlo = round_scaled(lo * scale), qhi = round_scaled(hi * scale);
        if (qhi - qlo > kMaxKeyRange) return false;  // more digits would only widen it
        col.affine = true;
        col.scale = scale;
        col.base = qlo == 0.0 ? 0.0 : qlo;
        col.max_key = static_cast<std::uint32_t>(qhi - qlo);
        return true;
    }
    return false;
}

// Each row's sensitive code made dense (0 .. distinct - 1, in the input
// codes' order): through a table over the input codes when they are at most
// 4n + 1024, read as the rows are written, or else a column of them; 0 for
// every row when there are no codes.
struct DenseCodes {
    const std::int32_t* input = nullptr;  // with `table`
    std::vector<std::uint32_t> table;     // input code -> dense code
    std::vector<std::uint32_t> column;    // or each row's dense code
    std::uint32_t at(std::size_t row) const {
        if (input != nullptr) return table[static_cast<std::size_t>(input[row])];
        return column.empty() ? 0u : column[row];
    }
};

// Keys of the affine columns, the sensitive codes and the row indexes; flags
// decimal columns where a value is not exactly (key + base) / scale (their
// keys are then replaced by ranks).
template <class Acc>
void write_rows(const double* x, std::size_t first, std::size_t n, std::size_t d, const std::vector<char>& kind,
                const Acc& scale, const Acc& base, Acc& miss, const DenseCodes& codes, std::uint32_t* rows) {
    const std::size_t w = d + 2;
    for (std::size_t i = 0; i < n; ++i) {
        const double* row = x + i * d;
        std::uint32_t* out = rows + i * w;
        for (std::size_t j = 0; j < d; ++j) {
            // The same branch for every row: predicted, and integer columns skip the division.
            const double v = row[j];
            if (kind[j] == 1) {
                out[j] = static_cast<std::uint32_t>(static_cast<std::int32_t>(v - base[j]));
            } else if (kind[j] == 2) {
                const double q = round_scaled(v * scale[j]);
                const double off = q / scale[j] != v ? 1.0 : 0.0;
                miss[j] = off > miss[j] ? off : miss[j];
                // An inexact value's key is replaced (the column is ranked), but must not overflow here.
                const double key = std::min(std::max(q - base[j], 0.0), 2147483647.0);
                out[j] = static_cast<std::uint32_t>(static_cast<std::int32_t>(key));
            }
        }
        out[d] = codes.at(first + i);
        out[d + 1] = static_cast<std::uint32_t>(first + i);
    }
}

#ifdef MEDANON_AVX2
// write_rows() four columns to a vector, for D <= 8 known columns. Every
// column takes the decimal formula: an integer column has scale 1, where
// rounding v * 1 gives v and the clamp leaves its keys alone, and a ranked
// column's keys are overwritten by rank_column. Only the groups holding a
// decimal column divide. A group past the row's end is loaded and stored
// through masks: the input has no padding, and the words after the keys are
// this row's code and index, or the next row's keys (maybe another thread's).
template <std::size_t D>
__attribute__((target("avx2"))) void write_rows_avx2(const double* x, std::size_t first, std::size_t n,
                                                     const std::vector<char>& kind, const std::array<double, D>& scale,
                                                     const std::array<double, D>& base, std::array<double, D>& miss,
                                                     const DenseCodes& codes, std::uint32_t* rows) {
    constexpr std::size_t G = (D + 3) / 4, w = D + 2;
    __m256d sc[G], bs[G], dec[G], off[G];
    __m256i lanes[G];
    __m128i lanes32[G];
    bool divide[G];
    for (std::size_t g = 0; g < G; ++g) {
        alignas(32) double s4[4], b4[4];
        alignas(32) std::int64_t d4[4], in4[4];
        alignas(16) std::int32_t in32[4];
        divide[g] = false;
        for (std::size_t l = 0; l < 4; ++l) {
            const std::size_t j = 4 * g + l;
            const bool here = j < D;
            s4[l] = here ? scale[j] : 1.0;
            b4[l] = here ? base[j] : 0.0;
            d4[l] = here && kind[j] == 2 ? -1 : 0;
            in4[l] = here ? -1 : 0;
            in32[l] = here ? -1 : 0;
            divide[g] = divide[g] || d4[l] != 0;
        }
        sc[g] = _mm256_load_pd(s4);
        bs[g] = _mm256_load_pd(b4);
        dec[g] = _mm256_castsi256_pd(_mm256_load_si256(reinterpret_cast<const __m256i*>(d4)));
        lanes[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(in4));
        lanes32[g] = _mm_load_si128(reinterpret_cast<const __m128i*>(in32));
        off[g] = _mm256_setzero_pd();
    }
    const __m256d magic = _mm256_set1_pd(kRoundMagic), zero = _mm256_setzero_pd(),
                  top = _mm256_set1_pd(2147483647.0);
    for (std::size_t i = 0; i < n; ++i) {
        const double* row = x + i * D;
        std::uint32_t* out = rows + i * w;
        for (std::size_t g = 0; g < G; ++g) {
            const bool full = 4 * g + 4 <= D;
            const __m256d v = full ? _mm256_loadu_pd(row + 4 * g) : _mm256_maskload_pd(row + 4 * g, lanes[g]);
            const __m256d q = _mm256_sub_pd(_mm256_add_pd(_mm256_mul_pd(v, sc[g]), magic), magic);
            if (divide[g]) {
                const __m256d ne = _mm256_cmp_pd(_mm256_div_pd(q, sc[g]), v, _CMP_NEQ_UQ);
                off[g] = _mm256_or_pd(off[g], _mm256_and_pd(ne, dec[g]));
            }
            const __m256d key = _mm256_min_pd(_mm256_max_pd(_mm256_sub_pd(q, bs[g]), zero), top);
            const __m128i k = _mm256_cvttpd_epi32(key);
            if (full) {
                _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * g), k);
            } else {
                _mm_maskstore_epi32(reinterpret_cast<int*>(out + 4 * g), lanes32[g], k);
            }
        }
        out[D] = codes.at(first + i);
        out[D + 1] = static_cast<std::uint32_t>(first + i);
    }
    for (std::size_t g = 0; g < G; ++g) {
        alignas(32) double o[4];
        _mm256_store_pd(o, off[g]);
        for (std::size_t l = 0; l < 4 && 4 * g + l < D; ++l) {
            if (o[l] != 0.0) miss[4 * g + l] = 1.0;
        }
    }
}
#endif

template <std::size_t D>
void write_keys(const MondrianInput& in, ThreadPool& pool, const std::vector<KeyColumn>& cols,
                const std::vector<char>& kind, const DenseCodes& codes, std::uint32_t* rows,
                std::vector<char>& inexact) {
    const std::size_t d = D > 0 ? D : in.d, w = d + 2;
    using Acc = std::conditional_t<(D > 0), std::array<double, D>, std::vector<double>>;
    Acc scale{}, base{};
    if constexpr (D == 0) {
        scale.resize(d);
        base.resize(d);
    }
    for (std::size_t j = 0; j < d; ++j) {
        scale[j] = kind[j] != 0 ? cols[j].scale : 1.0;
        base[j] = kind[j] != 0 ? cols[j].base : 0.0;
    }
    const std::size_t threads = pool.size();
    [[maybe_unused]] const bool avx2 = cpu_has_avx2();
    std::vector<Acc> miss(threads);
    pool.run(threads, [&](std::size_t t) {
        // On this thread's stack: write_rows updates it row by row, and the
        // threads' entries of `miss` share cache lines.
        Acc m{};
        if constexpr (D == 0) m.resize(d);
        for (std::size_t j = 0; j < d; ++j) m[j] = 0.0;
        const auto [b, e] = chunk(in.n, threads, t);
#ifdef MEDANON_AVX2
        if constexpr (D > 0 && D <= 8) {
            if (avx2) {
                write_rows_avx2<D>(in.x + b * d, b, e - b, kind, scale, base, m, codes, rows + b * w);
                miss[t] = std::move(m);
                return;
            }
        }
#endif
        write_rows(in.x + b * d, b, e - b, d, kind, scale, base, m, codes, rows + b * w);
        miss[t] = std::move(m);
    });
    for (std::size_t j = 0; j < d; ++j) {
        bool off = false;
        for (const Acc& m : miss) off = off || m[j] != 0.0;
        inexact[j] = static_cast<char>(kind[j] == 2 && off);
    }
}

// Any other column: key = rank among the distinct values (a sort).
void rank_column(const MondrianInput& in, std::size_t j, KeyColumn& col, std::uint32_t* rows) {
    const std::size_t n = in.n, d = in.d, w = d + 2;
    std::vector<std::pair<double, std::uint32_t>> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = {in.x[i * d + j], static_cast<std::uint32_t>(i)};
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    col = KeyColumn{};
    col.affine = false;
    std::uint32_t key = 0;
    for (std::size_t r = 0; r < n; ++r) {
        if (r == 0 || order[r].first != order[r - 1].first) {
            if (r > 0) ++key;
            col.values.push_back(order[r].first == 0.0 ? 0.0 : order[r].first);
        }
        rows[static_cast<std::size_t>(order[r].second) * w + j] = key;
    }
    col.max_key = key;
}

// Sensitive codes, made dense (0 .. distinct - 1) in the same order, so that
// counting arrays are as small as the number of values present; `counts`
// gets the rows of each.
DenseCodes dense_codes(const MondrianInput& in, std::uint32_t& distinct, std::vector<std::int64_t>& counts) {
    const std::size_t n = in.n;
    const std::int32_t* const s = in.sensitive;
    // No throw in the loop, so that it vectorises; the bad code is found after.
    std::int32_t lo = s[0], hi = s[0];
    for (std::size_t i = 1; i < n; ++i) {
        lo = std::min(lo, s[i]);
        hi = std::max(hi, s[i]);
    }
    if (lo < 0) {
        const std::size_t i = static_cast<std::size_t>(std::find_if(s, s + n, [](std::int32_t v) { return v < 0; }) - s);
        throw std::invalid_argument("sensitive[" + std::to_string(i) + "] is negative; codes must be >= 0");
    }
    DenseCodes out;
    if (static_cast<std::uint64_t>(hi) <= 4 * static_cast<std::uint64_t>(n) + 1024) {
        std::vector<std::uint32_t>& dense = out.table;
        dense.assign(static_cast<std::size_t>(hi) + 1, 0);
        for (std::size_t i = 0; i < n; ++i) ++dense[static_cast<std::size_t>(s[i])];
        distinct = 0;
        for (auto& v : dense) {
            if (v > 0) counts.push_back(v);
            const std::uint32_t present = v > 0 ? 1 : 0;
            v = distinct;
            distinct += present;
        }
        out.input = s;
    } else {
        std::vector<std::int32_t> codes(s, s + n);
        std::sort(codes.begin(), codes.end());
        for (std::size_t i = 0; i < n; ++i) {
            if (i == 0 || codes[i] != codes[i - 1]) counts.push_back(0);
            ++counts.back();
        }
        codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
        out.column.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto pos = std::lower_bound(codes.begin(), codes.end(), s[i]) - codes.begin();
            out.column[i] = static_cast<std::uint32_t>(pos);
        }
        distinct = static_cast<std::uint32_t>(codes.size());
    }
    return out;
}

template <std::size_t D>
EncodedRows encode_fixed(const MondrianInput& in, ThreadPool& pool) {
    const std::size_t n = in.n, d = in.d;
    EncodedRows enc;
    enc.n = n;
    enc.d = d;
    enc.width = d + 2;
    enc.columns.resize(d);
    std::vector<double> lo(d), hi(d);
    std::unique_ptr<bool[]> integer(new bool[d]);
    if (!scan<D>(in, pool, lo.data(), hi.data(), integer.get())) throw_first_bad(in);

    DenseCodes codes;
    if (in.sensitive != nullptr && in.criterion.kind != Diversity::none) {
        codes = dense_codes(in, enc.sensitive_codes, enc.code_counts);
    }
    // kind: 1 integer, 2 decimal, 0 ranked.
    std::vector<char> kind(d, 0);
    for (std::size_t j = 0; j < d; ++j) {
        auto& col = enc.columns[j];
        if (integer[j] && hi[j] - lo[j] <= kMaxKeyRange && std::fabs(lo[j]) < kMaxScaled &&
            std::fabs(hi[j]) < kMaxScaled) {
            col.affine = true;
            col.scale = 1.0;
            col.base = lo[j] == 0.0 ? 0.0 : lo[j];
            col.max_key = static_cast<std::uint32_t>(hi[j] - lo[j]);
            kind[j] = 1;
        } else if (!integer[j] && find_decimal(in, j, lo[j], hi[j], col)) {
            kind[j] = 2;
        }
    }
    enc.rows = KeyBuffer(n * enc.width + kRowPadding);
    std::vector<char> inexact(d, 0);
    write_keys<D>(in, pool, enc.columns, kind, codes, enc.rows.data(), inexact);
    std::vector<std::size_t> ranked;
    for (std::size_t j = 0; j < d; ++j) {
        if (kind[j] == 0 || inexact[j]) ranked.push_back(j);
    }
    std::atomic<std::size_t> taken{0};
    pool.run(std::min(pool.size(), ranked.size()), [&](std::size_t) {
        for (std::size_t i = taken++; i < ranked.size(); i = taken++) {
            rank_column(in, ranked[i], enc.columns[ranked[i]], enc.rows.data());
        }
    });
    return enc;
}

}  // namespace

KeyBuffer::KeyBuffer(std::size_t words) : size_(words) {
    if (words == 0) return;
    const std::size_t bytes = words * sizeof(std::uint32_t);
    constexpr std::size_t kHuge = std::size_t{1} << 21;
    if (bytes >= kHuge) {
        // 2 MiB aligned, so that the kernel can back it with huge pages: the
        // first touch of each page is a fault, and 4 KiB pages made those
        // faults a tenth of the run time.
        const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
        data_ = static_cast<std::uint32_t*>(::operator new(rounded, std::align_val_t{kHuge}));
        aligned_ = true;
#ifdef MADV_HUGEPAGE
        madvise(data_, rounded, MADV_HUGEPAGE);
#endif
    } else {
        data_ = static_cast<std::uint32_t*>(::operator new(bytes));
    }
}

void KeyBuffer::release() noexcept {
    if (data_ == nullptr) return;
    if (aligned_) {
        ::operator delete(data_, std::align_val_t{std::size_t{1} << 21});
    } else {
        ::operator delete(data_);
    }
    data_ = nullptr;
    size_ = 0;
}

EncodedRows encode(const MondrianInput& in, ThreadPool& pool) {
    if (in.n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
        throw std::invalid_argument("more than 2147483647 rows: split the table into shards");
    }
    switch (in.d) {
        case 1: return encode_fixed<1>(in, pool);
        case 2: return encode_fixed<2>(in, pool);
        case 3: return encode_fixed<3>(in, pool);
        case 4: return encode_fixed<4>(in, pool);
        case 5: return encode_fixed<5>(in, pool);
        case 6: return encode_fixed<6>(in, pool);
        case 7: return encode_fixed<7>(in, pool);
        case 8: return encode_fixed<8>(in, pool);
        default: return encode_fixed<0>(in, pool);
    }
}

}  // namespace medanon
