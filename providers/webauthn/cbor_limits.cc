#include "providers/webauthn/cbor_limits.h"

#include <cbor.h>

#include <cstdint>
#include <vector>

namespace keystep::webauthn {
namespace {

// The streaming decoder calls back once per header, without building items.
struct Walk {
  std::vector<uint64_t> open;  // members still to come in each open container
  size_t left = 0;             // bytes from the current header to the end of the input
  bool bad = false;
  bool done = false;  // the first item is complete

  void item() {
    while (!open.empty()) {
      if (--open.back() > 0) return;
      open.pop_back();
    }
    done = true;
  }
  void container(size_t members, size_t per_member) {
    if (members == 0) return item();
    if (members > left / per_member || open.size() >= kMaxCborDepth) {
      bad = true;
      return;
    }
    open.push_back(members * per_member);
  }
};

Walk& walk(void* context) { return *static_cast<Walk*>(context); }
void on_item(void* context) { walk(context).item(); }
void on_indefinite(void* context) { walk(context).bad = true; }
template <class T>
void on_value(void* context, T) {
  walk(context).item();
}
void on_string(void* context, cbor_data, size_t) { walk(context).item(); }
void on_array(void* context, size_t size) { walk(context).container(size, 1); }
void on_map(void* context, size_t size) { walk(context).container(size, 2); }
void on_tag(void*, uint64_t) {}  // a tag belongs to the item that follows it

cbor_callbacks walking_callbacks() {
  cbor_callbacks c = cbor_empty_callbacks;
  c.uint8 = c.negint8 = on_value<uint8_t>;
  c.uint16 = c.negint16 = on_value<uint16_t>;
  c.uint32 = c.negint32 = on_value<uint32_t>;
  c.uint64 = c.negint64 = on_value<uint64_t>;
  c.byte_string = c.string = on_string;
  c.byte_string_start = c.string_start = c.indef_array_start = c.indef_map_start = c.indef_break =
      on_indefinite;
  c.array_start = on_array;
  c.map_start = on_map;
  c.tag = on_tag;
  c.float2 = c.float4 = on_value<float>;
  c.float8 = on_value<double>;
  c.undefined = c.null = on_item;
  c.boolean = on_value<bool>;
  return c;
}

}  // namespace

std::optional<size_t> safe_cbor_item_size(std::string_view bytes) {
  static const cbor_callbacks callbacks = walking_callbacks();
  Walk state;
  size_t offset = 0;
  while (!state.done) {
    if (offset >= bytes.size()) return std::nullopt;
    state.left = bytes.size() - offset;
    const cbor_decoder_result result = cbor_stream_decode(
        reinterpret_cast<cbor_data>(bytes.data()) + offset, state.left, &callbacks, &state);
    if (result.status != CBOR_DECODER_FINISHED || state.bad) return std::nullopt;
    offset += result.read;
  }
  return offset;
}

}  // namespace keystep::webauthn
