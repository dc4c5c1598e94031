// MiniJson implementation: recursive descent with a depth limit, UTF-8 output for \u escapes.
#include "MiniJson.h"

namespace tosca {

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}

  bool document(Json& out) {
    skipWs();
    if (!value(out, 0)) return false;
    skipWs();
    return pos_ == s_.size();
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
  static const int kMaxDepth = 32;

  void skipWs() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
  }

  bool literal(const char* word) {
    size_t n = 0;
    while (word[n]) n++;
    if (s_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  bool value(Json& out, int depth) {
    if (depth > kMaxDepth || pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out.type_ = Json::Type::String;
      return string(out.string_);
    }
    if (c == 't') { out.type_ = Json::Type::Bool; out.boolean_ = true; return literal("true"); }
    if (c == 'f') { out.type_ = Json::Type::Bool; out.boolean_ = false; return literal("false"); }
    if (c == 'n') { out.type_ = Json::Type::Null; return literal("null"); }
    return number(out);
  }

  bool object(Json& out, int depth) {
    out.type_ = Json::Type::Object;
    pos_++;
    skipWs();
    if (pos_ < s_.size() && s_[pos_] == '}') { pos_++; return true; }
    while (true) {
      skipWs();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"' || !string(key)) return false;
      skipWs();
      if (pos_ >= s_.size() || s_[pos_] != ':') return false;
      pos_++;
      skipWs();
      Json v;
      if (!value(v, depth + 1)) return false;
      out.members_.emplace_back(key, v);
      skipWs();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') { pos_++; continue; }
      if (s_[pos_] == '}') { pos_++; return true; }
      return false;
    }
  }

  bool array(Json& out, int depth) {
    out.type_ = Json::Type::Array;
    pos_++;
    skipWs();
    if (pos_ < s_.size() && s_[pos_] == ']') { pos_++; return true; }
    while (true) {
      skipWs();
      Json v;
      if (!value(v, depth + 1)) return false;
      out.items_.push_back(v);
      skipWs();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') { pos_++; continue; }
      if (s_[pos_] == ']') { pos_++; return true; }
      return false;
    }
  }

  static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(uint32_t& cp) {
    if (pos_ + 4 > s_.size()) return false;
    cp = 0;
    for (int i = 0; i < 4; i++) {
      int h = hexval(s_[pos_ + i]);
      if (h < 0) return false;
      cp = cp * 16 + static_cast<uint32_t>(h);
    }
    pos_ += 4;
    return true;
  }

  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool string(std::string& out) {
    pos_++;  // opening quote
    while (pos_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') { out += static_cast<char>(c); continue; }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {
            uint32_t lo;
            if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') return false;
            pos_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo >= 0xE000) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return false;
          }
          utf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  bool number(Json& out) {
    out.type_ = Json::Type::Number;
    size_t start = pos_;
    bool negative = false, integral = true;
    if (s_[pos_] == '-') { negative = true; pos_++; }
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return false;
    if (s_[pos_] == '0' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9') return false;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      pos_++;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return false;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      pos_++;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') return false;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
    }
    if (integral && !negative) {
      uint64_t v = 0;
      bool overflow = false;
      for (size_t i = start; i < pos_; i++) {
        uint64_t d = static_cast<uint64_t>(s_[i] - '0');
        if (v > (UINT64_MAX - d) / 10) { overflow = true; break; }
        v = v * 10 + d;
      }
      out.isUnsigned_ = !overflow;
      out.unsigned_ = v;
    }
    return true;
  }
};

bool Json::parse(const std::string& text, Json& out) {
  Json v;
  JsonParser p(text);
  if (!p.document(v)) {
    out = Json();
    return false;
  }
  out = v;
  return true;
}

const Json* Json::get(const std::string& key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

std::string jsonQuote(const std::string& value) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : value) {
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
  return out + "\"";
}

}  // namespace tosca
