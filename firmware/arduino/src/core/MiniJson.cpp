// MiniJson implementation: one recursive-descent scanner (depth limit 32) that validates, skips
// values for navigation, and decodes strings (\u escapes to UTF-8).
#include "MiniJson.h"

#include <string.h>

namespace tosca {

namespace {

const int kMaxDepth = 32;

void skipWs(const char*& p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
}

bool isDigit(const char* p, const char* end) { return p < end && *p >= '0' && *p <= '9'; }

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool hex4(const char*& p, const char* end, uint32_t& cp) {
  if (end - p < 4) return false;
  cp = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return false;
    cp = cp * 16 + static_cast<uint32_t>(h);
  }
  p += 4;
  return true;
}

void utf8(uint32_t cp, Str& out) {
  char b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    b[0] = static_cast<char>(0xC0 | (cp >> 6));
    b[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = static_cast<char>(0xE0 | (cp >> 12));
    b[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = static_cast<char>(0xF0 | (cp >> 18));
    b[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    b[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  out.append(b, n);
}

// The string literal at `p` (on its opening quote); decoded into `out` unless null.
bool string(const char*& p, const char* end, Str* out) {
  p++;
  while (p < end) {
    unsigned char c = static_cast<unsigned char>(*p++);
    if (c == '"') return true;
    if (c < 0x20) return false;
    if (c != '\\') {
      if (out) *out += static_cast<char>(c);
      continue;
    }
    if (p >= end) return false;
    char e = *p++;
    char plain;
    switch (e) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!hex4(p, end, cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00) {
          uint32_t lo;
          if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return false;
          p += 2;
          if (!hex4(p, end, lo) || lo < 0xDC00 || lo >= 0xE000) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return false;
        }
        if (out) utf8(cp, *out);
        continue;
      }
      default: return false;
    }
    if (out) *out += plain;
  }
  return false;
}

bool number(const char*& p, const char* end) {
  if (*p == '-') p++;
  if (!isDigit(p, end)) return false;
  if (*p == '0' && isDigit(p + 1, end)) return false;
  while (isDigit(p, end)) p++;
  if (p < end && *p == '.') {
    p++;
    if (!isDigit(p, end)) return false;
    while (isDigit(p, end)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (!isDigit(p, end)) return false;
    while (isDigit(p, end)) p++;
  }
  return true;
}

bool literal(const char*& p, const char* end, const char* word) {
  size_t n = strlen(word);
  if (static_cast<size_t>(end - p) < n || memcmp(p, word, n) != 0) return false;
  p += n;
  return true;
}

bool value(const char*& p, const char* end, int depth);

// The members (`close` '}') or items (']') of a container at `p` (on its opening bracket).
bool container(const char*& p, const char* end, int depth, char close) {
  p++;
  skipWs(p, end);
  if (p < end && *p == close) {
    p++;
    return true;
  }
  while (true) {
    skipWs(p, end);
    if (close == '}') {
      if (p >= end || *p != '"' || !string(p, end, nullptr)) return false;
      skipWs(p, end);
      if (p >= end || *p != ':') return false;
      p++;
      skipWs(p, end);
    }
    if (!value(p, end, depth + 1)) return false;
    skipWs(p, end);
    if (p >= end) return false;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p == close) {
      p++;
      return true;
    }
    return false;
  }
}

bool value(const char*& p, const char* end, int depth) {
  if (depth > kMaxDepth || p >= end) return false;
  switch (*p) {
    case '{': return container(p, end, depth, '}');
    case '[': return container(p, end, depth, ']');
    case '"': return string(p, end, nullptr);
    case 't': return literal(p, end, "true");
    case 'f': return literal(p, end, "false");
    case 'n': return literal(p, end, "null");
    default: return number(p, end);
  }
}

}  // namespace

Json Json::view(const char* begin, const char* end) {
  Type t;
  switch (*begin) {
    case '{': t = Type::Object; break;
    case '[': t = Type::Array; break;
    case '"': t = Type::String; break;
    case 't':
    case 'f': t = Type::Bool; break;
    case 'n': t = Type::Null; break;
    default: t = Type::Number;
  }
  return Json(begin, static_cast<size_t>(end - begin), t);
}

bool Json::parse(const char* text, size_t len, Json& out) {
  out = Json();
  if (text == nullptr) return false;
  const char* p = text;
  const char* end = text + len;
  skipWs(p, end);
  const char* begin = p;
  if (!value(p, end, 0)) return false;
  const char* valueEnd = p;
  skipWs(p, end);
  if (p != end) return false;
  out = view(begin, valueEnd);
  return true;
}

bool Json::parse(const char* text, Json& out) { return parse(text, text ? strlen(text) : 0, out); }

// The value of an unsigned integer literal of `n` digits; false on other characters or overflow.
static bool unsignedValue(const char* p, size_t n, uint64_t& v) {
  const uint64_t limit = 1844674407370955161ull;  // UINT64_MAX / 10
  v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    uint64_t d = static_cast<uint64_t>(p[i] - '0');
    if (v > limit || (v == limit && d > 5)) return false;
    v = v * 10 + d;
  }
  return true;
}

bool Json::isUnsigned() const {
  uint64_t v;
  return type_ == Type::Number && unsignedValue(p_, n_, v);
}

uint64_t Json::asUnsigned() const {
  uint64_t v;
  return type_ == Type::Number && unsignedValue(p_, n_, v) ? v : 0;
}

Str Json::asString() const {
  Str out;
  if (type_ != Type::String) return out;
  const char* p = p_;
  string(p, p_ + n_, &out);
  return out;
}

// Walks the members or items of a validated container: `visit(key, valueBegin, valueEnd)`
// returns true to stop; `key` is null for array items.
template <typename Visit>
static void walk(const char* p, const char* end, bool object, Visit visit) {
  p++;
  while (true) {
    skipWs(p, end);
    if (p >= end || *p == '}' || *p == ']') return;
    const char* key = nullptr;
    if (object) {
      key = p;
      string(p, end, nullptr);
      skipWs(p, end);
      p++;  // ':'
      skipWs(p, end);
    }
    const char* begin = p;
    value(p, end, 0);
    if (visit(key, begin, p)) return;
    skipWs(p, end);
    if (p < end && *p == ',') p++;
  }
}

size_t Json::size() const {
  size_t n = 0;
  if (type_ == Type::Object || type_ == Type::Array)
    walk(p_, p_ + n_, type_ == Type::Object, [&n](const char*, const char*, const char*) {
      n++;
      return false;
    });
  return n;
}

Json Json::item(size_t index) const {
  Json found;
  if (type_ != Type::Array) return found;
  size_t i = 0;
  walk(p_, p_ + n_, false, [&](const char*, const char* begin, const char* end) {
    if (i++ != index) return false;
    found = view(begin, end);
    return true;
  });
  return found;
}

Json Json::get(const char* key) const {
  Json found;
  if (type_ != Type::Object || key == nullptr) return found;
  size_t keyLen = strlen(key);
  const char* end = p_ + n_;
  walk(p_, end, true, [&](const char* k, const char* begin, const char* valueEnd) {
    Str name;
    const char* p = k;
    string(p, end, &name);
    if (!name.equals(key, keyLen)) return false;
    found = view(begin, valueEnd);
    return true;
  });
  return found;
}

Str jsonQuote(const Str& value) {
  static const char* hex = "0123456789abcdef";
  Str out("\"");
  for (size_t i = 0; i < value.size(); i++) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace tosca
