#pragma once

// A byte queue made of a chain of slices, so that bytes are appended at the tail, consumed at
// the head and moved between buffers without copying whole payloads.

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"

namespace skiff {
namespace buffer_internal {

// Returns 16 KiB slice storage to the thread's pool (bounded), frees anything else.
struct SliceStorageDeleter {
  size_t capacity = 0;
  void operator()(char* storage) const;
};

}  // namespace buffer_internal

class Buffer {
 public:
  static constexpr size_t kSliceSize = 16 * 1024;
  // The first slice of an empty buffer that is written with add(): most messages that go through
  // a fresh buffer (a head, a small body) fit, and a small malloc is much cheaper than 16 KiB.
  static constexpr size_t kSmallSliceSize = 1024;

  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&&) = default;
  Buffer& operator=(Buffer&&) = default;

  size_t length() const { return length_; }
  bool empty() const { return length_ == 0; }

  void add(const void* data, size_t size);
  void add(absl::string_view data) { add(data.data(), data.size()); }
  // Moves all of `other` to the end of this buffer.
  void move(Buffer& other);
  // Moves the first `size` bytes of `other` to the end of this buffer.
  void move(Buffer& other, size_t size);
  // Discards the first `size` bytes.
  void drain(size_t size);
  void clear() { drain(length_); }

  // The first contiguous run of bytes (possibly shorter than length()).
  absl::string_view frontSlice() const;
  // Makes the first `size` bytes contiguous and returns them.
  absl::string_view linearize(size_t size);
  // Copies bytes [offset, offset+size) out.
  void copyOut(size_t offset, size_t size, void* out) const;
  // Offset of the first occurrence of `needle` at or after `start`, or -1.
  ptrdiff_t search(absl::string_view needle, size_t start = 0) const;
  std::string toString() const;

  // Writable space at the tail for a read() of up to `size` bytes; call commit() with what
  // was actually filled.
  char* reserve(size_t size);
  void commit(size_t size);

  // Up to `max` iovecs describing the readable bytes, for writev().
  int fillIovecs(struct iovec* iov, int max) const;

  // An empty buffer keeps its last slice for the next bytes; this frees it (a connection going
  // idle holds no buffer memory). 16 KiB slices go back to this thread's pool, where the next
  // reserve() of any buffer on the thread takes them from.
  void releaseStorage() {
    if (length_ == 0) slices_.clear();
  }
  // 16 KiB slices this thread's pool holds for reuse (for tests).
  static size_t pooledSlices();

 private:
  using SliceStorage = std::unique_ptr<char[], buffer_internal::SliceStorageDeleter>;
  static SliceStorage allocate(size_t capacity);

  struct Slice {
    SliceStorage storage;
    size_t capacity = 0;
    size_t start = 0;
    size_t end = 0;
    size_t size() const { return end - start; }
    size_t room() const { return capacity - end; }
    char* data() const { return storage.get() + start; }
  };
  // A queue of slices with no allocation for the first few: many Buffers are short-lived
  // temporaries (std::deque would allocate twice even for an empty one).
  class SliceQueue {
   public:
    bool empty() const { return head_ == items_.size(); }
    size_t size() const { return items_.size() - head_; }
    Slice& front() { return items_[head_]; }
    Slice& back() { return items_.back(); }
    const Slice& operator[](size_t i) const { return items_[head_ + i]; }
    void push_back(Slice&& slice) { items_.push_back(std::move(slice)); }
    void push_front(Slice&& slice) {
      if (head_ > 0) {
        items_[--head_] = std::move(slice);
      } else {
        items_.insert(items_.begin(), std::move(slice));
      }
    }
    void pop_front() {
      items_[head_] = Slice();
      if (++head_ == items_.size()) {
        clear();
      } else if (head_ >= 16 && head_ * 2 >= items_.size()) {
        // Reclaim the consumed prefix now and then, so a long-lived buffer stays compact.
        items_.erase(items_.begin(), items_.begin() + head_);
        head_ = 0;
      }
    }
    void clear() {
      items_.clear();
      head_ = 0;
    }
    Slice* begin() { return items_.data() + head_; }
    Slice* end() { return items_.data() + items_.size(); }
    const Slice* begin() const { return items_.data() + head_; }
    const Slice* end() const { return items_.data() + items_.size(); }

   private:
    absl::InlinedVector<Slice, 4> items_;
    size_t head_ = 0;
  };

  Slice& tailWithRoom(size_t size);

  SliceQueue slices_;
  size_t length_ = 0;
};

}  // namespace skiff
