#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "adapters/phone/normalizer.hpp"

using sb::phone::normalizer;

namespace {

struct example {
  const char* region;
  const char* raw;
  const char* e164; // "" = must never match anyone
};

// How people, CRMs and PBXes write numbers. The AMI captures present
// callers as `+442079460123`, `00442079460456` (GB's international prefix),
// `2079460789` (a national number without the trunk 0), `07700900123`,
// `+1-555-010-0199` and `anonymous`; outbound legs dial `0015550100142`,
// `2125550143` and `+447700900789`.
const std::vector<example> table = {
    // -- GB ---------------------------------------------------------------
    {"GB", "+44 20 7946 0123", "+442079460123"},
    {"GB", "0044 20 7946 0123", "+442079460123"},
    {"GB", "020 7946 0123", "+442079460123"},
    {"GB", "(020) 7946-0123", "+442079460123"},
    {"GB", "+44 (0)20 7946 0123", "+442079460123"},
    {"GB", "+442079460123", "+442079460123"},
    {"GB", "00442079460456", "+442079460456"},
    {"GB", "2079460789", "+442079460789"},
    {"GB", "442079460000", "+442079460000"},
    {"GB", "07700 900123", "+447700900123"},
    {"GB", "07700900123", "+447700900123"},
    {"GB", "+447700900789", "+447700900789"},
    {"GB", "01184960630", "+441184960630"},
    {"GB", "00441614960030", "+441614960030"},
    {"GB", "0015550100142", "+15550100142"},
    {"GB", "+1-555-010-0199", "+15550100199"},
    {"GB", "+1 212 555 0143", "+12125550143"},
    {"GB", "sip:+442079460123@trunk-pstn;user=phone", "+442079460123"},
    {"GB", "tel:+44-20-7946-0123", "+442079460123"},
    {"GB", " 020 7946 0123 ", "+442079460123"},
    // A 10-digit NANP number dialled without its country code is, in GB,
    // a (non-existent) GB number: consistently so, for customers too.
    {"GB", "2125550143", "+442125550143"},
    // -- US ---------------------------------------------------------------
    {"US", "(212) 555-0143", "+12125550143"},
    {"US", "212-555-0143", "+12125550143"},
    {"US", "212.555.0143", "+12125550143"},
    {"US", "1-212-555-0143", "+12125550143"},
    {"US", "+1 212 555 0143", "+12125550143"},
    {"US", "2125550143", "+12125550143"},
    {"US", "011 44 20 7946 0123", "+442079460123"},
    {"US", "+1 (555) 010-0199", "+15550100199"},
    {"US", "15550100160", "+15550100160"},
    // -- IN ---------------------------------------------------------------
    {"IN", "+91 98765 43210", "+919876543210"},
    {"IN", "098765 43210", "+919876543210"},
    {"IN", "9876543210", "+919876543210"},
    {"IN", "919876543210", "+919876543210"},
    {"IN", "022 2345 6789", "+912223456789"},
    {"IN", "+91 22 2345 6789", "+912223456789"},
    {"IN", "0044 20 7946 0123", "+442079460123"},
    // -- never a customer's number ----------------------------------------
    {"GB", "anonymous", ""},
    {"GB", "Anonymous", ""},
    {"GB", "ANONYMOUS", ""},
    {"GB", "unknown", ""},
    {"GB", "<unknown>", ""},
    {"GB", "withheld", ""},
    {"GB", "restricted", ""},
    {"GB", "Unavailable", ""},
    {"GB", "", ""},
    {"GB", "   ", ""},
    {"GB", "1001", ""},
    {"GB", "600", ""},
    {"GB", "800", ""},
    {"GB", "999", ""},
    {"US", "911", ""},
    {"IN", "112", ""},
    {"GB", "12345", ""},
    {"GB", "123456", ""},
    {"GB", "abc123", ""},
    {"GB", "0800-FLOWERS", ""},
    {"GB", "++44 20 7946 0123", ""},
    {"GB", "20+7946 0123", ""},
    {"GB", "4420794600001234567890", ""},
    {"US", "555-0100", ""},
    {"GB", "sip:anonymous@anonymous.invalid", ""},
};

} // namespace

TEST_CASE("phone numbers normalize to E.164 across formats and regions") {
  size_t numbers = 0;
  for (const auto& row : table) {
    normalizer n{row.region};
    INFO(row.region << " '" << row.raw << "'");
    CHECK(n.to_e164(row.raw) == row.e164);
    if (*row.e164 != '\0')
      ++numbers;
  }
  CHECK(numbers >= 30);
  CHECK(table.size() >= 60);
}

TEST_CASE("the three spellings of one GB number are one key") {
  normalizer gb{"gb"}; // region codes are case-insensitive
  CHECK(gb.default_region() == "GB");
  auto key = gb.to_e164("+44 20 7946 0123");
  CHECK(key == "+442079460123");
  CHECK(gb.to_e164("0044 20 7946 0123") == key);
  CHECK(gb.to_e164("020 7946 0123") == key);
  CHECK(gb.to_e164("2079460123") == key);
}

TEST_CASE("the normalizer is safe to share between threads") {
  const normalizer gb{"GB"};
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i)
        if (gb.to_e164("020 7946 0123") != "+442079460123"
            || !gb.to_e164("anonymous").empty())
          ++mismatches[t];
    });
  for (auto& th : threads)
    th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}
