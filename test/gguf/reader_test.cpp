// GGUF reader: header, metadata of every value type (arrays included), tensor infos, alignment, and the
// memory-mapped path.

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <skippy/gguf/gguf.hpp>

using namespace skippy;

namespace {

std::vector<std::uint8_t> all_types_file(std::uint32_t alignment) {
  gguf::Writer w(alignment);
  w.set("u8", std::uint8_t{200});
  w.set("i8", std::int8_t{-100});
  w.set("u16", std::uint16_t{60000});
  w.set("i16", std::int16_t{-30000});
  w.set("u32", std::uint32_t{4000000000u});
  w.set("i32", std::int32_t{-2000000000});
  w.set("f32", 1.5f);
  w.set("b", true);
  w.set("s", std::string("h\xc3\xa9llo"));
  w.set("u64", std::uint64_t{18000000000000000000ull});
  w.set("i64", std::int64_t{-9000000000000000000ll});
  w.set("f64", 2.25);
  w.set_array("a_u8", std::vector<std::uint8_t>{1, 2, 255});
  w.set_array("a_i8", std::vector<std::int8_t>{-1, 0, 1});
  w.set_array("a_u16", std::vector<std::uint16_t>{1, 65535});
  w.set_array("a_i16", std::vector<std::int16_t>{-5, 5});
  w.set_array("a_u32", std::vector<std::uint32_t>{7, 8, 9});
  w.set_array("a_i32", std::vector<std::int32_t>{-7});
  w.set_array("a_f32", std::vector<float>{0.5f, -0.25f});
  w.set_array("a_b", std::vector<bool>{true, false, true});
  w.set_array("a_s", std::vector<std::string>{"", "x", "yz"});
  w.set_array("a_u64", std::vector<std::uint64_t>{1ull << 40});
  w.set_array("a_i64", std::vector<std::int64_t>{-(1ll << 40)});
  w.set_array("a_f64", std::vector<double>{1e300});
  w.set_array("a_empty", std::vector<std::uint32_t>{});
  static const float v[3] = {1.0f, 2.0f, 3.0f};
  static std::uint16_t h[64];
  for (int i = 0; i < 64; ++i) h[i] = to_half(static_cast<float>(i)).bits;
  w.add_tensor("vec", quant::GgmlType::F32, {3}, v);
  w.add_tensor("mat", quant::GgmlType::F16, {16, 4}, h);
  return w.bytes();
}

}  // namespace

TEST_CASE("gguf reader: metadata of every value type") {
  const auto f = gguf::File::from_memory(all_types_file(32));
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.metadata().size() == 25);
  CHECK(f.metadata()[0].first == "u8");  // file order
  CHECK(f.get<std::uint8_t>("u8") == 200);
  CHECK(f.get<std::int8_t>("i8") == -100);
  CHECK(f.get<std::uint16_t>("u16") == 60000);
  CHECK(f.get<std::int16_t>("i16") == -30000);
  CHECK(f.get<std::uint32_t>("u32") == 4000000000u);
  CHECK(f.get<std::int32_t>("i32") == -2000000000);
  CHECK(f.get<float>("f32") == 1.5f);
  CHECK(f.get<bool>("b"));
  CHECK(f.get<std::string>("s") == "h\xc3\xa9llo");
  CHECK(f.get<std::uint64_t>("u64") == 18000000000000000000ull);
  CHECK(f.get<std::int64_t>("i64") == -9000000000000000000ll);
  CHECK(f.get<double>("f64") == 2.25);
  CHECK(f.get_array<std::uint8_t>("a_u8") == std::vector<std::uint8_t>{1, 2, 255});
  CHECK(f.get_array<std::int8_t>("a_i8") == std::vector<std::int8_t>{-1, 0, 1});
  CHECK(f.get_array<std::uint16_t>("a_u16") == std::vector<std::uint16_t>{1, 65535});
  CHECK(f.get_array<std::int16_t>("a_i16") == std::vector<std::int16_t>{-5, 5});
  CHECK(f.get_array<std::uint32_t>("a_u32") == std::vector<std::uint32_t>{7, 8, 9});
  CHECK(f.get_array<std::int32_t>("a_i32") == std::vector<std::int32_t>{-7});
  CHECK(f.get_array<float>("a_f32") == std::vector<float>{0.5f, -0.25f});
  CHECK(f.get_array<bool>("a_b") == std::vector<bool>{true, false, true});
  CHECK(f.get_array<std::string>("a_s") == std::vector<std::string>{"", "x", "yz"});
  CHECK(f.get_array<std::uint64_t>("a_u64") == std::vector<std::uint64_t>{1ull << 40});
  CHECK(f.get_array<std::int64_t>("a_i64") == std::vector<std::int64_t>{-(1ll << 40)});
  CHECK(f.get_array<double>("a_f64") == std::vector<double>{1e300});
  CHECK(f.get_array<std::uint32_t>("a_empty").empty());
  CHECK(f.value("a_u32").array_type() == gguf::ValueType::UINT32);
  CHECK(f.value("a_u32").array_size() == 3);
  CHECK(f.get_or<std::uint32_t>("absent", 17u) == 17u);
  CHECK(f.value("i16").as_integer() == -30000);
  CHECK_FALSE(f.value("s").as_integer().has_value());
}

TEST_CASE("gguf reader: lookups name the key when absent or mistyped") {
  const auto f = gguf::File::from_memory(all_types_file(32));
  CHECK_THROWS_WITH_AS(f.get<std::uint32_t>("nope"), doctest::Contains("missing metadata key 'nope'"), Error);
  CHECK_THROWS_WITH_AS(f.get<std::uint32_t>("u8"), doctest::Contains("'u8' has type uint8, expected uint32"), Error);
  CHECK_THROWS_WITH_AS(f.get_array<float>("a_u8"), doctest::Contains("array of uint8, expected array of float32"),
                       Error);
  CHECK_THROWS_WITH_AS(f.tensor("missing"), doctest::Contains("missing required tensor 'missing'"), Error);
}

TEST_CASE("gguf reader: tensor infos, data pointers and alignment") {
  for (std::uint32_t align : {1u, 8u, 32u, 64u, 4096u}) {
    INFO("alignment ", align);
    const auto bytes = all_types_file(align);
    const auto f = gguf::File::from_memory(bytes);
    CHECK(f.alignment() == align);
    CHECK(f.data_offset() % align == 0);
    REQUIRE(f.tensors().size() == 2);
    const auto& v = f.tensor("vec");
    CHECK(v.dims == std::vector<std::uint64_t>{3});
    CHECK(v.type == 0);
    CHECK(v.offset == 0);
    CHECK(v.n_bytes == 12);
    float got[3];
    std::memcpy(got, v.data, 12);
    CHECK(got[2] == 3.0f);
    const auto& m = f.tensor("mat");
    CHECK(m.dims == std::vector<std::uint64_t>{16, 4});
    CHECK(m.type_name() == "F16");
    CHECK(m.n_elements == 64);
    CHECK(m.offset % align == 0);
    CHECK(m.offset >= 12);
    std::uint16_t last;
    std::memcpy(&last, m.data + 126, 2);
    CHECK(to_float(half_t{last}) == 63.0f);
    CHECK(m.data == f.bytes() + f.data_offset() + m.offset);
  }
}

TEST_CASE("gguf reader: a memory-mapped file, moved") {
  const std::string path = "/tmp/skippy_gguf_reader_test_" + std::to_string(::getpid()) + ".gguf";
  {
    gguf::Writer w;
    w.set("k", std::uint32_t{5});
    static const float v[4] = {1, 2, 3, 4};
    w.add_tensor("t", quant::GgmlType::F32, {4}, v);
    w.write_file(path);
  }
  gguf::File f = gguf::File::open(path);
  const std::uint8_t* data = f.tensor("t").data;
  gguf::File g = std::move(f);
  CHECK(g.get<std::uint32_t>("k") == 5);
  CHECK(g.tensor("t").data == data);
  float x;
  std::memcpy(&x, data + 12, 4);
  CHECK(x == 4.0f);
  std::remove(path.c_str());
  CHECK_THROWS_WITH_AS(gguf::File::open(path), doctest::Contains("cannot open"), Error);
}

TEST_CASE("gguf reader: a path that is not a regular file is refused, a FIFO without waiting for a writer") {
  const std::string fifo = "/tmp/skippy_gguf_fifo_" + std::to_string(::getpid());
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(gguf::File::open(fifo), doctest::Contains("is not a regular file"), Error);
  std::remove(fifo.c_str());
  CHECK_THROWS_WITH_AS(gguf::File::open("/tmp"), doctest::Contains("'/tmp' is not a regular file"), Error);
}

TEST_CASE("gguf reader: unsupported-but-known tensor types parse (sizes from the ggml table)") {
  gguf::Writer w;
  std::vector<std::uint8_t> q4k(144 * 2, 0);  // Q4_K: 256 values in 144 bytes
  w.add_tensor("k", 12u, {512}, q4k.data());
  const auto f = gguf::File::from_memory(w.bytes());
  CHECK(f.tensor("k").type_name() == "Q4_K");
  CHECK(f.tensor("k").n_bytes == 288);
}
