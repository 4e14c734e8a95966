#pragma once
// Strict reader of the IDX format (MNIST, Fashion-MNIST): magic 00 00 <type> <ndim>, ndim
// big-endian uint32 dimensions, then exactly product(dims) elements. Only type 0x08 (unsigned
// byte) is supported. Plain and gzip-compressed files are accepted (gzip detected by magic).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cohort::data {

struct IdxArray {
    std::vector<std::size_t> dims;   // e.g. {60000, 28, 28}
    std::vector<std::uint8_t> data;  // product(dims) bytes, row-major
};

// The dimensions a caller expects (count 0: any), with their names for the message, e.g.
// {3, "count, rows, columns"}. A header declaring another count is refused as such, before its
// size is compared with the data (where a wrong count would read as "trailing bytes").
struct IdxShape {
    std::size_t dimensions = 0;
    std::string names;
};

// Reads and validates an IDX file. Every error is a cohort::InputError with the one-line message
// "bad IDX file <path>: <problem>" (or "cannot open IDX file <path>: ..." when unreadable).
IdxArray readIdx(const std::string& path, const IdxShape& expected = {});

// Parses IDX bytes already in memory; `path` only names the source in error messages.
IdxArray parseIdx(std::vector<std::uint8_t> bytes, const std::string& path, const IdxShape& expected = {});
// The bytes an IDX file's header declares (header and data), from its first bytes; SIZE_MAX while
// they are too few (FileContents' DeclaredSize: a gzip IDX is never inflated beyond it).
std::size_t idxDeclaredSize(std::span<const std::uint8_t> start);

}  // namespace cohort::data
