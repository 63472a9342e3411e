// The only C++ file that knows Python: converts arrays, checks shapes,
// releases the GIL while the core computes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "diversity.hpp"
#include "mondrian.hpp"

namespace py = pybind11;

namespace {

using F64 = py::array_t<double, py::array::c_style>;
using I32 = py::array_t<std::int32_t, py::array::c_style>;
using I64 = py::array_t<std::int64_t, py::array::c_style>;

// A C-contiguous array over the vector's own buffer, which it then owns:
// no second allocation and copy of the core's results.
template <class T>
py::array_t<T> adopt(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
    auto* owner = new std::vector<T>(std::move(v));
    py::capsule free_when_done(owner, [](void* o) { delete static_cast<std::vector<T>*>(o); });
    return py::array_t<T>(std::move(shape), owner->data(), free_when_done);
}

py::tuple mondrian_py(const F64& x, const I32& sensitive, const I64& categories, std::int64_t k,
                      const std::string& diversity, double l, double c, const std::string& mode,
                      std::int64_t threads) {
    if (x.ndim() != 2) {
        throw std::invalid_argument("quasi_identifiers must be a 2-D array [rows, columns], got " +
                                    std::to_string(x.ndim()) + " dimensions");
    }
    const auto n = static_cast<std::size_t>(x.shape(0));
    const auto d = static_cast<std::size_t>(x.shape(1));
    if (categories.ndim() != 1 || static_cast<std::size_t>(categories.shape(0)) != d) {
        throw std::invalid_argument("categories must be a 1-D array with one entry per quasi-identifier column (" +
                                    std::to_string(d) + ")");
    }
    if (sensitive.ndim() != 1) throw std::invalid_argument("sensitive must be a 1-D array");
    const auto ns = static_cast<std::size_t>(sensitive.shape(0));
    if (ns != n && ns != 0) {
        throw std::invalid_argument("sensitive must have one code per row (" + std::to_string(n) + "), got " +
                                    std::to_string(ns));
    }
    if (mode != "strict" && mode != "relaxed") {
        throw std::invalid_argument("mode must be 'strict' or 'relaxed', got '" + mode + "'");
    }
    if (threads < 1 || threads > 1024) {
        throw std::invalid_argument("threads must be between 1 and 1024, got " + std::to_string(threads));
    }
    medanon::MondrianInput in;
    in.x = x.data();
    in.n = n;
    in.d = d;
    in.sensitive = ns == n ? sensitive.data() : nullptr;
    in.categories = categories.data();
    in.k = k;
    in.criterion.kind = medanon::parse_diversity(diversity);
    in.criterion.l = l;
    in.criterion.c = c;
    in.relaxed = mode == "relaxed";
    in.threads = static_cast<std::size_t>(threads);

    I64 labels(static_cast<py::ssize_t>(n));
    std::int64_t* out = labels.mutable_data();
    medanon::MondrianResult res;
    {
        py::gil_scoped_release release;
        res = medanon::mondrian(in, out);
    }
    const auto p = static_cast<py::ssize_t>(res.partitions);
    const auto dd = static_cast<py::ssize_t>(d);
    return py::make_tuple(labels, adopt(std::move(res.mins), {p, dd}), adopt(std::move(res.maxs), {p, dd}),
                          adopt(std::move(res.counts), {p}));
}

bool satisfies_py(const I64& counts, const std::string& diversity, double l, double c) {
    if (counts.ndim() != 1) throw std::invalid_argument("counts must be a 1-D array");
    medanon::Criterion crit{medanon::parse_diversity(diversity), l, c};
    medanon::validate(crit);
    std::vector<std::int64_t> v(counts.data(), counts.data() + counts.shape(0));
    for (auto x : v) {
        if (x < 0) throw std::invalid_argument("counts must be >= 0");
    }
    std::vector<std::int64_t> scratch;
    return medanon::satisfies(crit, v, scratch);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "medanon's C++ core: Mondrian partitioning and diversity criteria. Not a public API.";
    m.def("mondrian", &mondrian_py, py::arg("quasi_identifiers").noconvert(), py::arg("sensitive").noconvert(),
          py::arg("categories").noconvert(), py::arg("k"), py::arg("diversity"), py::arg("l"), py::arg("c"),
          py::arg("mode"), py::arg("threads") = 1,
          "Partition rows; returns (labels[n], mins[p, d], maxs[p, d], counts[p]). The result does not "
          "depend on threads.");
    m.def("satisfies", &satisfies_py, py::arg("counts").noconvert(), py::arg("diversity"), py::arg("l"),
          py::arg("c"), "True when sensitive-value counts satisfy the diversity criterion.");
    m.def("split_kernel", &medanon::split_kernel,
          "The instruction set of the row split and the key encoding on this machine: 'avx2' or 'portable' "
          "(MEDANON_DISABLE_AVX2=1 forces 'portable'). The partitions do not depend on it.");
    m.attr("ENTROPY_TOLERANCE") = medanon::kEntropyTolerance;
}
