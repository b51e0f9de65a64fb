#include "adapters/phone/normalizer.hpp"
#include "core/strings.hpp"

#include <cctype>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

namespace sb::phone {

namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// PBXes and SIP stacks hand us URIs as often as bare numbers
// (`sip:+442079460123@carrier;user=phone`, `tel:+44-20-...`): keep the user
// part only.
std::string_view strip_uri(std::string_view s) {
  for (std::string_view scheme : {"sips:", "sip:", "tel:"}) {
    if (istarts_with(s, scheme)) {
      s.remove_prefix(scheme.size());
      break;
    }
  }
  auto cut = s.find_first_of("@;");
  if (cut != std::string_view::npos)
    s = s.substr(0, cut);
  return trim(s);
}

// Only what people and PBXes put between digits. Letters are rejected on
// purpose: "anonymous", "withheld", "<unknown>", "Restricted" must never
// match anyone, and libphonenumber would otherwise read vanity letters as
// digits.
bool plausible_characters(std::string_view s, size_t& digits) {
  digits = 0;
  size_t pluses = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '+') {
      // One plus, before the digits (opening brackets may precede it).
      if (digits != 0 || ++pluses > 1)
        return false;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')'
               && c != '/' && c != '\t') {
      return false;
    }
  }
  return true;
}

std::string e164(const PhoneNumberUtil& util, const PhoneNumber& number) {
  std::string out;
  util.Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

} // namespace

normalizer::normalizer(std::string default_region)
    : region_(std::move(default_region)) {
  for (auto& c : region_)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
}

std::string normalizer::to_e164(std::string_view raw) const {
  auto text = strip_uri(trim(raw));
  size_t digits = 0;
  if (text.empty() || !plausible_characters(text, digits))
    return {};
  // Shorter than any national number anywhere: extensions (1001), ring
  // groups (600), queues, feature codes, emergency numbers. E.164 caps at 15
  // digits; allow the longest international prefix (e.g. 0011) on top.
  if (digits < 6 || digits > 19)
    return {};
  const auto& util = *PhoneNumberUtil::GetInstance();
  std::string input{text};
  PhoneNumber number;
  if (util.Parse(input, region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR)
    return {};
  if (util.IsValidNumber(number))
    return e164(util, number);
  // Written with a country code but without `+` or an international prefix
  // (Asterisk often presents `15550100142`): valid that way, take it.
  if (input.front() != '+') {
    PhoneNumber international;
    if (util.Parse("+" + input, "ZZ", &international)
            == PhoneNumberUtil::NO_PARSING_ERROR
        && util.IsValidNumber(international))
      return e164(util, international);
  }
  // Not in the numbering plan libphonenumber knows (unallocated or
  // fictional ranges such as +1 555 01xx) but of a length only a complete
  // number has: normalize it anyway, so the same digits always give the same
  // key. Lengths that exist only as local numbers (dialled without an area
  // code) are ambiguous and never match.
  if (util.IsPossibleNumberWithReason(number) == PhoneNumberUtil::IS_POSSIBLE)
    return e164(util, number);
  return {};
}

} // namespace sb::phone
