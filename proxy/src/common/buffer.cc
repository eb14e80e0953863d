#include "common/buffer.h"

#include <algorithm>
#include <cstring>

namespace skiff {
namespace {

// Per thread, bounded: 64 slices (1 MiB) at most. Pointers and a flag that need no destructor,
// so a Buffer destroyed during thread exit (after the owner below) still finds a valid state.
constexpr int kPoolCapacity = 64;
struct SlicePool {
  char* slices[kPoolCapacity];
  int count = 0;
};
thread_local SlicePool* t_pool = nullptr;
thread_local bool t_pool_closed = false;

struct SlicePoolOwner {
  ~SlicePoolOwner() {
    if (t_pool != nullptr) {
      for (int i = 0; i < t_pool->count; ++i) delete[] t_pool->slices[i];
      delete t_pool;
      t_pool = nullptr;
    }
    t_pool_closed = true;
  }
};
thread_local SlicePoolOwner t_pool_owner;

SlicePool* slicePool() {
  if (t_pool == nullptr && !t_pool_closed) {
    (void)&t_pool_owner;  // constructs it, so its destructor runs at thread exit
    t_pool = new SlicePool;
  }
  return t_pool;
}

}  // namespace

Buffer::SliceStorage Buffer::allocate(size_t capacity) {
  if (capacity == kSliceSize) {
    SlicePool* pool = slicePool();
    if (pool != nullptr && pool->count > 0) {
      return SliceStorage(pool->slices[--pool->count], buffer_internal::SliceStorageDeleter{capacity});
    }
  }
  return SliceStorage(new char[capacity], buffer_internal::SliceStorageDeleter{capacity});
}

void buffer_internal::SliceStorageDeleter::operator()(char* storage) const {
  if (capacity == Buffer::kSliceSize) {
    SlicePool* pool = slicePool();
    if (pool != nullptr && pool->count < kPoolCapacity) {
      pool->slices[pool->count++] = storage;
      return;
    }
  }
  delete[] storage;
}

size_t Buffer::pooledSlices() {
  SlicePool* pool = slicePool();
  return pool == nullptr ? 0 : static_cast<size_t>(pool->count);
}

Buffer::Slice& Buffer::tailWithRoom(size_t size) {
  if (slices_.empty() || slices_.back().room() < std::min(size, kSliceSize / 4) ||
      slices_.back().room() == 0) {
    Slice slice;
    slice.capacity = std::max(size, length_ == 0 ? kSmallSliceSize : kSliceSize);
    slice.storage = allocate(slice.capacity);
    slices_.push_back(std::move(slice));
  }
  return slices_.back();
}

void Buffer::add(const void* data, size_t size) {
  const char* src = static_cast<const char*>(data);
  while (size > 0) {
    Slice& tail = tailWithRoom(size);
    size_t n = std::min(size, tail.room());
    memcpy(tail.storage.get() + tail.end, src, n);
    tail.end += n;
    length_ += n;
    src += n;
    size -= n;
  }
}

void Buffer::move(Buffer& other) {
  if (&other == this) return;
  // The storage of a copied (or empty) slice stays with `other`, so a buffer that is filled and
  // moved on again and again (an encoder's scratch buffer) does not allocate each time. Not a
  // 16 KiB slice, though: the thread's pool takes that back, and a long-lived scratch buffer
  // would otherwise hold one per idle connection.
  Slice spare;
  auto keepSpare = [&spare](Slice& slice) {
    if (!spare.storage && slice.capacity < kSliceSize) spare = std::move(slice);
  };
  for (auto& slice : other.slices_) {
    // Small slices are copied so a chain of tiny pieces does not build up.
    if (slice.size() < 512 && !slices_.empty() && slices_.back().room() >= slice.size()) {
      add(slice.data(), slice.size());
      keepSpare(slice);
    } else if (slice.size() > 0) {
      length_ += slice.size();
      slices_.push_back(std::move(slice));
    } else {
      keepSpare(slice);
    }
  }
  other.slices_.clear();
  other.length_ = 0;
  if (spare.storage) {
    spare.start = spare.end = 0;
    other.slices_.push_back(std::move(spare));
  }
}

void Buffer::move(Buffer& other, size_t size) {
  size = std::min(size, other.length_);
  while (size > 0) {
    Slice& head = other.slices_.front();
    if (head.size() <= size) {
      size_t n = head.size();
      if (n < 512 && !slices_.empty() && slices_.back().room() >= n) {
        add(head.data(), n);
      } else {
        length_ += n;
        slices_.push_back(std::move(head));
      }
      other.slices_.pop_front();
      other.length_ -= n;
      size -= n;
    } else {
      add(head.data(), size);
      other.drain(size);
      size = 0;
    }
  }
}

void Buffer::drain(size_t size) {
  size = std::min(size, length_);
  length_ -= size;
  while (size > 0) {
    Slice& head = slices_.front();
    if (head.size() <= size) {
      size -= head.size();
      if (slices_.size() == 1) {
        // Keep the last slice's storage so a steady read/drain cycle does not allocate.
        head.start = head.end = 0;
      } else {
        slices_.pop_front();
      }
    } else {
      head.start += size;
      size = 0;
    }
  }
  while (slices_.size() > 1 && slices_.front().size() == 0) slices_.pop_front();
}

absl::string_view Buffer::frontSlice() const {
  for (const auto& slice : slices_) {
    if (slice.size() > 0) return absl::string_view(slice.data(), slice.size());
  }
  return {};
}

absl::string_view Buffer::linearize(size_t size) {
  size = std::min(size, length_);
  if (size == 0) return {};
  while (slices_.front().size() == 0) slices_.pop_front();
  if (slices_.front().size() >= size) return absl::string_view(slices_.front().data(), size);
  Slice merged;
  merged.capacity = std::max(size, kSliceSize);
  merged.storage = allocate(merged.capacity);
  copyOut(0, size, merged.storage.get());
  merged.end = size;
  size_t remaining = length_;
  drain(size);
  length_ = remaining;
  slices_.push_front(std::move(merged));
  return absl::string_view(slices_.front().data(), size);
}

void Buffer::copyOut(size_t offset, size_t size, void* out) const {
  char* dst = static_cast<char*>(out);
  for (const auto& slice : slices_) {
    if (size == 0) break;
    if (offset >= slice.size()) {
      offset -= slice.size();
      continue;
    }
    size_t n = std::min(size, slice.size() - offset);
    memcpy(dst, slice.data() + offset, n);
    dst += n;
    size -= n;
    offset = 0;
  }
}

ptrdiff_t Buffer::search(absl::string_view needle, size_t start) const {
  if (needle.empty()) return start <= length_ ? static_cast<ptrdiff_t>(start) : -1;
  if (start >= length_) return -1;
  // Fast path: the match lies within one slice; otherwise fall back to a byte-wise scan.
  size_t base = 0;
  for (size_t i = 0; i < slices_.size(); ++i) {
    const Slice& slice = slices_[i];
    size_t slice_len = slice.size();
    if (base + slice_len <= start) {
      base += slice_len;
      continue;
    }
    size_t from = start > base ? start - base : 0;
    for (size_t pos = from; pos < slice_len; ++pos) {
      const char* hit =
          static_cast<const char*>(memchr(slice.data() + pos, needle[0], slice_len - pos));
      if (hit == nullptr) break;
      pos = hit - slice.data();
      size_t global = base + pos;
      if (global + needle.size() > length_) return -1;
      bool match = true;
      if (pos + needle.size() <= slice_len) {
        match = memcmp(hit, needle.data(), needle.size()) == 0;
      } else {
        std::string tmp(needle.size(), '\0');
        copyOut(global, needle.size(), tmp.data());
        match = tmp == needle;
      }
      if (match) return static_cast<ptrdiff_t>(global);
    }
    base += slice_len;
  }
  return -1;
}

std::string Buffer::toString() const {
  std::string out(length_, '\0');
  copyOut(0, length_, out.data());
  return out;
}

char* Buffer::reserve(size_t size) {
  Slice& tail = tailWithRoom(size);
  if (tail.room() < size) {
    Slice slice;
    slice.capacity = std::max(size, kSliceSize);
    slice.storage = allocate(slice.capacity);
    slices_.push_back(std::move(slice));
    return slices_.back().storage.get();
  }
  return tail.storage.get() + tail.end;
}

void Buffer::commit(size_t size) {
  slices_.back().end += size;
  length_ += size;
}

int Buffer::fillIovecs(struct iovec* iov, int max) const {
  int n = 0;
  for (const auto& slice : slices_) {
    if (n == max) break;
    if (slice.size() == 0) continue;
    iov[n].iov_base = slice.data();
    iov[n].iov_len = slice.size();
    ++n;
  }
  return n;
}

}  // namespace skiff
