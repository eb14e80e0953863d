// match() runs for every request: the common case (exact domains, prefix routes, header
// matchers) must not allocate. Counts operator new calls made by this thread while enabled.

#include <cstdlib>
#include <new>

#include "route_test_util.h"
#include "router/route_table.h"

namespace {

thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;

}  // namespace

// Replacing the global operator new affects this test binary only. Every non-aligned form is
// replaced, so that what one form allocates another can free (std::stable_sort, for one,
// allocates with the nothrow form and frees with the sized delete).
void* operator new(size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return ::operator new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  if (g_counting) ++g_allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept {
  return ::operator new(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace skiff::router {
namespace {

using testing::makeTable;
using testing::request;

TEST(RouteAllocationTest, CounterSeesAllocations) {
  g_allocations = 0;
  g_counting = true;
  auto* value = new std::string(100, 'x');
  g_counting = false;
  delete value;
  EXPECT_GE(g_allocations, 1u);
}

TEST(RouteAllocationTest, MatchDoesNotAllocate) {
  auto table = makeTable(R"(
    virtual_hosts { name: 'other' domains: 'other.local' domains: '*.other.local'
      routes { name: 'o' match { prefix: '/' } route { cluster: 'c' } } }
    virtual_hosts { name: 'api' domains: 'api.local' domains: 'API.example.com'
      routes { name: 'v1' match { prefix: '/v1/' headers { name: 'x-env' exact_match: 'x' } }
               route { cluster: 'c' } }
      routes { name: 'health' match { path: '/healthz' } route { cluster: 'c' } }
      routes { name: 'users' match { prefix: '/users' headers { name: ':method' prefix_match: 'G' }
                                     query_parameters { name: 'id' present_match: true } }
               route { cluster: 'c' } } }
    virtual_hosts { name: 'default' domains: '*'
      routes { name: 'd' match { prefix: '/' } route { cluster: 'c' } } })");
  ASSERT_NE(table, nullptr);
  std::vector<http::RequestHead> heads = {
      request("api.local", "/healthz"), request("Api.Example.Com:8080", "/users/1?a=b&id=7"),
      request("x.other.local", "/a"), request("nowhere", "/b"), request("api.local", "/v1/x")};
  heads.back().headers.add("x-env", "x");

  g_allocations = 0;
  g_counting = true;
  const RouteEntry* results[5];
  for (size_t i = 0; i < heads.size(); ++i) results[i] = table->match(heads[i]);
  g_counting = false;

  EXPECT_EQ(g_allocations, 0u);
  ASSERT_NE(results[0], nullptr);
  EXPECT_EQ(results[0]->name(), "health");
  ASSERT_NE(results[1], nullptr);
  EXPECT_EQ(results[1]->name(), "users");
  ASSERT_NE(results[2], nullptr);
  EXPECT_EQ(results[2]->name(), "o");
  ASSERT_NE(results[3], nullptr);
  EXPECT_EQ(results[3]->name(), "d");
  ASSERT_NE(results[4], nullptr);
  EXPECT_EQ(results[4]->name(), "v1");
}

}  // namespace
}  // namespace skiff::router
